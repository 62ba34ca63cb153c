using Lamda.Graphs;
using Lamda.Latency;

namespace Lamda.Operators;

/// <summary>Arity, required attributes and weight slots of an operator, as the LamdaText reader checks them.</summary>
public sealed record OperatorSignature(int MinInputs, int MaxInputs, string[] RequiredAttributes, int[] WeightSlots)
{
    /// <summary>Shorthand for the rule files: <c>Of(2, 3, weights: [1, 2])</c>.</summary>
    public static OperatorSignature Of(int min, int max, string[]? attributes = null, int[]? weights = null) =>
        new(min, max, attributes ?? [], weights ?? []);
}

/// <summary>
/// The slot for an operator's gradient rule (backward pass for fine-tuning). Deliberately empty: the training
/// code defines its members and lets the rules of the operators it supports implement it.
/// </summary>
public interface IGradientRule;

/// <summary>
/// Everything Lamda knows about one family of ONNX operators, in one place: its signature, shape inference,
/// how its channels couple (for <see cref="ChannelAnalysis"/>), how to slice its weights when channels are
/// removed (for <see cref="ChannelPruner"/>), its kernel class for the latency predictor, the axis of its
/// filters that importance is measured on, whether reconstruction can refit it, and later its gradient.
/// The defaults describe an operator Lamda does not understand: unknown output types, channels fixed,
/// per-channel constants sliced with the channels; its kernel class is given with its names.
/// </summary>
internal class OperatorRule(string kernelClass, params string[] ops)
{
    /// <summary>The rule for operators no family claims.</summary>
    public static readonly OperatorRule Opaque = new(KernelClass.Elementwise);

    /// <summary>Operator names (default ONNX domain) this rule describes.</summary>
    public IReadOnlyList<string> Ops { get; } = ops;

    /// <summary>What the text reader checks, or null when it checks nothing beyond the operator's name.</summary>
    public virtual OperatorSignature? SignatureOf(string op) => null;

    /// <summary>Output types (fewer than the node's outputs leaves the rest unknown); may set <see cref="ShapeContext.Value"/>.</summary>
    public virtual TensorType[] InferTypes(ShapeContext c) => [];

    /// <summary>Sets the channel layouts of the node's outputs; false when the channels cannot be followed (they are fixed).</summary>
    public virtual bool MapChannels(ChannelAnalysis a, Node n) => false;

    /// <summary>Rewrites the node's weights and shape constants for the channels kept around it.</summary>
    public virtual void SliceWeights(ChannelSurgery s) => s.SlicePerChannelConstants();

    /// <summary>The kernel class the latency predictor models this node with (<see cref="KernelClass"/>).</summary>
    public virtual string KernelClassOf(Node n, WeightStore weights) => kernelClass;

    /// <summary>Axis of weight slot 1 that indexes the output channels whose L1 norms rank them.</summary>
    public virtual int ImportanceAxis(Node n) => 1;

    /// <summary>True when <see cref="Adaptation.Reconstruction"/> can refit the node's weights by least squares.</summary>
    public virtual bool CanRefit(Node n) => false;

    /// <summary>The backward pass for fine-tuning; null until the training code provides one.</summary>
    public virtual IGradientRule? Gradient => null;
}

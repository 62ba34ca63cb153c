using Lamda.Graphs;
using Lamda.Latency;
using Lamda.Training;
using Onnx;

namespace Lamda.Operators;

/// <summary>Arity, required attributes and weight slots of an operator, as the LamdaText reader checks them.</summary>
internal sealed record OperatorSignature(int MinInputs, int MaxInputs, string[] RequiredAttributes, int[] WeightSlots)
{
    /// <summary>Shorthand for the rule files: <c>Of(2, 3, weights: [1, 2])</c>.</summary>
    public static OperatorSignature Of(int min, int max, string[]? attributes = null, int[]? weights = null) =>
        new(min, max, attributes ?? [], weights ?? []);
}

/// <summary>
/// How the loss gradient passes backwards through some operators of a family, written with standard ONNX operators
/// (as ONNX Runtime's training build does in its gradient builders) so that the backward pass runs in an ordinary ORT
/// session. The rules live in Training/Gradients/ beside the emitter they use; a family's <see cref="OperatorRule"/>
/// lists them in <see cref="OperatorRule.Gradients"/>.
/// </summary>
internal interface IGradientRule
{
    /// <summary>The operator types this rule differentiates (all of them operators of the family that lists it).</summary>
    IReadOnlyList<string> Ops { get; }

    /// <summary>Whether a gradient flows through input <paramref name="slot"/> (not through shapes, indices, limits).</summary>
    bool IsDifferentiable(NodeProto node, int slot) => slot == 0;

    /// <summary>Inputs whose values the rule reads while building (Slice bounds, Resize scales).</summary>
    IEnumerable<int> ValueSlots(NodeProto node) => [];

    /// <summary>Appends the nodes that turn the node's output gradient into the gradients of its inputs.</summary>
    void Backward(NodeGradient g);
}

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

    /// <summary>
    /// The kernel class the latency predictor models this node with (<see cref="KernelClass"/>); the inferred types
    /// (batch one) tell the finer classes apart, such as a MatMul of two activations.
    /// </summary>
    public virtual string KernelClassOf(Node n, WeightStore weights, InferenceResult inference) => kernelClass;

    /// <summary>True when the node's first two operands are both activations (edges), not weights.</summary>
    protected static bool TwoActivations(Node n) => n.Inputs.Count >= 2 && n.Inputs[0] is EdgeOperand && n.Inputs[1] is EdgeOperand;

    /// <summary>Axis of weight slot 1 that indexes the output channels whose L1 norms rank them.</summary>
    public virtual int ImportanceAxis(Node n) => 1;

    /// <summary>True when <see cref="Adaptation.Reconstruction"/> can refit the node's weights by least squares.</summary>
    public virtual bool CanRefit(Node n) => false;

    /// <summary>The backward passes of this family's operators for fine-tuning; operators none names stop training.</summary>
    public virtual IReadOnlyList<IGradientRule> Gradients => [];

    /// <summary>The backward pass of <paramref name="op"/> (one of <see cref="Ops"/>), or null when it has none.</summary>
    public IGradientRule? GradientOf(string op) => Gradients.FirstOrDefault(g => g.Ops.Contains(op));
}

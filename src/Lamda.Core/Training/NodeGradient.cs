using Lamda.Graphs;
using Onnx;

namespace Lamda.Training;

/// <summary>
/// What a gradient rule sees of one forward node: its inputs and outputs with their concrete shapes, the gradients
/// arriving at its outputs, and where to put the gradients of its inputs.
/// </summary>
internal sealed class NodeGradient
{
    readonly ForwardFacts facts;
    readonly Func<string, string?> gradientOf;
    readonly Func<int, bool> needs;

    internal NodeGradient(NodeProto node, GradientEmitter emit, ForwardFacts facts, Func<string, string?> gradientOf, Func<int, bool> needs)
    {
        Node = node;
        Emit = emit;
        this.facts = facts;
        this.gradientOf = gradientOf;
        this.needs = needs;
    }

    public NodeProto Node { get; }
    public GradientEmitter Emit { get; }
    internal Dictionary<int, string> InputGradients { get; } = [];

    public string Describe => $"node {Node.Name} ({Node.OpType})";

    public int InputCount => Node.Input.Count;
    public string Input(int slot) => Node.Input[slot];
    public bool HasInput(int slot) => slot < Node.Input.Count && Node.Input[slot].Length > 0;
    public string Output(int index = 0) => Node.Output[index];
    public long[] InputShape(int slot) => facts.ShapeOf(Node.Input[slot]);
    public long[] OutputShape(int index = 0) => facts.ShapeOf(Node.Output[index]);

    /// <summary>Values of a constant or shape-derived input (Slice bounds, Resize scales, Clip limits), or null when absent.</summary>
    public TensorLiteral? InputValue(int slot) => HasInput(slot) ? facts.ValueOf(Node.Input[slot]) : null;

    /// <summary>The gradient of the loss with respect to output <paramref name="index"/>, or null when none reaches it.</summary>
    public string? OutputGrad(int index = 0) => index < Node.Output.Count ? gradientOf(Node.Output[index]) : null;

    public string OutputGradOrZeros(int index) => OutputGrad(index) ?? Emit.Zeros(OutputShape(index));

    /// <summary>
    /// Whether the loss depends on input <paramref name="slot"/> through trainable weights (skip its gradient
    /// otherwise).
    /// </summary>
    public bool NeedsGrad(int slot) => HasInput(slot) && needs(slot);

    public void SetInputGrad(int slot, string gradient)
    {
        if (NeedsGrad(slot)) InputGradients[slot] = gradient;
    }

    public long Int(string name, long fallback) => Find(name) is { Type: AttributeProto.Types.AttributeType.Int } a ? a.I : fallback;
    public float Float(string name, float fallback) => Find(name) is { Type: AttributeProto.Types.AttributeType.Float } a ? a.F : fallback;
    public long[]? Ints(string name) => Find(name) is { Type: AttributeProto.Types.AttributeType.Ints } a ? a.Ints.ToArray() : null;
    public string? String(string name) => Find(name) is { Type: AttributeProto.Types.AttributeType.String } a ? a.S.ToStringUtf8() : null;

    AttributeProto? Find(string name) => Node.Attribute.FirstOrDefault(a => a.Name == name);

    /// <summary>A coded error for a node whose configuration this rule does not differentiate.</summary>
    public LamdaException Unsupported(string what) =>
        new(ErrorCodes.NoGradient, $"{Describe}: no gradient for {what}. Fine-tuning cannot train this model; adapt it without training.");
}

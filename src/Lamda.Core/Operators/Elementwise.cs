using Lamda.Graphs;
using Lamda.Latency;
using Lamda.Training.Gradients;
using static Lamda.Operators.ShapeMath;

namespace Lamda.Operators;

/// <summary>
/// Channel rule of the elementwise operators: every full-channel edge input must carry the same channels
/// (they are united), and per-channel constants are sliced with them (the default of <see cref="OperatorRule.SliceWeights"/>).
/// </summary>
static class Elementwise
{
    public static bool MapChannels(ChannelAnalysis a, Node n)
    {
        var outType = a.Inference.TypeOf(n.Output);
        if (outType.Channels is not { } c || outType.Rank < 2) return false;
        ChannelLayout? first = null;
        foreach (var op in n.Inputs)
        {
            var t = a.TypeOf(op);
            if (op is EmptyOperand) continue;
            if (t.Dims == null) return false;
            // Align right, as broadcasting does; the channel axis of this input (if it has one).
            int axis = t.Rank - (outType.Rank - 1);
            long size = axis >= 0 && axis < t.Rank && t.Dims[axis].IsKnown ? t.Dims[axis].Value : 1;
            if (size == 1) continue;
            if (size != c) return false;
            if (op is not EdgeOperand) continue; // per-channel constants are sliced with the channels
            var l = a.LayoutOf(op);
            if (l == null || t.Rank != outType.Rank) return false;
            if (first == null) first = l;
            else if (!a.Unify(first, l)) return false;
        }
        if (first == null) return false;
        a.PassToOutputs(n, first);
        return true;
    }
}

/// <summary>Operators that map each input element to one output element of the same shape (activations and the like).</summary>
internal sealed class UnaryRule()
    : OperatorRule(KernelClass.Elementwise, "Relu", "LeakyRelu", "Clip", "Sigmoid", "HardSigmoid", "HardSwish",
    "Tanh", "Exp", "Log", "Sqrt", "Neg", "Abs", "Erf", "Softmax", "LogSoftmax", "Elu", "Selu", "Celu", "Gelu", "Mish", "Softplus",
    "Softsign", "Floor", "Ceil", "Round", "Reciprocal", "Sign", "Sin", "Cos", "Tan", "Not", "ThresholdedRelu", "Hardmax", "Shrink",
    "IsNaN", "IsInf", "Swish", "CumSum", "PRelu")
{
    static readonly HashSet<string> Checked = ["Relu", "Sigmoid", "HardSigmoid", "HardSwish", "LeakyRelu", "Tanh", "Softmax"];

    public override OperatorSignature? SignatureOf(string op) => op switch
    {
        "Clip" => OperatorSignature.Of(1, 3),
        "PRelu" => OperatorSignature.Of(2, 2, weights: [1]), // the slope, per channel: [C, 1, 1] for images
        _ when Checked.Contains(op) => OperatorSignature.Of(1, 1),
        _ => null,
    };

    public override TensorType[] InferTypes(ShapeContext c) => [c.X];

    public override bool MapChannels(ChannelAnalysis a, Node n) => Elementwise.MapChannels(a, n);

    /// <summary>Softmax reduces along an axis as well as mapping elements: it has a class of its own.</summary>
    public override string KernelClassOf(Node n, WeightStore weights, InferenceResult inference) =>
        n.Op == "Softmax" ? KernelClass.Softmax : KernelClass.Elementwise;

    /// <inheritdoc/>
    public override IReadOnlyList<IGradientRule> Gradients { get; } =
    [
        new ReluGradient(), new LeakyReluGradient(), new ClipGradient(), new SigmoidGradient(), new HardSigmoidGradient(),
        new HardSwishGradient(), new TanhGradient(), new LogGradient(), new SoftplusGradient(), new SqrtGradient(), new SoftmaxGradient(),
    ];
}

/// <summary>Operators that broadcast their inputs numpy-style; integer Add/Sub/Mul/Div is evaluated (shape arithmetic).</summary>
internal sealed class BroadcastRule()
    : OperatorRule(KernelClass.Elementwise, "Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "Sum", "Mean",
    "Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual", "And", "Or", "Xor", "Where", "Mod", "BitShift", "BitwiseAnd", "BitwiseOr",
    "BitwiseXor")
{
    public override OperatorSignature? SignatureOf(string op) => op switch
    {
        "Add" or "Sub" or "Mul" or "Div" or "Pow" => OperatorSignature.Of(2, 2),
        "Where" => OperatorSignature.Of(3, 3),
        _ => null,
    };

    public override TensorType[] InferTypes(ShapeContext c)
    {
        var n = c.Node;
        var types = Enumerable.Range(0, c.Count).Select(c.Type).ToArray();
        Dim[]? outDims = types[0].Dims;
        foreach (var t in types.Skip(1)) outDims = outDims == null || t.Dims == null ? null : Broadcast(outDims, t.Dims);
        int et = n.Op is "Equal" or "Less" or "Greater" or "LessOrEqual" or "GreaterOrEqual" or "And" or "Or" or "Xor"
            ? DataTypes.Bool : (n.Op == "Where" ? c.Type(1).ElemType : types[0].ElemType);
        if (n.Op is "Add" or "Sub" or "Mul" or "Div" && c.Val(0) is { } a && c.Val(1) is { } b && DataTypes.IsInteger(a.DataType))
            c.Value = IntArithmetic(n.Op, a, b, outDims);
        return [new TensorType(et, outDims)];
    }

    /// <summary>
    /// A Mul of an activation by a per-channel one ([N, C, 1, 1], the gate of a squeeze-excite block) is a scale,
    /// which costs differently per element from a Mul of two full tensors.
    /// </summary>
    public override string KernelClassOf(Node n, WeightStore weights, InferenceResult inference)
    {
        bool PerChannel(Operand o) => o is EdgeOperand e && inference.TypeOf(e.Key).Dims is { Length: 4 } d
            && d[2] is { IsKnown: true, Value: 1 } && d[3] is { IsKnown: true, Value: 1 };
        return n.Op == "Mul" && TwoActivations(n) && n.Inputs.Count(PerChannel) == 1 ? KernelClass.Scale : KernelClass.Elementwise;
    }

    static TensorLiteral? IntArithmetic(string op, TensorLiteral a, TensorLiteral b, Dim[]? outDims)
    {
        if (outDims == null || outDims.Any(d => !d.IsKnown)) return null;
        var av = a.AsInt64(); var bv = b.AsInt64();
        long count = outDims.Aggregate(1L, (p, d) => p * d.Value);
        if (count > MaxFoldedElements || (av.Length != count && av.Length != 1) || (bv.Length != count && bv.Length != 1)) return null;
        var r = new long[count];
        for (int i = 0; i < count; i++)
        {
            long x = av[av.Length == 1 ? 0 : i], y = bv[bv.Length == 1 ? 0 : i];
            r[i] = op switch { "Add" => x + y, "Sub" => x - y, "Mul" => x * y, _ => y == 0 ? throw new DivideByZeroException() : x / y };
        }
        return new TensorLiteral(a.DataType, outDims.Select(d => d.Value).ToArray(), r, null);
    }

    public override bool MapChannels(ChannelAnalysis a, Node n) => Elementwise.MapChannels(a, n);

    /// <inheritdoc/>
    public override IReadOnlyList<IGradientRule> Gradients { get; } = [new ArithmeticGradient(), new PowGradient()];
}

/// <summary>Identity: passes its input, value included; the runtime removes it.</summary>
internal sealed class IdentityRule() : OperatorRule(KernelClass.Free, "Identity")
{
    public override OperatorSignature SignatureOf(string op) => OperatorSignature.Of(1, 1);

    public override TensorType[] InferTypes(ShapeContext c)
    {
        c.Value = c.Val(0);
        return [c.X];
    }

    public override bool MapChannels(ChannelAnalysis a, Node n) => Elementwise.MapChannels(a, n);

    /// <inheritdoc/>
    public override IReadOnlyList<IGradientRule> Gradients { get; } = [new ReshapeGradient("Identity")];
}

/// <summary>Dropout: the identity at inference, with an optional mask output.</summary>
internal sealed class DropoutRule() : OperatorRule(KernelClass.Free, "Dropout")
{
    public override OperatorSignature SignatureOf(string op) => OperatorSignature.Of(1, 3);

    public override TensorType[] InferTypes(ShapeContext c) => [c.X, new TensorType(DataTypes.Bool, c.X.Dims)];

    public override bool MapChannels(ChannelAnalysis a, Node n) => Elementwise.MapChannels(a, n);

    /// <inheritdoc/>
    public override IReadOnlyList<IGradientRule> Gradients { get; } = [new ReshapeGradient("Dropout")];
}

using Onnx;

namespace Lamda.Training.Gradients;

/// <summary>The gradient rules Lamda knows, looked up by operator type (default ONNX domain only).</summary>
public static class GradientRules
{
    static readonly IGradientRule[] All =
    [
        new ConvGradient(), new ConvTransposeGradient(), new GemmGradient(), new MatMulGradient(),
        new ArithmeticGradient(), new ReluGradient(), new LeakyReluGradient(), new ClipGradient(), new SigmoidGradient(),
        new HardSigmoidGradient(), new HardSwishGradient(), new TanhGradient(), new LogGradient(),
        new PowGradient(), new SqrtGradient(),
        new MaxPoolGradient(), new AveragePoolGradient(), new GlobalAveragePoolGradient(), new BatchNormGradient(),
        new ConcatGradient(), new SplitGradient(), new SliceGradient(), new PadGradient(), new ReshapeGradient(),
        new TransposeGradient(), new ResizeGradient(), new SoftmaxGradient(), new ReduceGradient(),
    ];

    static readonly Dictionary<string, IGradientRule> ByOp = All.SelectMany(r => r.Ops.Select(op => (op, r)))
        .ToDictionary(p => p.op, p => p.r, StringComparer.Ordinal);

    /// <summary>
    /// Operators whose outputs do not depend smoothly on their inputs (shapes, comparisons, indices): gradients stop
    /// there.
    /// </summary>
    static readonly HashSet<string> Stops = new(StringComparer.Ordinal)
    {
        "Shape", "Size", "Equal", "Greater", "GreaterOrEqual", "Less", "LessOrEqual", "ArgMax", "ArgMin", "NonZero",
        "Floor", "Ceil", "Round", "Sign", "IsNaN", "IsInf", "ConstantOfShape", "EyeLike", "RandomNormalLike", "RandomUniformLike",
    };

    public static IReadOnlyCollection<string> Operators => ByOp.Keys;

    public static bool StopsGradient(NodeProto node) => node.Domain is "" or "ai.onnx" && Stops.Contains(node.OpType);

    public static IGradientRule? For(NodeProto node) =>
        node.Domain is "" or "ai.onnx" && ByOp.TryGetValue(node.OpType, out var rule) ? rule : null;
}

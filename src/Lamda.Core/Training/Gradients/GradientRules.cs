using Lamda.Operators;
using Onnx;

namespace Lamda.Training.Gradients;

/// <summary>
/// The gradient rules Lamda knows, looked up by operator type (default ONNX domain only) in the operator registry: each
/// family's rule lists its operators' gradients (<see cref="OperatorRule.Gradients"/>).
/// </summary>
internal static class GradientRules
{
    /// <summary>
    /// Operators whose outputs do not depend smoothly on their inputs (shapes, comparisons, indices): gradients stop
    /// there.
    /// </summary>
    static readonly HashSet<string> Stops = new(StringComparer.Ordinal)
    {
        "Shape", "Size", "Equal", "Greater", "GreaterOrEqual", "Less", "LessOrEqual", "ArgMax", "ArgMin", "NonZero",
        "Floor", "Ceil", "Round", "Sign", "IsNaN", "IsInf", "ConstantOfShape", "EyeLike", "RandomNormalLike", "RandomUniformLike",
    };

    /// <summary>Every operator that has a gradient rule.</summary>
    public static IReadOnlyCollection<string> Operators { get; } =
        OperatorRegistry.Operators.Where(op => OperatorRegistry.Get(op).GradientOf(op) != null).ToArray();

    public static bool StopsGradient(NodeProto node) => node.Domain is "" or "ai.onnx" && Stops.Contains(node.OpType);

    public static IGradientRule? For(NodeProto node) =>
        node.Domain is "" or "ai.onnx" ? OperatorRegistry.Get(node.OpType).GradientOf(node.OpType) : null;
}

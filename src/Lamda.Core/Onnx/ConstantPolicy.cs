using Lamda.Graphs;
using Onnx;

namespace Lamda.Onnx;

/// <summary>
/// Decides which constant tensors LamdaText writes inline. Shape-like tensors (Reshape shapes, Slice
/// bounds, Clip limits) are architecture, so the generator must see and edit them; learned weights are
/// referenced by name so the text stays compact.
/// </summary>
internal static class ConstantPolicy
{
    public const int MaxInlineIntegers = 64;
    public const int MaxInlineReals = 8;

    public static bool ShouldInline(TensorProto t, bool weightSlot)
    {
        if (weightSlot || !TensorLiteral.IsSupported(t.DataType)) return false;
        long count = t.Dims.Aggregate(1L, (a, d) => a * d);
        return DataTypes.IsInteger(t.DataType) ? count <= MaxInlineIntegers : count <= MaxInlineReals;
    }
}

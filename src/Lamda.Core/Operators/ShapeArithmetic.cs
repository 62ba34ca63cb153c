using Lamda.Graphs;
using Lamda.Latency;
using static Lamda.Operators.ShapeMath;

namespace Lamda.Operators;

/// <summary>Constant: its value is known, and integer values take part in shape arithmetic.</summary>
internal sealed class ConstantRule() : OperatorRule(KernelClass.Free, "Constant")
{
    public override OperatorSignature SignatureOf(string op) => OperatorSignature.Of(0, 0);

    public override TensorType[] InferTypes(ShapeContext c)
    {
        var n = c.Node;
        var v = n.Attribute("value");
        if (v?.Kind == AttributeKind.Tensor)
        {
            c.Value = v.Tensor!.Ints != null ? v.Tensor : null;
            return [new TensorType(v.Tensor!.DataType, v.Tensor.Dims.Select(d => new Dim(d)).ToArray())];
        }
        if (v?.Kind == AttributeKind.Reference && c.Stored(v.Reference) is { } stored) return [stored];
        if (n.Attribute("value_ints") is { } vi)
        {
            c.Value = TensorLiteral.Int64(vi.Ints);
            return [new(DataTypes.Int64, [vi.Ints.Length])];
        }
        if (n.Attribute("value_int") is { } v1) { c.Value = TensorLiteral.Int64([v1.Int], []); return [new(DataTypes.Int64, [])]; }
        if (n.Attribute("value_float") is not null) return [new(DataTypes.Float, [])];
        if (n.Attribute("value_floats") is { } vf) return [new(DataTypes.Float, [vf.Floats.Length])];
        return [];
    }
}

/// <summary>ConstantOfShape: a filled tensor, evaluated when small and integer.</summary>
internal sealed class ConstantOfShapeRule() : OperatorRule(KernelClass.Elementwise, "ConstantOfShape")
{
    public override TensorType[] InferTypes(ShapeContext c)
    {
        var shape = c.Ints(0);
        var value = c.Node.Attribute("value")?.Tensor;
        int et = value?.DataType ?? DataTypes.Float;
        long count = shape?.Aggregate(1L, (a, b) => a * b) ?? 0;
        if (shape != null && value?.Ints is { Length: 1 } fill && count <= MaxFoldedElements)
            c.Value = new TensorLiteral(et, shape, Enumerable.Repeat(fill[0], (int)count).ToArray(), null);
        return [new TensorType(et, shape?.Select(s => new Dim(s)).ToArray())];
    }
}

/// <summary>Shape: the input's dimensions (a range of them from opset 15), known when they are static.</summary>
internal sealed class ShapeOfRule() : OperatorRule(KernelClass.Free, "Shape")
{
    public override OperatorSignature SignatureOf(string op) => OperatorSignature.Of(1, 1);

    public override TensorType[] InferTypes(ShapeContext c)
    {
        var dims = c.X.Dims;
        if (dims == null) return [new TensorType(DataTypes.Int64, [Dim.Unknown])];
        int start = (int)c.Node.GetInt("start", 0), end = (int)c.Node.GetInt("end", dims.Length);
        start = Math.Clamp(start < 0 ? start + dims.Length : start, 0, dims.Length);
        end = Math.Clamp(end < 0 ? end + dims.Length : end, 0, dims.Length);
        var part = dims[start..Math.Max(start, end)];
        if (part.All(d => d.IsKnown)) c.Value = TensorLiteral.Int64(part.Select(d => d.Value).ToArray());
        return [new TensorType(DataTypes.Int64, [part.Length])];
    }
}

/// <summary>Size: the input's element count.</summary>
internal sealed class SizeRule() : OperatorRule(KernelClass.Free, "Size")
{
    public override TensorType[] InferTypes(ShapeContext c)
    {
        if (c.X.ElementCount is { } count) c.Value = TensorLiteral.Int64([count], []);
        return [new TensorType(DataTypes.Int64, [])];
    }
}

/// <summary>Gather: evaluated on integer vectors, where exporters pick single dimensions out of a Shape.</summary>
internal sealed class GatherRule() : OperatorRule(KernelClass.Copy, "Gather")
{
    public override OperatorSignature SignatureOf(string op) => OperatorSignature.Of(2, 2);

    public override TensorType[] InferTypes(ShapeContext c)
    {
        var x = c.X;
        var idx = c.Type(1);
        if (x.Dims == null || idx.Dims == null) return [Same(x, null)];
        int axis = Axis(c.Node.GetInt("axis", 0), x.Rank);
        var outDims = x.Dims[..axis].Concat(idx.Dims).Concat(x.Dims[(axis + 1)..]).ToArray();
        if (c.Val(0) is { Dims.Length: 1 } data && c.Ints(1) is { } ind)
        {
            var src = data.AsInt64();
            var values = ind.Select(i => src[i < 0 ? i + src.Length : i]).ToArray();
            c.Value = new TensorLiteral(data.DataType, idx.Dims.Select(d => d.Value).ToArray(), values, null);
        }
        return [Same(x, outDims)];
    }
}

/// <summary>Cast: the element type changes; integer values stay known.</summary>
internal sealed class CastRule() : OperatorRule(KernelClass.Copy, "Cast")
{
    public override OperatorSignature SignatureOf(string op) => OperatorSignature.Of(1, 1, ["to"]);

    public override TensorType[] InferTypes(ShapeContext c)
    {
        int to = (int)c.Node.GetInt("to", 0);
        if (c.Val(0) is { } v && DataTypes.IsInteger(to) && to != DataTypes.Bool)
            c.Value = new TensorLiteral(to, v.Dims, v.AsInt64(), null);
        return [new TensorType(to, c.X.Dims)];
    }

    /// <inheritdoc/>
    public override IReadOnlyList<IGradientRule> Gradients { get; } = [new Training.Gradients.ReshapeGradient("Cast")];
}

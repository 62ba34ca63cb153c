namespace Lamda.Graphs;

/// <summary>One dimension: a known size, a symbolic name (dim_param), or unknown.</summary>
public readonly record struct Dim(long Value, string? Param = null)
{
    /// <summary>A dimension of unknown size.</summary>
    public static readonly Dim Unknown = new(-1);
    /// <summary>True when the size is known.</summary>
    public bool IsKnown => Value >= 0;
    /// <summary>A known size.</summary>
    public static implicit operator Dim(long v) => new(v);
    /// <summary>The size, the symbolic name, or "?" when unknown, as LamdaText writes it.</summary>
    public override string ToString() => Param ?? (Value >= 0 ? Value.ToString(System.Globalization.CultureInfo.InvariantCulture) : "?");
}

/// <summary>Element type and shape of a tensor. <see cref="Dims"/> is null when the rank is unknown.</summary>
public sealed class TensorType : IEquatable<TensorType>
{
    /// <summary>A tensor of unknown element type and rank.</summary>
    public static readonly TensorType Unknown = new(DataTypes.Undefined, null);

    /// <summary>
    /// A type of element type <paramref name="elemType"/> (ONNX TensorProto.DataType) and shape <paramref name="dims"/> (null: rank
    /// unknown).
    /// </summary>
    public TensorType(int elemType, IReadOnlyList<Dim>? dims)
    {
        ElemType = elemType;
        Dims = dims?.ToArray();
    }

    /// <summary>The ONNX element type (TensorProto.DataType; 0 when unknown).</summary>
    public int ElemType { get; }
    /// <summary>The dimensions, or null when the rank is unknown.</summary>
    public Dim[]? Dims { get; }
    /// <summary>The rank, or -1 when unknown.</summary>
    public int Rank => Dims?.Length ?? -1;
    /// <summary>True when every dimension is a known size.</summary>
    public bool IsStatic => Dims != null && Dims.All(d => d.IsKnown);

    /// <summary>Channel count (dimension 1), or null when it is not known.</summary>
    public long? Channels => Dims is { Length: >= 2 } && Dims[1].IsKnown ? Dims[1].Value : null;

    /// <summary>The number of elements, when the shape is static.</summary>
    public long? ElementCount => IsStatic ? Dims!.Aggregate(1L, (a, d) => a * d.Value) : null;

    /// <summary>The same element type with other dimensions.</summary>
    public TensorType WithDims(IReadOnlyList<Dim>? dims) => new(ElemType, dims);

    /// <summary>True when the element types and every dimension are equal.</summary>
    public bool Equals(TensorType? other) =>
        other != null && ElemType == other.ElemType &&
        (Dims == null ? other.Dims == null : other.Dims != null && Dims.SequenceEqual(other.Dims));

    /// <summary>True when <paramref name="obj"/> is an equal <see cref="TensorType"/>.</summary>
    public override bool Equals(object? obj) => Equals(obj as TensorType);
    /// <summary>A hash of the element type and the rank (equal types hash alike).</summary>
    public override int GetHashCode() => HashCode.Combine(ElemType, Dims?.Length ?? -1);

    /// <summary>LamdaText form: <c>f32[1,3,224,224]</c>, <c>f32[batch,10]</c>, <c>f32[*]</c> (unknown rank).</summary>
    public override string ToString() =>
        DataTypes.Name(ElemType) + (Dims == null ? "[*]" : "[" + string.Join(",", Dims.Select(d => d.ToString())) + "]");
}

namespace Lamda.Graphs;

/// <summary>One dimension: a known size, a symbolic name (dim_param), or unknown.</summary>
public readonly record struct Dim(long Value, string? Param = null)
{
    public static readonly Dim Unknown = new(-1);
    public bool IsKnown => Value >= 0;
    public static implicit operator Dim(long v) => new(v);
    public override string ToString() => Param ?? (Value >= 0 ? Value.ToString(System.Globalization.CultureInfo.InvariantCulture) : "?");
}

/// <summary>Element type and shape of a tensor. <see cref="Dims"/> is null when the rank is unknown.</summary>
public sealed class TensorType : IEquatable<TensorType>
{
    public static readonly TensorType Unknown = new(DataTypes.Undefined, null);

    public TensorType(int elemType, IReadOnlyList<Dim>? dims)
    {
        ElemType = elemType;
        Dims = dims?.ToArray();
    }

    public int ElemType { get; }
    public Dim[]? Dims { get; }
    public int Rank => Dims?.Length ?? -1;
    public bool IsStatic => Dims != null && Dims.All(d => d.IsKnown);

    /// <summary>Channel count (dimension 1), or null when it is not known.</summary>
    public long? Channels => Dims is { Length: >= 2 } && Dims[1].IsKnown ? Dims[1].Value : null;

    public long? ElementCount => IsStatic ? Dims!.Aggregate(1L, (a, d) => a * d.Value) : null;

    public TensorType WithDims(IReadOnlyList<Dim>? dims) => new(ElemType, dims);

    public bool Equals(TensorType? other) =>
        other != null && ElemType == other.ElemType &&
        (Dims == null ? other.Dims == null : other.Dims != null && Dims.SequenceEqual(other.Dims));

    public override bool Equals(object? obj) => Equals(obj as TensorType);
    public override int GetHashCode() => HashCode.Combine(ElemType, Dims?.Length ?? -1);

    /// <summary>LamdaText form: <c>f32[1,3,224,224]</c>, <c>f32[batch,10]</c>, <c>f32[*]</c> (unknown rank).</summary>
    public override string ToString() =>
        DataTypes.Name(ElemType) + (Dims == null ? "[*]" : "[" + string.Join(",", Dims.Select(d => d.ToString())) + "]");
}

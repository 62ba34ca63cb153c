namespace Lamda.Graphs;

public enum AttributeKind { Int, Float, String, Ints, Floats, Strings, Tensor, Reference }

/// <summary>
/// An operator attribute. Scalars, lists and small tensors are carried by value; anything else
/// (large tensors, subgraphs, sparse tensors, type protos) is a <see cref="AttributeKind.Reference"/>
/// into the base model's <see cref="WeightStore"/>, so every model round-trips without inlining weights.
/// </summary>
public sealed class AttributeValue
{
    AttributeValue(AttributeKind kind) => Kind = kind;

    public AttributeKind Kind { get; }
    public long Int { get; private init; }
    public float Float { get; private init; }
    public string String { get; private init; } = "";
    public long[] Ints { get; private init; } = [];
    public float[] Floats { get; private init; } = [];
    public string[] Strings { get; private init; } = [];
    public TensorLiteral? Tensor { get; private init; }
    /// <summary>Key into the WeightStore for <see cref="AttributeKind.Reference"/>.</summary>
    public string Reference { get; private init; } = "";

    public static AttributeValue FromInt(long v) => new(AttributeKind.Int) { Int = v };
    public static AttributeValue FromFloat(float v) => new(AttributeKind.Float) { Float = v };
    public static AttributeValue FromString(string v) => new(AttributeKind.String) { String = v };
    public static AttributeValue FromInts(long[] v) => new(AttributeKind.Ints) { Ints = v };
    public static AttributeValue FromFloats(float[] v) => new(AttributeKind.Floats) { Floats = v };
    public static AttributeValue FromStrings(string[] v) => new(AttributeKind.Strings) { Strings = v };
    public static AttributeValue FromTensor(TensorLiteral v) => new(AttributeKind.Tensor) { Tensor = v };
    public static AttributeValue FromReference(string key) => new(AttributeKind.Reference) { Reference = key };
}

/// <summary>A named attribute on a node; order is preserved so text round-trips exactly.</summary>
public sealed record NodeAttribute(string Name, AttributeValue Value);

namespace Lamda.Graphs;

/// <summary>The kind of value an ONNX attribute holds; Reference means it is kept in the weight store, not in the graph.</summary>
public enum AttributeKind
{
    /// <summary>One integer.</summary>
    Int,
    /// <summary>One float.</summary>
    Float,
    /// <summary>One string.</summary>
    String,
    /// <summary>A list of integers.</summary>
    Ints,
    /// <summary>A list of floats.</summary>
    Floats,
    /// <summary>A list of strings.</summary>
    Strings,
    /// <summary>A small tensor, held as a literal.</summary>
    Tensor,
    /// <summary>A value kept in the weight store under a key (large tensors, subgraphs).</summary>
    Reference,
}

/// <summary>
/// An operator attribute. Scalars, lists and small tensors are carried by value; anything else
/// (large tensors, subgraphs, sparse tensors, type protos) is a <see cref="AttributeKind.Reference"/>
/// into the base model's <see cref="WeightStore"/>, so every model round-trips without inlining weights.
/// </summary>
public sealed class AttributeValue
{
    AttributeValue(AttributeKind kind) => Kind = kind;

    /// <summary>Which of the value properties holds the value.</summary>
    public AttributeKind Kind { get; }
    /// <summary>The value of an integer attribute.</summary>
    public long Int { get; private init; }
    /// <summary>The value of a float attribute.</summary>
    public float Float { get; private init; }
    /// <summary>The value of a string attribute.</summary>
    public string String { get; private init; } = "";
    /// <summary>The value of an integer list attribute (kernel shapes, strides, pads).</summary>
    public long[] Ints { get; private init; } = [];
    /// <summary>The value of a float list attribute.</summary>
    public float[] Floats { get; private init; } = [];
    /// <summary>The value of a string list attribute.</summary>
    public string[] Strings { get; private init; } = [];
    /// <summary>The value of a small tensor attribute (a Constant's value), held as a literal.</summary>
    public TensorLiteral? Tensor { get; private init; }
    /// <summary>Key into the WeightStore for <see cref="AttributeKind.Reference"/>.</summary>
    public string Reference { get; private init; } = "";

    /// <summary>An attribute holding an integer value.</summary>
    public static AttributeValue FromInt(long v) => new(AttributeKind.Int) { Int = v };
    /// <summary>An attribute holding a float value.</summary>
    public static AttributeValue FromFloat(float v) => new(AttributeKind.Float) { Float = v };
    /// <summary>An attribute holding a string value.</summary>
    public static AttributeValue FromString(string v) => new(AttributeKind.String) { String = v };
    /// <summary>An attribute holding an integer list value.</summary>
    public static AttributeValue FromInts(long[] v) => new(AttributeKind.Ints) { Ints = v };
    /// <summary>An attribute holding a float list value.</summary>
    public static AttributeValue FromFloats(float[] v) => new(AttributeKind.Floats) { Floats = v };
    /// <summary>An attribute holding a string list value.</summary>
    public static AttributeValue FromStrings(string[] v) => new(AttributeKind.Strings) { Strings = v };
    /// <summary>An attribute holding a tensor value.</summary>
    public static AttributeValue FromTensor(TensorLiteral v) => new(AttributeKind.Tensor) { Tensor = v };
    /// <summary>
    /// An attribute whose value stays in the <see cref="WeightStore"/> under <paramref name="key"/> (large tensors, subgraphs).
    /// </summary>
    public static AttributeValue FromReference(string key) => new(AttributeKind.Reference) { Reference = key };
}

/// <summary>A named attribute on a node; order is preserved so text round-trips exactly.</summary>
public sealed record NodeAttribute(string Name, AttributeValue Value);

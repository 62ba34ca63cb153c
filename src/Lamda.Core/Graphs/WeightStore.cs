using Onnx;

namespace Lamda.Graphs;

/// <summary>
/// The tensors (and opaque attributes) of a base model that a <see cref="Graph"/> refers to by name.
/// LamdaText never inlines weights: a generated architecture is turned back into ONNX by resolving its
/// references against the base model's store.
/// </summary>
public sealed class WeightStore
{
    readonly Dictionary<string, TensorProto> tensors = new(StringComparer.Ordinal);
    readonly Dictionary<string, AttributeProto> attributes = new(StringComparer.Ordinal);

    /// <summary>Every weight tensor by name.</summary>
    public IReadOnlyDictionary<string, TensorProto> Tensors => tensors;
    /// <summary>Attributes kept out of the graph (large tensors, subgraphs) by reference key.</summary>
    public IReadOnlyDictionary<string, AttributeProto> Attributes => attributes;

    /// <summary>Initializers that subgraph bodies (If/Loop/Scan) read by name; always exported.</summary>
    public HashSet<string> CapturedWeights { get; } = new(StringComparer.Ordinal);

    /// <summary>Model-local functions (custom operators defined in the model), copied to every export.</summary>
    public List<FunctionProto> Functions { get; } = [];

    /// <summary>Where the weights came from, for error messages.</summary>
    public string Source { get; init; } = "(in memory)";

    /// <summary>A store with the same tensors, attributes, captures and functions, that can be changed on its own.</summary>
    public WeightStore Copy()
    {
        var copy = new WeightStore { Source = Source };
        foreach (var (name, t) in tensors) copy.Add(name, t);
        foreach (var (key, a) in attributes) copy.AddAttribute(key, a);
        copy.CapturedWeights.UnionWith(CapturedWeights);
        copy.Functions.AddRange(Functions);
        return copy;
    }

    /// <summary>Adds or replaces the tensor named <paramref name="name"/>.</summary>
    public void Add(string name, TensorProto tensor) => tensors[name] = tensor;
    /// <summary>Adds or replaces the attribute kept under <paramref name="key"/>.</summary>
    public void AddAttribute(string key, AttributeProto attribute) => attributes[key] = attribute;
    /// <summary>Looks up the tensor named <paramref name="name"/>.</summary>
    public bool TryGet(string name, out TensorProto tensor) => tensors.TryGetValue(name, out tensor!);
    /// <summary>True when the store holds a tensor named <paramref name="name"/>.</summary>
    public bool Contains(string name) => tensors.ContainsKey(name);

    /// <summary>Shape of a stored tensor, or null when the name is unknown.</summary>
    public long[]? ShapeOf(string name) => tensors.TryGetValue(name, out var t) ? t.Dims.ToArray() : null;

    /// <summary>The stored tensor's values when it is a supported numeric type, else null.</summary>
    public TensorLiteral? ValueOf(string name) => tensors.TryGetValue(name, out var t) ? TensorLiteral.FromTensorProto(t) : null;

    /// <summary>Returns a name not yet used in this store, derived from <paramref name="stem"/>.</summary>
    public string UniqueName(string stem)
    {
        if (!tensors.ContainsKey(stem)) return stem;
        for (int i = 1; ; i++)
            if (!tensors.ContainsKey($"{stem}_{i}")) return $"{stem}_{i}";
    }
}

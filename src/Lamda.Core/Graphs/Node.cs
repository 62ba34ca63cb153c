namespace Lamda.Graphs;

/// <summary>
/// One operator application. A node has a single output edge id; operators with several outputs
/// (Split, MaxPool with indices) declare <see cref="OutputCount"/> and their extra outputs are
/// addressed as <c>%id.1</c>, <c>%id.2</c>.
/// </summary>
public sealed class Node
{
    public Node(string id, string op, string output)
    {
        Id = id;
        Op = op;
        Output = output;
    }

    public string Id { get; set; }
    public string Op { get; set; }
    /// <summary>Operator domain; empty for the default ONNX domain.</summary>
    public string Domain { get; set; } = "";
    public List<Operand> Inputs { get; } = [];
    public string Output { get; set; }
    public int OutputCount { get; set; } = 1;
    public List<NodeAttribute> Attributes { get; } = [];
    /// <summary>Channels of the first data input and of the output (dimension 1), when known.</summary>
    public long? InChannels { get; set; }
    public long? OutChannels { get; set; }

    public IEnumerable<EdgeOperand> EdgeInputs => Inputs.OfType<EdgeOperand>();

    public string OutputKey(int index) => index == 0 ? Output : Output + "." + index;

    public AttributeValue? Attribute(string name) => Attributes.FirstOrDefault(a => a.Name == name)?.Value;

    public long GetInt(string name, long fallback) => Attribute(name) is { Kind: AttributeKind.Int } a ? a.Int : fallback;
    public float GetFloat(string name, float fallback) => Attribute(name) is { Kind: AttributeKind.Float } a ? a.Float : fallback;
    public long[]? GetInts(string name) => Attribute(name) is { Kind: AttributeKind.Ints } a ? a.Ints : null;
    public string? GetString(string name) => Attribute(name) is { Kind: AttributeKind.String } a ? a.String : null;

    public void SetAttribute(string name, AttributeValue value)
    {
        int i = Attributes.FindIndex(a => a.Name == name);
        if (i >= 0) Attributes[i] = new NodeAttribute(name, value);
        else Attributes.Add(new NodeAttribute(name, value));
    }

    public override string ToString() => $"{Id} {Op} -> %{Output}";
}

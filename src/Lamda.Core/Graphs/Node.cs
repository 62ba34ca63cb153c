namespace Lamda.Graphs;

/// <summary>
/// One operator application. A node has a single output edge id; operators with several outputs
/// (Split, MaxPool with indices) declare <see cref="OutputCount"/> and their extra outputs are
/// addressed as <c>%id.1</c>, <c>%id.2</c>.
/// </summary>
public sealed class Node
{
    /// <summary>
    /// A node with id <paramref name="id"/>, operator <paramref name="op"/> and first output edge <paramref name="output"/>.
    /// </summary>
    public Node(string id, string op, string output)
    {
        Id = id;
        Op = op;
        Output = output;
    }

    /// <summary>The node's stable id (n0, n1, ... in LamdaText).</summary>
    public string Id { get; set; }
    /// <summary>The ONNX operator type (Conv, Relu...).</summary>
    public string Op { get; set; }
    /// <summary>Operator domain; empty for the default ONNX domain.</summary>
    public string Domain { get; set; } = "";
    /// <summary>The inputs in ONNX order: edges, weights, literals, or empty slots.</summary>
    public List<Operand> Inputs { get; } = [];
    /// <summary>The edge of the first output; the others are keyed by <see cref="OutputKey"/>.</summary>
    public string Output { get; set; }
    /// <summary>How many outputs the node has.</summary>
    public int OutputCount { get; set; } = 1;
    /// <summary>The node's attributes, in the order they are written.</summary>
    public List<NodeAttribute> Attributes { get; } = [];
    /// <summary>Channels of the first data input and of the output (dimension 1), when known.</summary>
    public long? InChannels { get; set; }
    /// <summary>Output channels, when shape inference has annotated the node.</summary>
    public long? OutChannels { get; set; }

    /// <summary>The inputs that are edges (activations), skipping weights and literals.</summary>
    public IEnumerable<EdgeOperand> EdgeInputs => Inputs.OfType<EdgeOperand>();

    /// <summary>The edge key of output <paramref name="index"/>.</summary>
    public string OutputKey(int index) => index == 0 ? Output : Output + "." + index;

    /// <summary>The value of attribute <paramref name="name"/>, or null when the node does not have it.</summary>
    public AttributeValue? Attribute(string name) => Attributes.FirstOrDefault(a => a.Name == name)?.Value;

    /// <summary>Integer attribute <paramref name="name"/>, or <paramref name="fallback"/> (its ONNX default) when absent.</summary>
    public long GetInt(string name, long fallback) => Attribute(name) is { Kind: AttributeKind.Int } a ? a.Int : fallback;
    /// <summary>Float attribute <paramref name="name"/>, or <paramref name="fallback"/> (its ONNX default) when absent.</summary>
    public float GetFloat(string name, float fallback) => Attribute(name) is { Kind: AttributeKind.Float } a ? a.Float : fallback;
    /// <summary>Integer list attribute <paramref name="name"/>, or null when absent.</summary>
    public long[]? GetInts(string name) => Attribute(name) is { Kind: AttributeKind.Ints } a ? a.Ints : null;
    /// <summary>String attribute <paramref name="name"/>, or null when absent.</summary>
    public string? GetString(string name) => Attribute(name) is { Kind: AttributeKind.String } a ? a.String : null;

    /// <summary>Sets attribute <paramref name="name"/>, replacing its value in place or adding it at the end.</summary>
    public void SetAttribute(string name, AttributeValue value)
    {
        int i = Attributes.FindIndex(a => a.Name == name);
        if (i >= 0) Attributes[i] = new NodeAttribute(name, value);
        else Attributes.Add(new NodeAttribute(name, value));
    }

    /// <summary>A copy with its own input and attribute lists (operands and attribute values are immutable and shared).</summary>
    public Node Copy()
    {
        var c = new Node(Id, Op, Output) { Domain = Domain, OutputCount = OutputCount, InChannels = InChannels, OutChannels = OutChannels };
        c.Inputs.AddRange(Inputs);
        c.Attributes.AddRange(Attributes);
        return c;
    }

    /// <summary>The node as a log line: id, operator and output edge.</summary>
    public override string ToString() => $"{Id} {Op} -> %{Output}";
}

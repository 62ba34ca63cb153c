namespace Lamda.Graphs;

/// <summary>An operator set import: domain ("" for ai.onnx) and version.</summary>
public sealed record OpsetId(string Domain, long Version);

/// <summary>A graph input or output: the edge it binds, its ONNX name and its type.</summary>
public sealed record GraphValue(string Edge, string Name, TensorType Type)
{
    /// <summary>For outputs: which output of the producing node (0 for graph inputs).</summary>
    public int Index { get; init; }
    /// <summary>The edge key consumers use: the edge for output 0, the edge and the index for a node's other outputs.</summary>
    public string Key => Index == 0 ? Edge : Edge + "." + Index;
}

/// <summary>
/// A neural network as Lamda sees it: graph inputs and outputs, nodes in topological order, and
/// edges identified by stable ids. Weights are not held here: operands name them in a
/// <see cref="WeightStore"/>, usually the base model's.
/// </summary>
public sealed class Graph
{
    /// <summary>The ONNX IR version the model is written with.</summary>
    public long IrVersion { get; set; } = 8;
    /// <summary>The operator sets the model imports (the default domain and any other).</summary>
    public List<OpsetId> Opsets { get; } = [];
    /// <summary>The graph inputs fed at run time (weights are not inputs).</summary>
    public List<GraphValue> Inputs { get; } = [];
    /// <summary>The graph outputs, in the base model's order.</summary>
    public List<GraphValue> Outputs { get; } = [];
    /// <summary>The nodes in topological order.</summary>
    public List<Node> Nodes { get; } = [];

    /// <summary>
    /// Edges that subgraph bodies (If/Loop/Scan) read from this graph by ONNX name. Text: <c>capture %5 "name"</c>.
    /// The exporter gives these edges their names back and the normalizer keeps them alive.
    /// </summary>
    public List<GraphValue> Captures { get; } = [];

    /// <summary>Original ONNX tensor names of edges (by key), kept only to export readable names.</summary>
    public Dictionary<string, string> EdgeNames { get; } = [];

    /// <summary>Version of the default ONNX domain.</summary>
    public long Opset => Opsets.FirstOrDefault(o => o.Domain is "" or "ai.onnx")?.Version ?? 0;

    /// <summary>Maps each node output edge id to its node.</summary>
    public Dictionary<string, Node> Producers() => Nodes.ToDictionary(n => n.Output);

    /// <summary>Maps each edge key ("5", "5.1") to the nodes that read it, in node order.</summary>
    public Dictionary<string, List<Node>> Consumers()
    {
        var map = new Dictionary<string, List<Node>>();
        foreach (var n in Nodes)
            foreach (var e in n.EdgeInputs)
            {
                if (!map.TryGetValue(e.Key, out var list)) map[e.Key] = list = [];
                if (list.Count == 0 || list[^1] != n) list.Add(n);
            }
        return map;
    }

    /// <summary>A deep copy of the architecture (nodes, values, opsets); weights stay shared, as they live in the store.</summary>
    public Graph Clone()
    {
        var g = new Graph { IrVersion = IrVersion };
        g.Opsets.AddRange(Opsets);
        g.Inputs.AddRange(Inputs);
        g.Outputs.AddRange(Outputs);
        g.Captures.AddRange(Captures);
        foreach (var kv in EdgeNames) g.EdgeNames[kv.Key] = kv.Value;
        foreach (var n in Nodes) g.Nodes.Add(n.Copy());
        return g;
    }

    /// <summary>A copy whose first input has a batch (dimension 0) of <paramref name="batch"/>; its other dimensions stay.</summary>
    public Graph WithFirstInputBatch(long batch)
    {
        var g = Clone();
        var type = Inputs[0].Type;
        g.Inputs[0] = Inputs[0] with { Type = type.WithDims([new Dim(batch), .. type.Dims![1..]]) };
        return g;
    }
}

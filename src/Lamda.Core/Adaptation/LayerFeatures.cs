using Lamda.Graphs;
using Lamda.Onnx;
using Lamda.Runtime;

namespace Lamda.Adaptation;

/// <summary>
/// The calibration inputs' features at edges of a graph whose layers are refitted one after another, in graph order.
/// Reconstruction asks for the input of every refitted layer and then of every BatchNorm, and each answer used to be a
/// run of everything upstream of it: on the PP-OCRv4 recognizer (16 layers, 160 lines) those runs took 25 of the 46 s
/// the reconstruction took. Here a run starts from the values earlier runs left at their frontier (the edges they computed
/// that nodes not yet run still read), so a model refitted front to back runs about once over.
/// </summary>
/// <remarks>
/// Values are kept per batch run, as ONNX Runtime returned them, and fed back in the same batches, so an edge without a
/// batch axis (a shape, say) is fed back as it came. A graph whose subgraphs read outer values (If, Loop) is run whole
/// each time, as it cannot be cut safely.
/// </remarks>
internal sealed class LayerFeatures
{
    readonly Graph graph;
    readonly TensorData calibration;
    readonly long batch;
    readonly Dictionary<string, List<Node>> consumers;
    readonly HashSet<string> inputKeys;
    // Values at the frontier, one tensor per batch run, valid for the weights as they are now.
    readonly Dictionary<string, List<TensorData>> frontier = new(StringComparer.Ordinal);
    // The nodes whose outputs the frontier was computed from and still holds.
    readonly HashSet<Node> ran = [];
    Dictionary<string, int>? elementTypes;

    public LayerFeatures(Graph graph, TensorData calibration)
    {
        this.graph = graph;
        this.calibration = calibration;
        consumers = graph.Consumers();
        inputKeys = graph.Inputs.Select(i => i.Key).ToHashSet(StringComparer.Ordinal);
        // Batches of 50, or what a model with a fixed batch dimension takes (ModelRunner.FixedBatch reads the same).
        batch = graph.Inputs.FirstOrDefault()?.Type.Dims is [{ Value: > 0 } first, ..] ? first.Value : 50;
    }

    /// <summary>How many node executions the runs so far made, per calibration batch: what the frontier saves.</summary>
    public long NodesRun { get; private set; }

    /// <summary>The values of edge <paramref name="key"/> on all calibration inputs, computed with <paramref name="weights"/>.</summary>
    public TensorData Get(WeightStore weights, string key)
    {
        if (graph.Captures.Count > 0)
        {
            NodesRun += graph.Nodes.Count;
            return Reconstruction.Collect(graph, weights, [key], calibration)[key];
        }
        if (inputKeys.Contains(key)) return calibration;
        var parts = frontier.TryGetValue(key, out var kept) ? kept : Run(weights, key);
        return TensorData.Stack(parts);
    }

    /// <summary>The weights of <paramref name="node"/> changed: forgets every value computed from its output.</summary>
    public void Changed(Node node)
    {
        var stale = new HashSet<string>(StringComparer.Ordinal);
        var queue = new Queue<Node>([node]);
        var seen = new HashSet<Node> { node };
        while (queue.TryDequeue(out var n))
        {
            ran.Remove(n);
            for (int i = 0; i < n.OutputCount; i++)
            {
                stale.Add(n.OutputKey(i));
                foreach (var c in consumers.GetValueOrDefault(n.OutputKey(i)) ?? [])
                    if (seen.Add(c)) queue.Enqueue(c);
            }
        }
        foreach (var key in stale) frontier.Remove(key);
    }

    List<TensorData> Run(WeightStore weights, string key)
    {
        var (nodes, cuts) = Segment(key);
        var outputs = SegmentOutputs(nodes, key, weights);
        var segment = SegmentGraph(nodes, cuts, outputs, weights);
        using var runner = new ModelRunner(Adapter.Bytes(OnnxExporter.Export(segment, weights)));
        var results = outputs.ToDictionary(o => o.Key, _ => new List<TensorData>(), StringComparer.Ordinal);
        long n = calibration.Shape[0];
        for (long start = 0, run = 0; start < n; start += batch, run++)
        {
            var feeds = new Dictionary<string, TensorData>(StringComparer.Ordinal);
            // The calibration inputs feed the model's first input, as for a whole run; frontier values the edges they stand for.
            foreach (var input in segment.Inputs)
                if (cuts.TryGetValue(input.Edge, out var cut)) feeds[input.Name] = frontier[cut][(int)run];
                else if (input.Key == graph.Inputs[0].Key) feeds[input.Name] = calibration.Rows(start, Math.Min(batch, n - start));
            var values = runner.Run(feeds);
            foreach (var o in outputs) results[o.Key].Add(values[o.Name]);
        }
        NodesRun += nodes.Count;
        ran.UnionWith(nodes);
        foreach (var o in outputs) frontier[o.Key] = results[o.Key];
        // What only nodes already run read is no longer needed.
        foreach (var k in frontier.Keys.Where(k => (consumers.GetValueOrDefault(k) ?? []).All(ran.Contains)).ToList()) frontier.Remove(k);
        return results[key];
    }

    /// <summary>
    /// The nodes that compute <paramref name="key"/> from the frontier and the graph inputs, and the frontier edges they
    /// read, by the edge id of the graph input that stands in for each.
    /// </summary>
    (List<Node> Nodes, Dictionary<string, string> Cuts) Segment(string key)
    {
        var needed = new HashSet<string>(StringComparer.Ordinal) { key };
        var nodes = new List<Node>();
        var computed = new HashSet<string>(StringComparer.Ordinal);
        for (int i = graph.Nodes.Count - 1; i >= 0; i--)
        {
            var node = graph.Nodes[i];
            var outputs = Enumerable.Range(0, node.OutputCount).Select(node.OutputKey).ToList();
            if (!outputs.Any(k => needed.Contains(k) && !frontier.ContainsKey(k))) continue;
            nodes.Add(node);
            computed.UnionWith(outputs);
            foreach (var e in node.EdgeInputs) needed.Add(e.Key);
        }
        nodes.Reverse();
        var cuts = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var k in needed.Where(k => frontier.ContainsKey(k) && !computed.Contains(k)).Order(StringComparer.Ordinal))
            cuts["lamda_frontier_" + cuts.Count] = k;
        return (nodes, cuts);
    }

    /// <summary>
    /// The segment as a graph of its own: the graph inputs it reads, one input per frontier edge it starts from (by the
    /// stand-in edge ids of <paramref name="cuts"/>), its nodes reading them, and <paramref name="outputs"/>.
    /// </summary>
    Graph SegmentGraph(List<Node> nodes, Dictionary<string, string> cuts, IEnumerable<GraphValue> outputs, WeightStore weights)
    {
        var segment = new Graph { IrVersion = graph.IrVersion };
        segment.Opsets.AddRange(graph.Opsets);
        foreach (var kv in graph.EdgeNames) segment.EdgeNames[kv.Key] = kv.Value;
        var byKey = cuts.ToDictionary(kv => kv.Value, kv => kv.Key, StringComparer.Ordinal);
        var needed = nodes.SelectMany(n => n.EdgeInputs).Select(e => e.Key).ToHashSet(StringComparer.Ordinal);
        segment.Inputs.AddRange(graph.Inputs.Where(i => needed.Contains(i.Key)));
        foreach (var (edge, cutKey) in cuts)
            segment.Inputs.Add(new GraphValue(edge, edge, new TensorType(ElementTypes(weights)[cutKey], null)));
        foreach (var node in nodes)
        {
            var copy = node.Copy();
            for (int i = 0; i < copy.Inputs.Count; i++)
                if (copy.Inputs[i] is EdgeOperand e && byKey.TryGetValue(e.Key, out var edge)) copy.Inputs[i] = new EdgeOperand(edge);
            segment.Nodes.Add(copy);
        }
        segment.Outputs.AddRange(outputs);
        return segment;
    }

    /// <summary>The element type of every edge, inferred once: a frontier edge is handed back and fed in with its own.</summary>
    Dictionary<string, int> ElementTypes(WeightStore weights) => elementTypes ??= ShapeInference.Run(graph, weights).Types
        .ToDictionary(kv => kv.Key, kv => kv.Value.ElemType, StringComparer.Ordinal);

    /// <summary>
    /// What a segment's run returns: the asked-for edge, and the edges of the segment that a node neither in it nor run
    /// before reads (the next run starts from them), when they are of a type a run can hand back.
    /// </summary>
    List<GraphValue> SegmentOutputs(List<Node> nodes, string key, WeightStore weights)
    {
        var types = ElementTypes(weights);
        var inSegment = nodes.ToHashSet();
        var outputs = new List<GraphValue>();
        foreach (var node in nodes)
            for (int i = 0; i < node.OutputCount; i++)
            {
                string k = node.OutputKey(i);
                int type = types.GetValueOrDefault(k);
                bool frontierEdge = (consumers.GetValueOrDefault(k) ?? []).Any(c => !inSegment.Contains(c) && !ran.Contains(c))
                    && type is DataTypes.Float or DataTypes.Int64 or DataTypes.Int32 or DataTypes.Bool;
                if (k == key || frontierEdge)
                    outputs.Add(new GraphValue(node.Output, "lamda_feature_" + k, new TensorType(k == key ? DataTypes.Float : type, null))
                    {
                        Index = i,
                    });
            }
        return outputs;
    }
}

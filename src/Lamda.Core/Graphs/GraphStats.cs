namespace Lamda.Graphs;

/// <summary>Size and cost figures of a graph: operator counts, parameters, multiply-accumulates.</summary>
internal sealed record GraphStats(IReadOnlyDictionary<string, int> OpCounts, long Parameters, long Macs)
{
    public static GraphStats Of(Graph graph, WeightStore weights, InferenceResult? inference = null)
    {
        inference ??= ShapeInference.Run(graph, weights, batchOne: true); // MACs per sample
        var ops = new SortedDictionary<string, int>(StringComparer.Ordinal);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        long parameters = 0, macs = 0;
        foreach (var n in graph.Nodes)
        {
            var op = n.Domain.Length > 0 ? n.Domain + ":" + n.Op : n.Op;
            ops[op] = ops.GetValueOrDefault(op) + 1;
            foreach (var name in WeightNames(n))
                if (seen.Add(name) && weights.ShapeOf(name) is { } shape) parameters += shape.Aggregate(1L, (a, d) => a * d);
            macs += NodeMacs(n, weights, inference);
        }
        return new GraphStats(ops, parameters, macs);
    }

    /// <summary>
    /// The stored tensors a node holds: weight operands, and the tensor attributes of Constant nodes (paddle2onnx
    /// keeps every learned weight so). Small inlined literals are architecture, not parameters.
    /// </summary>
    static IEnumerable<string> WeightNames(Node n)
    {
        foreach (var w in n.Inputs.OfType<WeightOperand>()) yield return w.Name;
        if (n.Op == "Constant" && n.Domain is "" or "ai.onnx")
            foreach (var a in n.Attributes)
                if (a.Value.Kind == AttributeKind.Reference) yield return a.Value.Reference;
    }

    /// <summary>Multiply-accumulates of one node, 0 where not counted (elementwise, data movement) or unknown.</summary>
    public static long NodeMacs(Node n, WeightStore weights, InferenceResult inference)
    {
        TensorType In(int i) => i < n.Inputs.Count ? n.Inputs[i] switch
        {
            EdgeOperand e => inference.TypeOf(e.Key),
            _ => TensorType.Unknown,
        } : TensorType.Unknown;
        var y = inference.TypeOf(n.Output);
        switch (n.Op)
        {
            case "Conv" or "ConvTranspose":
            {
                // Each output (Conv) or input (ConvTranspose) element costs one MAC per weight of its filter.
                // The filter is an initializer, or an edge from a Constant node whose shape inference knows.
                var w = n.Inputs.Count > 1 && n.Inputs[1] is WeightOperand wo ? weights.ShapeOf(wo.Name)
                    : In(1).IsStatic ? In(1).Dims!.Select(d => d.Value).ToArray() : null;
                var count = n.Op == "Conv" ? y.ElementCount : In(0).ElementCount;
                if (w is not { Length: > 1 } || count is not { } elems) return 0;
                long perFilter = w.Skip(1).Aggregate(1L, (a, b) => a * b);
                return elems * perFilter;
            }
            case "Gemm" or "MatMul":
            {
                var a = In(0);
                if (y.ElementCount is not { } outs || a.Dims is not { Length: > 0 } dims) return 0;
                var kDim = n.Op == "Gemm" && n.GetInt("transA", 0) != 0 ? dims[0] : dims[^1];
                return kDim.IsKnown ? outs * kDim.Value : 0;
            }
            default: return 0;
        }
    }
}

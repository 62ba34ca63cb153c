using Lamda.Onnx;

namespace Lamda.Graphs;

/// <summary>What <see cref="Normalizer"/> removed, by operator.</summary>
internal sealed record NormalizeReport(IReadOnlyDictionary<string, int> Removed, int NodesBefore, int NodesAfter);

/// <summary>
/// Removes exporter noise while keeping the model's function: Identity chains, Dropout (inference),
/// Constant nodes (lifted to inline literals or weights) and integer shape arithmetic that is static
/// (<c>Shape -> Gather -> Div -> Slice</c> becomes literal Slice bounds). Adaptation works on normalized
/// graphs because channel offsets must be visible as constants to be edited.
/// </summary>
internal static class Normalizer
{
    /// <param name="source">the graph to normalize; it is not modified</param>
    /// <param name="weights">its weights; lifted constants are added</param>
    /// <param name="freeBatch">
    /// The inputs' batch (dim 0) is pinned to 1 but free in the model: folded Reshape targets keep it free (see
    /// <see cref="BatchFreeTarget"/>), so the normalized graph, and every model adapted from it, runs at any batch.
    /// </param>
    public static (Graph Graph, NormalizeReport Report) Normalize(Graph source, WeightStore weights, bool freeBatch = false)
    {
        var g = source.Clone();
        int before = g.Nodes.Count;
        var removed = new Dictionary<string, int>(StringComparer.Ordinal);
        var inference = ShapeInference.Run(g, weights);
        var atBatchTwo = freeBatch ? AtBatchTwo(g, weights) : null;
        var outputKeys = g.Outputs.Select(o => o.Key).ToHashSet(StringComparer.Ordinal);
        // Values captured by subgraph bodies are used by name: keep them, like graph outputs.
        var captured = g.Captures.Select(c => c.Key).ToHashSet(StringComparer.Ordinal);
        var replacement = new Dictionary<string, Operand>(StringComparer.Ordinal);
        var kept = new List<Node>(g.Nodes.Count);

        foreach (var n in g.Nodes)
        {
            for (int k = 0; k < n.Inputs.Count; k++)
                if (n.Inputs[k] is EdgeOperand e && replacement.TryGetValue(e.Key, out var r))
                    n.Inputs[k] = atBatchTwo != null && k == 1 && n.Op == "Reshape"
                        ? BatchFreeTarget(n, r, e.Key, inference, atBatchTwo) : r;

            var folded = Fold(n, g, weights, inference);
            if (Enumerable.Range(0, n.OutputCount).Any(k => captured.Contains(n.OutputKey(k)))) { kept.Add(n); continue; }
            if (folded != null && !outputKeys.Contains(n.Output))
            {
                replacement[n.Output] = folded;
                Count(removed, n.Op);
                continue;
            }
            if (IsPassThrough(n, g) && n.Inputs[0] is var input and not EmptyOperand)
            {
                if (!outputKeys.Contains(n.Output))
                {
                    replacement[n.Output] = CopyIfWeight(input, n, g, weights);
                    Count(removed, n.Op);
                    continue;
                }
                // The pass-through produces a graph output: bind the output to the input edge instead,
                // provided that edge is a node output not already bound to another graph output.
                if (input is EdgeOperand src && g.Nodes.Any(p => p.Output == src.Edge) && !outputKeys.Contains(src.Key))
                {
                    int o = g.Outputs.FindIndex(v => v.Key == n.Output);
                    g.Outputs[o] = g.Outputs[o] with { Edge = src.Edge, Index = src.Index };
                    outputKeys.Remove(n.Output);
                    outputKeys.Add(src.Key);
                    Count(removed, n.Op);
                    continue;
                }
            }
            kept.Add(n);
        }

        g.Nodes.Clear();
        g.Nodes.AddRange(RemoveDead(kept, outputKeys.Concat(captured), removed));
        GraphIds.Renumber(g);
        ShapeInference.AnnotateChannels(g, weights);
        return (g, new NormalizeReport(removed, before, g.Nodes.Count));
    }

    /// <summary>Shape inference with every input's dim 0 at 2 instead of 1: what of the folded shape arithmetic is the batch.</summary>
    static InferenceResult AtBatchTwo(Graph g, WeightStore weights)
    {
        var two = g.Clone();
        for (int i = 0; i < two.Inputs.Count; i++)
            if (two.Inputs[i].Type.Dims is [{ IsKnown: true, Value: 1 }, .. var rest])
                two.Inputs[i] = two.Inputs[i] with { Type = two.Inputs[i].Type.WithDims([new Dim(2), .. rest]) };
        return ShapeInference.Run(two, weights);
    }

    /// <summary>
    /// A folded Reshape target without the pinned batch: the entries that change between batch 1 and batch 2 become
    /// 0 (copy the input's dim) where the input's dim changes alike, else -1 (inferred) when only one is left to infer.
    /// A target that cannot be freed so is kept as folded (the model then runs at batch 1 only).
    /// </summary>
    static Operand BatchFreeTarget(Node reshape, Operand folded, string key, InferenceResult one, InferenceResult two)
    {
        if (folded is not LiteralOperand { Value: var literal } || !two.Values.TryGetValue(key, out var atTwo)
            || reshape.GetInt("allowzero", 0) != 0 || reshape.Inputs[0] is not EdgeOperand x) return folded;
        long[] a = literal.AsInt64(), b = atTwo.AsInt64();
        if (a.Length != b.Length || a.SequenceEqual(b)) return folded;
        var (x1, x2) = (one.TypeOf(x.Key).Dims, two.TypeOf(x.Key).Dims);
        var target = a.ToArray();
        var inferred = new List<int>();
        for (int i = 0; i < a.Length; i++)
        {
            if (a[i] == b[i]) continue;
            bool copies = x1 != null && x2 != null && i < x1.Length && i < x2.Length && x1[i].IsKnown && x2[i].IsKnown
                && x1[i].Value == a[i] && x2[i].Value == b[i];
            if (copies) target[i] = 0;
            else inferred.Add(i);
        }
        if (inferred.Count > 1 || (inferred.Count == 1 && a.Contains(-1))) return folded;
        foreach (var i in inferred) target[i] = -1;
        return new LiteralOperand(new TensorLiteral(literal.DataType, literal.Dims, target, null));
    }

    static void Count(Dictionary<string, int> removed, string op) => removed[op] = removed.GetValueOrDefault(op) + 1;

    static bool IsPassThrough(Node n, Graph g) => n.Domain.Length == 0 && (n.Op == "Identity" || (n.Op == "Dropout" && !MaskUsed(n, g)));

    static bool MaskUsed(Node n, Graph g) =>
        n.OutputCount > 1
            && (g.Nodes.Any(c => c.EdgeInputs.Any(e => e.Edge == n.Output && e.Index > 0))
            || g.Outputs.Any(o => o.Edge == n.Output && o.Index > 0));

    /// <summary>A constant this node's output can be replaced with, or null.</summary>
    static Operand? Fold(Node n, Graph g, WeightStore weights, InferenceResult inference)
    {
        if (n.Domain.Length > 0 || n.OutputCount != 1) return null;
        if (n.Op == "Constant")
        {
            var v = n.Attributes.Count == 1 ? n.Attributes[0] : null;
            switch (v?.Name, v?.Value.Kind)
            {
                case ("value", AttributeKind.Tensor): return new LiteralOperand(v!.Value.Tensor!);
                case ("value", AttributeKind.Reference) when weights.TryGet(v!.Value.Reference, out var t):
                    var name = weights.UniqueName(g.EdgeNames.GetValueOrDefault(n.Output) ?? "const_" + n.Id);
                    weights.Add(name, t);
                    return new WeightOperand(name);
                case ("value_int", AttributeKind.Int): return new LiteralOperand(TensorLiteral.Int64([v!.Value.Int], []));
                case ("value_ints", AttributeKind.Ints): return new LiteralOperand(TensorLiteral.Int64(v!.Value.Ints));
                case ("value_float", AttributeKind.Float): return new LiteralOperand(
                    new TensorLiteral(DataTypes.Float, [], null, [v!.Value.Float]));
                case ("value_floats", AttributeKind.Floats): return new LiteralOperand(
                    new TensorLiteral(
                    DataTypes.Float, [v!.Value.Floats.Length], null, v.Value.Floats.Select(f => (double)f).ToArray()));
            }
            return null;
        }
        // Integer shape arithmetic whose value inference computed statically.
        if (inference.Values.TryGetValue(n.Output, out var value) && value.Count <= ConstantPolicy.MaxInlineIntegers
            && inference.TypeOf(n.Output).ElemType == value.DataType)
            return new LiteralOperand(value);
        return null;
    }

    /// <summary>
    /// Exporters share equal weights through Identity nodes. Each reader gets its own copy so that later
    /// channel surgery on one layer cannot silently change another.
    /// </summary>
    static Operand CopyIfWeight(Operand input, Node identity, Graph g, WeightStore weights)
    {
        if (input is not WeightOperand w || !weights.TryGet(w.Name, out var t)) return input;
        var name = weights.UniqueName(g.EdgeNames.GetValueOrDefault(identity.Output) ?? w.Name + "_" + identity.Id);
        weights.Add(name, t);
        return new WeightOperand(name);
    }

    static List<Node> RemoveDead(List<Node> nodes, IEnumerable<string> outputKeys, Dictionary<string, int> removed)
    {
        var live = new HashSet<string>(outputKeys.Select(k => k.Split('.')[0]), StringComparer.Ordinal);
        var result = new List<Node>(nodes.Count);
        for (int i = nodes.Count - 1; i >= 0; i--)
        {
            var n = nodes[i];
            if (!live.Contains(n.Output)) { Count(removed, n.Op); continue; }
            result.Add(n);
            foreach (var e in n.EdgeInputs) live.Add(e.Edge);
        }
        result.Reverse();
        return result;
    }
}

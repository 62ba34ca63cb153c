namespace Lamda.Graphs;

/// <summary>
/// Applies a channel selection to a graph: every weight that touches a removed channel is sliced (Conv and
/// Gemm rows and columns, biases, BatchNorm parameters, per-channel constants, depthwise groups) and every
/// shape constant that encodes a channel count or offset is rewritten (Slice bounds, Split sizes, Reshape
/// shapes), so the result is a valid model with the kept channels of the base.
/// </summary>
public static class ChannelPruner
{
    /// <summary>
    /// Returns a new graph and a new weight store; the inputs are not modified. With
    /// <paramref name="shapesOnly"/> the sliced weights carry their new shapes but no data: enough for
    /// shape inference and latency prediction, and much cheaper inside a search.
    /// </summary>
    /// <param name="analysis">the channel analysis of the graph to prune</param>
    /// <param name="keep">for every channel source of the analysis, whether it is kept</param>
    /// <param name="shapesOnly">sliced weights carry their new shapes but no data</param>
    /// <param name="keptOutputs">when given, receives for every layer whose outputs were narrowed the base output channels it kept</param>
    public static (Graph Graph, WeightStore Weights) Apply(ChannelAnalysis analysis, bool[] keep, bool shapesOnly = false, Dictionary<string, int[]>? keptOutputs = null)
    {
        var source = analysis.Graph;
        var g = source.Clone();
        var store = new WeightStore { Source = analysis.Weights.Source };
        foreach (var (name, t) in analysis.Weights.Tensors) store.Add(name, t);
        foreach (var (key, a) in analysis.Weights.Attributes) store.AddAttribute(key, a);
        foreach (var name in analysis.Weights.CapturedWeights) store.CapturedWeights.Add(name);
        store.Functions.AddRange(analysis.Weights.Functions);
        var uses = source.Nodes.SelectMany(n => n.Inputs.OfType<WeightOperand>()).GroupBy(w => w.Name).ToDictionary(x => x.Key, x => x.Count());

        int[] Kept(ChannelLayout? l) => l == null ? [] : Enumerable.Range(0, l.Labels.Length).Where(p => keep[l.Labels[p]]).ToArray();

        for (int i = 0; i < g.Nodes.Count; i++)
        {
            var original = source.Nodes[i];
            var n = g.Nodes[i];
            var x = n.Inputs.Count > 0 ? analysis.LayoutOf(original.Inputs[0]) : null;
            var inKeep = Kept(x);
            bool inChanged = x != null && inKeep.Length != x.Labels.Length;
            int[]? outKeep = null;
            if (analysis.SourceOf.TryGetValue(n.Id, out var src))
            {
                outKeep = Enumerable.Range(0, src.Size).Where(k => keep[src.FirstRef + k]).ToArray();
                if (outKeep.Length == src.Size) outKeep = null;
                else if (keptOutputs != null) keptOutputs[n.Id] = outKeep;
            }
            if (outKeep == null && !inChanged) continue;

            void Slice(int slot, params (int Axis, int[]? Indices)[] selections)
            {
                if (slot >= n.Inputs.Count) return;
                switch (n.Inputs[slot])
                {
                    case WeightOperand w when store.TryGet(w.Name, out var proto):
                        var name = uses.GetValueOrDefault(w.Name) > 1 ? store.UniqueName($"{w.Name}.{n.Id}") : w.Name;
                        if (shapesOnly)
                        {
                            var dims = proto.Dims.ToArray();
                            foreach (var (axis, indices) in selections)
                                if (indices != null && axis < dims.Length) dims[axis] = indices.Length;
                            var shape = new global::Onnx.TensorProto { Name = name, DataType = proto.DataType };
                            shape.Dims.AddRange(dims);
                            store.Add(name, shape);
                        }
                        else
                        {
                            var t = FloatTensor.From(proto);
                            foreach (var (axis, indices) in selections)
                                if (indices != null && axis < t.Dims.Length) t = t.Select(axis, indices);
                            store.Add(name, t.ToProto(name));
                        }
                        n.Inputs[slot] = new WeightOperand(name);
                        break;
                    case LiteralOperand { Value.Reals: not null } l:
                        var lt = new FloatTensor(l.Value.Dims, l.Value.Reals!.Select(r => (float)r).ToArray());
                        foreach (var (axis, indices) in selections)
                            if (indices != null && axis < lt.Dims.Length) lt = lt.Select(axis, indices);
                        n.Inputs[slot] = new LiteralOperand(new TensorLiteral(l.Value.DataType, lt.Dims, null, lt.Data.Select(f => (double)f).ToArray()));
                        break;
                }
            }
            int[]? InSel() => inChanged ? inKeep : null;

            switch (n.Op)
            {
                case "Conv" when n.GetInt("group", 1) == 1:
                    Slice(1, (0, outKeep), (1, InSel()));
                    Slice(2, (0, outKeep));
                    break;
                case "Conv": // depthwise: channels follow the input
                    Slice(1, (0, InSel()));
                    Slice(2, (0, InSel()));
                    n.SetAttribute("group", AttributeValue.FromInt(inKeep.Length));
                    break;
                case "ConvTranspose":
                    Slice(1, (0, InSel()), (1, outKeep));
                    Slice(2, (0, outKeep));
                    break;
                case "Gemm":
                    bool transB = n.GetInt("transB", 0) != 0;
                    Slice(1, transB ? [(0, outKeep), (1, InSel())] : [(0, InSel()), (1, outKeep)]);
                    if (n.Inputs.Count > 2 && analysis.Weights.ShapeOf((original.Inputs[2] as WeightOperand)?.Name ?? "") is { } cs)
                        Slice(2, (cs.Length - 1, outKeep));
                    break;
                case "MatMul":
                    Slice(1, (0, InSel()), (1, outKeep));
                    break;
                case "BatchNormalization" or "InstanceNormalization":
                    for (int s = 1; s < n.Inputs.Count; s++) Slice(s, (0, InSel()));
                    break;
                case "Slice":
                    RewriteSlice(n, original, analysis, keep);
                    break;
                case "Split":
                    RewriteSplit(n, original, analysis, keep);
                    break;
                case "Reshape":
                    RewriteReshape(n, original, analysis, keep);
                    break;
                default:
                    // Per-channel constants of elementwise operators (PRelu slopes, scales, biases).
                    var outType = analysis.Inference.TypeOf(original.Output);
                    if (inChanged && outType.Rank >= 2)
                        for (int s = 0; s < n.Inputs.Count; s++)
                        {
                            if (original.Inputs[s] is not (WeightOperand or LiteralOperand)) continue;
                            var dims = original.Inputs[s] is WeightOperand w ? analysis.Weights.ShapeOf(w.Name) : ((LiteralOperand)original.Inputs[s]).Value.Dims;
                            if (dims == null) continue;
                            int axis = dims.Length - (outType.Rank - 1);
                            if (axis >= 0 && axis < dims.Length && dims[axis] == x!.Labels.Length && dims[axis] > 1) Slice(s, (axis, inKeep));
                        }
                    break;
            }
        }
        ShapeInference.AnnotateChannels(g, store);
        return (g, store);
    }

    static int CountKept(int[] labels, int from, int to, bool[] keep)
    {
        int c = 0;
        for (int p = from; p < to; p++) if (keep[labels[p]]) c++;
        return c;
    }

    static void RewriteSlice(Node n, Node original, ChannelAnalysis a, bool[] keep)
    {
        var x = a.LayoutOf(original.Inputs[0]);
        if (x == null || n.Inputs.Count < 3) return;
        var starts = (n.Inputs[1] as LiteralOperand)?.Value.AsInt64();
        var ends = (n.Inputs[2] as LiteralOperand)?.Value.AsInt64();
        if (starts == null || ends == null) return;
        int rank = a.Inference.TypeOf(((EdgeOperand)original.Inputs[0]).Key).Rank;
        var axes = n.Inputs.Count > 3 && n.Inputs[3] is LiteralOperand al ? al.Value.AsInt64() : Enumerable.Range(0, starts.Length).Select(i => (long)i).ToArray();
        int idx = Array.FindIndex(axes, v => (v < 0 ? v + rank : v) == 1);
        if (idx < 0) return;
        var (s, e) = ChannelAnalysis.Bounds(starts[idx], ends[idx], x.Labels.Length);
        long newStart = CountKept(x.Labels, 0, s, keep);
        long newEnd = newStart + CountKept(x.Labels, s, e, keep);
        starts = starts.ToArray(); ends = ends.ToArray();
        starts[idx] = newStart; ends[idx] = newEnd;
        var st = ((LiteralOperand)n.Inputs[1]).Value; var en = ((LiteralOperand)n.Inputs[2]).Value;
        n.Inputs[1] = new LiteralOperand(new TensorLiteral(st.DataType, st.Dims, starts, null));
        n.Inputs[2] = new LiteralOperand(new TensorLiteral(en.DataType, en.Dims, ends, null));
    }

    static void RewriteSplit(Node n, Node original, ChannelAnalysis a, bool[] keep)
    {
        if (n.Inputs.Count < 2 || n.Inputs[1] is not LiteralOperand l) return;
        var sizes = Enumerable.Range(0, n.OutputCount).Select(k => (long)(a.Layouts.GetValueOrDefault(original.OutputKey(k))?.Labels.Count(r => keep[r]) ?? 0)).ToArray();
        n.Inputs[1] = new LiteralOperand(new TensorLiteral(l.Value.DataType, l.Value.Dims, sizes, null));
    }

    static void RewriteReshape(Node n, Node original, ChannelAnalysis a, bool[] keep)
    {
        var y = a.Layouts.GetValueOrDefault(original.Output);
        if (y == null || n.Inputs[1] is not LiteralOperand l) return;
        var shape = l.Value.AsInt64().ToArray();
        int kept = y.Labels.Count(r => keep[r]);
        if (y.Axes.Length > 1)
        {
            // [N, outer, inner, ...]: the outer size stays, the inner shrinks (columns are removed whole).
            if (shape[1] > 0) shape[1] = y.Axes[0];
            if (shape[2] > 0) shape[2] = kept / y.Axes[0];
        }
        else if (shape[1] > 0) shape[1] = kept;
        n.Inputs[1] = new LiteralOperand(new TensorLiteral(l.Value.DataType, l.Value.Dims, shape, null));
    }
}

/// <summary>Chooses which channels to keep: by L1 importance of the filters that produce them.</summary>
public static class ChannelSelection
{
    /// <summary>
    /// Importance of every removable component: the L1 norms of the source filters of its channels, each
    /// normalized by the mean norm of its layer so that layers of different scale compare fairly.
    /// </summary>
    public static Dictionary<int, double> Importance(ChannelAnalysis a)
    {
        var norms = new double[a.RefCount];
        foreach (var s in a.Sources)
        {
            if (s.Fixed || s.Node == null || s.Node.Inputs.Count < 2 || s.Node.Inputs[1] is not WeightOperand w || !a.Weights.TryGet(w.Name, out var proto)) continue;
            var t = FloatTensor.From(proto);
            int axis = s.Node.Op switch
            {
                "Conv" => 0,
                "ConvTranspose" => 1,
                "Gemm" => s.Node.GetInt("transB", 0) != 0 ? 0 : 1,
                _ => 1,
            };
            var l1 = t.L1Norms(axis);
            double mean = l1.Average();
            for (int k = 0; k < s.Size; k++) norms[s.FirstRef + k] = mean > 0 ? l1[k] / mean : 1;
        }
        return a.Components().ToDictionary(kv => kv.Key, kv => kv.Value.Sum(r => norms[r]));
    }

    /// <summary>
    /// Keeps about <paramref name="factor"/> of every removable layer's channels, removing the least important
    /// components first. A component is removed only if every layer it touches stays at or above its target,
    /// and no layer or Concat input ever loses all its channels.
    /// </summary>
    public static bool[] ScaleWidth(ChannelAnalysis a, double factor, int multipleOf = 1)
    {
        var keep = Enumerable.Repeat(true, a.RefCount).ToArray();
        var components = a.Components();
        var importance = Importance(a);
        var kept = a.Sources.Select(s => s.Size).ToArray();
        var target = a.Sources.Select(s => s.Fixed ? s.Size : Target(s.Size, factor, multipleOf)).ToArray();
        var edges = new EdgeOccupancy(a);
        foreach (var (root, refs) in components.OrderBy(kv => importance[kv.Key]).ThenBy(kv => kv.Key))
        {
            var bySource = refs.GroupBy(a.SourceOfRef).ToDictionary(x => x.Key, x => x.Count());
            if (bySource.Any(kv => kept[kv.Key] - kv.Value < target[kv.Key]) || !edges.CanRemove(root)) continue;
            foreach (var r in refs) keep[r] = false;
            foreach (var (s, c) in bySource) kept[s] -= c;
            edges.Remove(root);
        }
        return keep;
    }

    /// <summary>How many channels of each distinct edge layout a component occupies, so no edge is emptied.</summary>
    sealed class EdgeOccupancy
    {
        readonly Dictionary<int, List<(int Layout, int Count)>> byComponent = [];
        readonly List<int> remaining = [];

        public EdgeOccupancy(ChannelAnalysis a)
        {
            foreach (var layout in a.Layouts.Values.Distinct())
            {
                int id = remaining.Count;
                remaining.Add(layout.Labels.Length);
                foreach (var group in layout.Labels.GroupBy(a.Find))
                {
                    if (!byComponent.TryGetValue(group.Key, out var list)) byComponent[group.Key] = list = [];
                    list.Add((id, group.Count()));
                }
            }
        }

        public bool CanRemove(int root) => !byComponent.TryGetValue(root, out var list) || list.All(x => remaining[x.Layout] - x.Count > 0);

        public void Remove(int root)
        {
            if (byComponent.TryGetValue(root, out var list))
                foreach (var (layout, count) in list) remaining[layout] -= count;
        }
    }

    /// <summary>
    /// Keeps, for every removable layer, exactly the number of channels in <paramref name="targets"/> (by node id)
    /// where the couplings allow it, removing the least important components first. Returns the mask and, per
    /// source, how many channels it actually keeps.
    /// </summary>
    public static (bool[] Keep, int[] Kept) ToWidths(ChannelAnalysis a, IReadOnlyDictionary<string, int> targets, Dictionary<int, double>? importance = null)
    {
        var keep = Enumerable.Repeat(true, a.RefCount).ToArray();
        importance ??= Importance(a);
        var kept = a.Sources.Select(s => s.Size).ToArray();
        var target = a.Sources.Select(s => s.Fixed || s.Node == null ? s.Size : Math.Clamp(targets.GetValueOrDefault(s.Node.Id, s.Size), 1, s.Size)).ToArray();
        var edges = new EdgeOccupancy(a);
        foreach (var (root, refs) in a.Components().OrderBy(kv => importance[kv.Key]).ThenBy(kv => kv.Key))
        {
            var bySource = refs.GroupBy(a.SourceOfRef).ToDictionary(x => x.Key, x => x.Count());
            if (bySource.Any(kv => kept[kv.Key] - kv.Value < target[kv.Key]) || !edges.CanRemove(root)) continue;
            foreach (var r in refs) keep[r] = false;
            foreach (var (src, c) in bySource) kept[src] -= c;
            edges.Remove(root);
        }
        return (keep, kept);
    }

    /// <summary>Per-source widths (node id -> channels) for a uniform width factor, rounded to a multiple.</summary>
    public static Dictionary<string, int> UniformWidths(ChannelAnalysis a, double factor, int multipleOf) =>
        a.Sources.Where(s => !s.Fixed && s.Node != null).ToDictionary(s => s.Node!.Id, s => Target(s.Size, factor, multipleOf));

    static int Target(int size, double factor, int multipleOf)
    {
        int t = Math.Max(1, (int)Math.Round(size * factor));
        if (multipleOf > 1 && size >= multipleOf) t = Math.Max(multipleOf, (int)Math.Round(t / (double)multipleOf) * multipleOf);
        return Math.Min(size, t);
    }
}

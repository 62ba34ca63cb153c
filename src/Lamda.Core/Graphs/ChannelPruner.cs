using Lamda.Operators;

namespace Lamda.Graphs;

/// <summary>
/// Applies a channel selection to a graph: every weight that touches a removed channel is sliced (Conv and
/// Gemm rows and columns, biases, BatchNorm parameters, per-channel constants, depthwise groups) and every
/// shape constant that encodes a channel count or offset is rewritten (Slice bounds, Split sizes, Reshape
/// shapes), so the result is a valid model with the kept channels of the base.
/// </summary>
internal static class ChannelPruner
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
    public static (Graph Graph, WeightStore Weights) Apply(ChannelAnalysis analysis, bool[] keep, bool shapesOnly = false,
        Dictionary<string, int[]>? keptOutputs = null)
    {
        var source = analysis.Graph;
        var g = source.Clone();
        var store = analysis.Weights.Copy();
        var uses = source.Nodes.SelectMany(n => n.Inputs.OfType<WeightOperand>()).GroupBy(w => w.Name)
            .ToDictionary(x => x.Key, x => x.Count());
        var slicer = new WeightSlicer(store, uses, shapesOnly);
        for (int i = 0; i < g.Nodes.Count; i++)
        {
            var n = g.Nodes[i];
            var outKeep = KeptOutputs(analysis, n, keep);
            if (outKeep != null && keptOutputs != null) keptOutputs[n.Id] = outKeep;
            var surgery = new ChannelSurgery(analysis, keep, slicer, n, source.Nodes[i], outKeep);
            if (outKeep != null || surgery.InputChanged) OperatorRegistry.Get(n.Op).SliceWeights(surgery);
        }
        ShapeInference.AnnotateChannels(g, store);
        return (g, store);
    }

    /// <summary>The output channels a layer keeps, or null when it is not a layer or keeps them all.</summary>
    static int[]? KeptOutputs(ChannelAnalysis analysis, Node n, bool[] keep)
    {
        if (!analysis.SourceOf.TryGetValue(n.Id, out var src)) return null;
        var kept = Enumerable.Range(0, src.Size).Where(k => keep[src.FirstRef + k]).ToArray();
        return kept.Length == src.Size ? null : kept;
    }
}

/// <summary>Chooses which channels to keep: by L1 importance of the filters that produce them.</summary>
internal static class ChannelSelection
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
            if (s.Fixed || s.Node == null || s.Node.Inputs.Count < 2) continue;
            if (s.Node.Inputs[1] is not WeightOperand w || !a.Weights.TryGet(w.Name, out var proto)) continue;
            var t = FloatTensor.From(proto);
            int axis = OperatorRegistry.Get(s.Node.Op).ImportanceAxis(s.Node);
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
        var target = a.Sources.Select(s => s.Fixed ? s.Size : Target(s.Size, factor, multipleOf)).ToArray();
        return RemoveLeastImportant(a, target, Importance(a)).Keep;
    }

    /// <summary>
    /// The greedy selection both entry points share: components in order of importance (ties by root), each
    /// removed when every layer it touches stays at or above its target and no edge loses all its channels.
    /// </summary>
    static (bool[] Keep, int[] Kept) RemoveLeastImportant(ChannelAnalysis a, int[] target, Dictionary<int, double> importance)
    {
        var keep = Enumerable.Repeat(true, a.RefCount).ToArray();
        var kept = a.Sources.Select(s => s.Size).ToArray();
        var edges = new EdgeOccupancy(a);
        foreach (var (root, refs) in a.Components().OrderBy(kv => importance[kv.Key]).ThenBy(kv => kv.Key))
        {
            var bySource = refs.GroupBy(a.SourceOfRef).ToDictionary(x => x.Key, x => x.Count());
            if (bySource.Any(kv => kept[kv.Key] - kv.Value < target[kv.Key]) || !edges.CanRemove(root)) continue;
            foreach (var r in refs) keep[r] = false;
            foreach (var (s, c) in bySource) kept[s] -= c;
            edges.Remove(root);
        }
        return (keep, kept);
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
    public static (bool[] Keep, int[] Kept) ToWidths(ChannelAnalysis a, IReadOnlyDictionary<string, int> targets,
        Dictionary<int, double>? importance = null)
    {
        int TargetOf(ChannelSource s) =>
            s.Fixed || s.Node == null ? s.Size : Math.Clamp(targets.GetValueOrDefault(s.Node.Id, s.Size), 1, s.Size);
        var target = a.Sources.Select(TargetOf).ToArray();
        return RemoveLeastImportant(a, target, importance ?? Importance(a));
    }

    /// <summary>Per-source widths (node id -> channels) for a uniform width factor, rounded to a multiple.</summary>
    public static Dictionary<string, int> UniformWidths(ChannelAnalysis a, double factor, int multipleOf) =>
        a.Sources.Where(s => !s.Fixed && s.Node != null).ToDictionary(s => s.Node!.Id, s => Target(s.Size, factor, multipleOf));

    /// <summary>About <paramref name="factor"/> of <paramref name="size"/> channels, rounded to a multiple, at least 1.</summary>
    public static int Target(int size, double factor, int multipleOf)
    {
        int t = Math.Max(1, (int)Math.Round(size * factor));
        if (multipleOf > 1 && size >= multipleOf) t = Math.Max(multipleOf, (int)Math.Round(t / (double)multipleOf) * multipleOf);
        return Math.Min(size, t);
    }
}

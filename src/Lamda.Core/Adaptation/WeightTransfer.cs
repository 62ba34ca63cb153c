using Lamda.Graphs;

namespace Lamda.Adaptation;

/// <summary>
/// Turns a generated architecture (LamdaText parsed into a graph) into a runnable model with the base
/// model's most important weights. The architecture must keep the base's structure; what it may change is
/// the width of each layer, which it declares in <c>ch=</c>. Per layer, the channels with the highest L1
/// importance are kept, respecting every coupling (residual Adds, Concat offsets, depthwise groups,
/// shuffles); Slice bounds, Split sizes and Reshape shapes are recomputed.
/// </summary>
internal sealed class WeightTransfer
{
    readonly Graph baseGraph;
    readonly WeightStore baseWeights;
    readonly Dictionary<int, double> importance;
    readonly Dictionary<string, WeightTransfer> edited = new(StringComparer.Ordinal);

    public WeightTransfer(Graph baseGraph, WeightStore baseWeights)
    {
        this.baseGraph = baseGraph;
        this.baseWeights = baseWeights;
        Analysis = ChannelAnalysis.Run(baseGraph, baseWeights);
        importance = ChannelSelection.Importance(Analysis);
    }

    public ChannelAnalysis Analysis { get; }
    public Dictionary<int, double> Importance => importance;

    /// <summary>
    /// The transfer for the base with some blocks removed (a depth edit): the candidate omits their
    /// nodes and its other nodes read the blocks' skip edges.
    /// </summary>
    public WeightTransfer WithoutBlocks(IReadOnlyCollection<DroppableBlock> blocks)
    {
        var key = string.Join(",", blocks.Select(b => b.Exit.Id).Order(StringComparer.Ordinal));
        if (!edited.TryGetValue(key, out var transfer))
            edited[key] = transfer = new WeightTransfer(DroppableBlocks.Drop(baseGraph, blocks), baseWeights);
        return transfer;
    }

    /// <summary>The result, or the diagnostics that explain why the architecture cannot be realized.</summary>
    /// <param name="candidate">the architecture to realize, derived from the base graph</param>
    /// <param name="shapesOnly">sliced weights carry their shapes but no data (enough for prediction)</param>
    /// <param name="keptOutputs">when given, receives the base output channels kept by each narrowed layer</param>
    public (Graph? Graph, WeightStore? Weights, List<Diagnostic> Diagnostics)
        Apply(Graph candidate, bool shapesOnly = false, Dictionary<string, int[]>? keptOutputs = null)
    {
        var diagnostics = new List<Diagnostic>();
        if (candidate.Nodes.Count < baseGraph.Nodes.Count && DroppedBlocks(candidate) is { Count: > 0 } dropped)
            return WithoutBlocks(dropped).Apply(candidate, shapesOnly, keptOutputs);
        CheckStructure(candidate, diagnostics);
        if (diagnostics.Count > 0) return (null, null, diagnostics);

        var targets = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var s in Analysis.Sources.Where(s => !Analysis.IsFixed(s) && s.Node != null))
        {
            var node = candidate.Nodes.First(n => n.Id == s.Node!.Id);
            var position = $"{node.Id} ({node.Op})";
            if (node.OutChannels is not { } width)
                diagnostics.Add(Diagnostic.Syntax(ValidationCodes.Width, position,
                    "declares no output channels (ch=IN:OUT with OUT a number)"));
            else if (width < 1 || width > s.Size)
                diagnostics.Add(Diagnostic.Syntax(ValidationCodes.Width, position,
                    $"declares {width} output channels; it must have between 1 and the base model's {s.Size}"));
            else targets[s.Node!.Id] = (int)width;
        }
        // Layers whose width the base fixes (they reach the output, or pass through operators Lamda does not rewrite).
        foreach (var s in Analysis.Sources.Where(s => Analysis.IsFixed(s) && s.Node != null))
        {
            var node = candidate.Nodes.First(n => n.Id == s.Node!.Id);
            if (node.OutChannels is { } w && w != s.Size)
                diagnostics.Add(Diagnostic.Syntax(ValidationCodes.Width, $"{node.Id} ({node.Op})",
                    $"declares {w} output channels, but this layer's width is fixed at {s.Size} (it feeds the model's output or an " +
                        "operator whose channels cannot change)"));
        }
        if (diagnostics.Count > 0) return (null, null, diagnostics);

        var (keep, kept) = ChannelSelection.ToWidths(Analysis, targets, importance);
        foreach (var s in Analysis.Sources.Where(s => !Analysis.IsFixed(s) && s.Node != null && kept[s.Id] != targets[s.Node.Id]))
        {
            var partner = CoupledWith(s, targets);
            diagnostics.Add(Diagnostic.Syntax(ValidationCodes.Coupling, $"{s.Node!.Id} ({s.Node.Op})",
                $"{targets[s.Node.Id]} output channels cannot be realized: its channels are tied (through Add, Mul, Concat or a shuffle) " +
                    $"to {partner}, so it keeps {kept[s.Id]}. Give coupled layers consistent widths."));
        }
        if (diagnostics.Count > 0) return (null, null, diagnostics);

        var (graph, weights) = ChannelPruner.Apply(Analysis, keep, shapesOnly, keptOutputs);
        CheckDeclaredChannels(candidate, graph, diagnostics);
        return diagnostics.Count > 0 ? (null, null, diagnostics) : (graph, weights, diagnostics);
    }

    /// <summary>The droppable blocks of the base whose nodes the candidate omits, when that explains every missing node.</summary>
    List<DroppableBlock>? DroppedBlocks(Graph candidate)
    {
        var present = candidate.Nodes.Select(n => n.Id).ToHashSet(StringComparer.Ordinal);
        var missing = baseGraph.Nodes.Where(n => !present.Contains(n.Id)).Select(n => n.Id).ToHashSet(StringComparer.Ordinal);
        var blocks = DroppableBlocks.Find(baseGraph, baseWeights).Where(b => !present.Contains(b.Exit.Id)).ToList();
        var covered = blocks.SelectMany(b => b.Body.Select(n => n.Id).Append(b.Exit.Id)).ToHashSet(StringComparer.Ordinal);
        return covered.SetEquals(missing) ? blocks : null;
    }

    string CoupledWith(ChannelSource s, Dictionary<string, int> targets)
    {
        var roots = Enumerable.Range(s.FirstRef, s.Size).Select(Analysis.Find).ToHashSet();
        var others =
            Analysis.Sources.Where(o => o != s && !o.Fixed && o.Node != null
            && Enumerable.Range(o.FirstRef, o.Size).Any(r => roots.Contains(Analysis.Find(r))))
            .Select(o => $"{o.Node!.Id} ({o.Node.Op}, {targets.GetValueOrDefault(o.Node.Id, o.Size)} channels)").Take(3).ToList();
        return others.Count > 0 ? string.Join(", ", others) : "a layer whose width is fixed";
    }

    void CheckStructure(Graph candidate, List<Diagnostic> diagnostics)
    {
        if (candidate.Nodes.Count != baseGraph.Nodes.Count)
        {
            diagnostics.Add(Diagnostic.Syntax(ValidationCodes.Structure, "graph",
                $"has {candidate.Nodes.Count} nodes, the base has {baseGraph.Nodes.Count}; keep every node and change only channel " +
                    "widths (ch=)"));
            return;
        }
        for (int i = 0; i < baseGraph.Nodes.Count; i++)
        {
            var b = baseGraph.Nodes[i];
            var c = candidate.Nodes[i];
            var position = $"{c.Id} ({c.Op})";
            if (c.Id != b.Id || c.Op != b.Op || c.Domain != b.Domain)
                diagnostics.Add(Diagnostic.Syntax(ValidationCodes.Structure, position,
                    $"line {i + 1} of the nodes must be {b.Id} ({b.Op}) as in the base architecture"));
            else if (c.Output != b.Output || c.OutputCount != b.OutputCount || !c.EdgeInputs.SequenceEqual(b.EdgeInputs))
                diagnostics.Add(Diagnostic.Syntax(ValidationCodes.Structure, position,
                    $"its connections differ from the base ({string.Join(", ", b.EdgeInputs.Select(e => "%" + e.Key))} -> %{b.Output}); " +
                        "keep every edge"));
            if (diagnostics.Count >= 5) return;
        }
    }

    static void CheckDeclaredChannels(Graph candidate, Graph realized, List<Diagnostic> diagnostics)
    {
        for (int i = 0; i < realized.Nodes.Count && diagnostics.Count < 10; i++)
        {
            var r = realized.Nodes[i];
            var c = candidate.Nodes[i];
            if (c.InChannels is { } ci && r.InChannels is { } ri && ci != ri)
                diagnostics.Add(Diagnostic.Syntax(ValidationCodes.ChannelMismatch, $"{c.Id} ({c.Op})",
                    $"declares {ci} input channels, but its input %{c.EdgeInputs.FirstOrDefault()?.Key} carries {ri}"));
            else if (c.OutChannels is { } co && r.OutChannels is { } ro && co != ro)
                diagnostics.Add(Diagnostic.Syntax(ValidationCodes.ChannelMismatch, $"{c.Id} ({c.Op})",
                    $"declares {co} output channels, but with the widths of the layers before it the output has {ro}"));
        }
    }
}

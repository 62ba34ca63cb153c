using Lamda.Graphs;
using Lamda.Latency;
using Lamda.Text;

namespace Lamda.Adaptation;

/// <summary>
/// The default generator: a deterministic search over layer widths. For each channel multiple that suits the
/// device (its convolution tile first, then finer ones), it bisects a width factor so that predicted latency
/// is as high as possible without exceeding the aim, and returns the largest such architecture. Widths come
/// from L1 importance under every channel coupling; the result is written as LamdaText like any generator's.
/// </summary>
internal sealed class SearchGenerator : IBoundedGenerator
{
    readonly WeightTransfer transfer;
    readonly LatencyPredictor predictor;
    readonly int[] multiples;
    readonly Dictionary<(int, int), (double Ms, Graph Graph, Dictionary<string, int> Widths)> cache = [];
    readonly Dictionary<string, (double Ms, Graph Graph)> widthCache = [];
    readonly List<ChannelSource[]> clusters;

    readonly bool depthEdits;
    readonly string familyPrefix;

    /// <param name="transfer">the base model's channel analysis and weights</param>
    /// <param name="predictor">the device's latency predictor, which ranks candidates</param>
    /// <param name="depthEdits">whether residual blocks may be dropped when widths alone cannot meet the aim</param>
    public SearchGenerator(WeightTransfer transfer, LatencyPredictor predictor, bool depthEdits = true)
        : this(transfer, predictor, depthEdits, "") { }

    SearchGenerator(WeightTransfer transfer, LatencyPredictor predictor, bool depthEdits, string familyPrefix)
    {
        this.transfer = transfer;
        this.depthEdits = depthEdits;
        this.familyPrefix = familyPrefix;
        this.predictor = predictor;
        var g = predictor.Profile.Channels;
        multiples = new[] { g.PreferredMultiple, Math.Max(g.InputBlock, g.DepthwiseBlock), 4, 1 }.Where(m => m >= 1).Distinct().ToArray();
        clusters = Clusters(transfer.Analysis);
    }

    /// <summary>Removable layers grouped by coupling: layers that share any channel component must change width together.</summary>
    static List<ChannelSource[]> Clusters(ChannelAnalysis a)
    {
        var sources = a.Sources.Where(s => s.Node != null && !a.IsFixed(s)).ToList();
        var parent = Enumerable.Range(0, sources.Count).ToArray();
        int Find(int i) { while (parent[i] != i) i = parent[i] = parent[parent[i]]; return i; }
        var owner = new Dictionary<int, int>();
        for (int i = 0; i < sources.Count; i++)
            for (int r = sources[i].FirstRef; r < sources[i].FirstRef + sources[i].Size; r++)
            {
                int root = a.Find(r);
                if (owner.TryGetValue(root, out var j)) parent[Find(i)] = Find(j); else owner[root] = i;
            }
        return sources.Select((s, i) => (s, i)).GroupBy(x => Find(x.i)).Select(g => g.Select(x => x.s).ToArray()).ToList();
    }

    public string Name => "search";

    /// <summary>The family of an answer: the channel multiple, prefixed by the number of residual blocks dropped.</summary>
    string FamilyOf(int multiple) => $"{familyPrefix}w{multiple}";

    /// <summary>Predicted latency and graph of the uniform width factor (in thousandths) at a channel multiple.</summary>
    (double Ms, Graph Graph, Dictionary<string, int> Widths) Evaluate(int permille, int multiple)
    {
        if (cache.TryGetValue((permille, multiple), out var hit)) return hit;
        var widths = ChannelSelection.UniformWidths(transfer.Analysis, permille / 1000.0, multiple);
        var (ms, graph) = EvaluateWidths(widths);
        return cache[(permille, multiple)] = (ms, graph, widths);
    }

    (double Ms, Graph Graph) EvaluateWidths(Dictionary<string, int> widths)
    {
        var key = string.Join(",", widths.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => kv.Value));
        if (widthCache.TryGetValue(key, out var hit)) return hit;
        var a = transfer.Analysis;
        var (keep, _) = ChannelSelection.ToWidths(a, widths, transfer.Importance);
        var (graph, weights) = ChannelPruner.Apply(a, keep, shapesOnly: true);
        return widthCache[key] = (predictor.Predict(graph, weights).LatencyMs, graph);
    }

    /// <summary>
    /// Fills the gap between a uniform candidate and the aim: widens one coupled cluster at a time by one channel
    /// multiple, the relatively narrowest first (so the architecture stays close to uniform), while the
    /// prediction stays within the aim.
    /// </summary>
    (double Ms, Graph Graph) Fill(Dictionary<string, int> start, double ms, Graph graph, int multiple, double aim)
    {
        var widths = new Dictionary<string, int>(start);
        var exhausted = new HashSet<int>();
        for (int step = 0; step < 400 && exhausted.Count < clusters.Count; step++)
        {
            bool grown = false;
            foreach (var (cluster, index) in clusters.Select((c, i) => (c, i)).Where(x => !exhausted.Contains(x.i))
                         .OrderBy(x => x.c.Average(s => widths[s.Node!.Id] / (double)s.Size)).ThenBy(x => x.i))
            {
                if (cluster.All(s => widths[s.Node!.Id] >= s.Size)) { exhausted.Add(index); continue; }
                var next = new Dictionary<string, int>(widths);
                foreach (var s in cluster) next[s.Node!.Id] = Math.Min(s.Size, widths[s.Node.Id] + multiple);
                var (nextMs, nextGraph) = EvaluateWidths(next);
                if (nextMs > aim) { exhausted.Add(index); continue; }
                (widths, ms, graph, grown) = (next, nextMs, nextGraph, true);
                break;
            }
            if (!grown) break;
        }
        return (ms, graph);
    }

    /// <summary>The smallest architecture this generator can produce (all residual blocks dropped), with its predicted latency.</summary>
    public (double PredictedMs, string Text) Smallest()
    {
        var (ms, graph, _) = multiples.Select(m => Evaluate(0, m)).MinBy(r => r.Ms);
        var result = (ms, LamdaTextWriter.Write(graph));
        if (depthEdits && Shallower(Blocks().Count) is { } shallow && shallow.Smallest() is var s && s.PredictedMs < ms) result = s;
        return result;
    }

    /// <inheritdoc/>
    public IEnumerable<(double PredictedMs, string Text)> SmallestCandidates()
    {
        var own = multiples.Select(m => Evaluate(0, m)).Select(r => (r.Ms, LamdaTextWriter.Write(r.Graph)));
        var shallow = depthEdits && Shallower(Blocks().Count) is { } s ? s.SmallestCandidates() : [];
        return own.Concat(shallow).DistinctBy(c => c.Item2).ToList();
    }

    List<ResidualBlock>? blocks;
    readonly Dictionary<int, SearchGenerator?> shallower = [];

    /// <summary>Residual blocks of the base, the most expensive branch first (dropping it saves the most).</summary>
    List<ResidualBlock> Blocks()
    {
        if (blocks != null) return blocks;
        var g = transfer.Analysis.Graph;
        var kernels = KernelExtractor.Extract(g, transfer.Analysis.Weights);
        double modelWeights = LatencyPredictor.ModelMWeights(kernels);
        double Cost(ResidualBlock b) => kernels.Where(k => k.Nodes.Any(b.Branch.Contains)).Sum(k => predictor.KernelMs(k, modelWeights));
        return blocks = ResidualBlocks.Find(g, transfer.Analysis.Weights)
            .OrderByDescending(Cost).ThenBy(b => b.Add.Id, StringComparer.Ordinal).ToList();
    }

    /// <summary>A generator for the base without its first <paramref name="count"/> blocks (a depth edit), or null.</summary>
    SearchGenerator? Shallower(int count)
    {
        if (count == 0 || count > Blocks().Count) return null;
        if (!shallower.TryGetValue(count, out var g))
            shallower[count] = g = new SearchGenerator(
                transfer.WithoutBlocks(Blocks().Take(count).ToList()), predictor, depthEdits: false, $"d{count}/");
        return g;
    }

    public Proposal Generate(GenerationRequest request)
    {
        // Each multiple is its own family with its own aim; the winner is the candidate that comes closest to
        // its family's aim, since that is the one expected to land closest to the budget on the device.
        (double Reach, double Ms, Graph Graph, Dictionary<string, int> Widths, int Multiple, double Aim)? best = null;
        foreach (var multiple in multiples)
        {
            double aim = request.AimFor(FamilyOf(multiple));
            int lo = 0, hi = 1000;
            if (Evaluate(lo, multiple).Ms > aim) continue;
            if (Evaluate(hi, multiple).Ms <= aim) lo = hi;
            while (hi - lo > 2)
            {
                int mid = (lo + hi) / 2;
                if (Evaluate(mid, multiple).Ms <= aim) lo = mid; else hi = mid;
            }
            var (ms, graph, widths) = Evaluate(lo, multiple);
            // Coarser multiples come first and win ties: aligned widths run on the fast path.
            if (best == null || ms / aim > best.Value.Reach * 1.01) best = (ms / aim, ms, graph, widths, multiple, aim);
        }
        if (best is not { } b)
        {
            // No width-only architecture fits: drop residual blocks, one more at a time, and search widths again.
            for (int count = 1; depthEdits && count <= Blocks().Count; count++)
                if (Shallower(count) is { } shallow && shallow.Smallest().PredictedMs <= request.AimPredictedMs)
                    return shallow.Generate(request);
            var smallest = multiples.Select(m => (m, r: Evaluate(0, m))).MinBy(x => x.r.Ms);
            return new Proposal(LamdaTextWriter.Write(smallest.r.Graph), FamilyOf(smallest.m));
        }
        var filled = Fill(b.Widths, b.Ms, b.Graph, b.Multiple, b.Aim);
        return new Proposal(LamdaTextWriter.Write(filled.Graph), FamilyOf(b.Multiple));
    }
}

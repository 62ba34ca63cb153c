using Lamda.Graphs;
using Lamda.Latency;
using Lamda.Text;

namespace Lamda.Adaptation;

/// <summary>
/// The default generator: a deterministic search over layer widths. For each channel multiple that suits the
/// device (its convolution tile first, then finer ones), it bisects a width factor so that predicted latency
/// is as high as possible without exceeding the aim, and returns the largest such architecture. Widths come
/// from L1 importance under every channel coupling; the result is written as LamdaText like any generator's.
/// With calibration data the factor is not uniform: each coupled layer group is narrowed in proportion to the
/// latency it saves over the damage it does to the outputs (<see cref="PruningSensitivity"/>), so one width factor
/// still names one architecture, and the search and everything after it are unchanged.
/// </summary>
internal sealed class SearchGenerator : IBoundedGenerator
{
    readonly WeightTransfer transfer;
    readonly LatencyPredictor predictor;
    readonly int[] multiples;
    readonly Dictionary<(int, int, int), (double Ms, Graph Graph, Dictionary<string, int> Widths)> cache = [];
    readonly Dictionary<string, (double Ms, Graph Graph)> widthCache = [];
    readonly List<ChannelSource[]> clusters;

    readonly bool depthEdits;
    readonly string familyPrefix;
    readonly PruningSensitivity? sensitivity;
    readonly Func<string, double?>? judge;
    readonly IProgress<string>? progress;
    // Each cluster's saving over damage relative to the median cluster's (null until probed, or without sensitivity).
    double[]? ratios;
    // How fast each cluster narrows as the width factor falls, per spreading (1 for all: a uniform factor).
    readonly Dictionary<int, double[]> rates = [];
    // The spreading in use (an index into Spreadings): the first until the judge has compared them.
    int spreading;
    bool spreadingJudged;
    // The widths of every architecture this generator proposed, by its LamdaText: the ends of a bracket.
    readonly Dictionary<string, Dictionary<string, int>> proposed = [];

    /// <param name="transfer">the base model's channel analysis and weights</param>
    /// <param name="predictor">the device's latency predictor, which ranks candidates</param>
    /// <param name="depthEdits">whether blocks (<see cref="DroppableBlock"/>) may be dropped when widths alone cannot meet the aim</param>
    /// <param name="sensitivity">the outputs' damage from a narrowed architecture, to spread widths by; null: a uniform factor</param>
    /// <param name="progress">where the probing of layer groups is reported</param>
    /// <param name="judge">the agreement with the base of an answer's architecture once reconstructed (null when it cannot be
    /// built), to choose the spreading by; null keeps the first</param>
    public SearchGenerator(WeightTransfer transfer, LatencyPredictor predictor, bool depthEdits = true,
        PruningSensitivity? sensitivity = null, IProgress<string>? progress = null, Func<string, double?>? judge = null)
        : this(transfer, predictor, depthEdits, "", sensitivity, progress, judge) { }

    SearchGenerator(WeightTransfer transfer, LatencyPredictor predictor, bool depthEdits, string familyPrefix,
        PruningSensitivity? sensitivity, IProgress<string>? progress, Func<string, double?>? judge)
    {
        this.transfer = transfer;
        this.depthEdits = depthEdits;
        this.familyPrefix = familyPrefix;
        this.sensitivity = sensitivity;
        this.judge = judge;
        this.progress = progress;
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

    /// <summary>The family of an answer: the channel multiple, prefixed by the number of blocks dropped.</summary>
    string FamilyOf(int multiple) => $"{familyPrefix}w{multiple}";

    /// <summary>Predicted latency and graph of the width factor (in thousandths) at a channel multiple.</summary>
    (double Ms, Graph Graph, Dictionary<string, int> Widths) Evaluate(int permille, int multiple)
    {
        if (cache.TryGetValue((permille, multiple, spreading), out var hit)) return hit;
        var widths = WidthsAt(permille, multiple);
        var (ms, graph) = EvaluateWidths(widths);
        return cache[(permille, multiple, spreading)] = (ms, graph, widths);
    }

    /// <summary>
    /// The widths of a factor: uniform without sensitivity; with it, each cluster keeps 1 - t * rate of its channels,
    /// where t runs from 0 (the base, at 1000) to the value that empties the slowest-narrowing cluster (at 0), so
    /// the ends of the factor's range are the same architectures as the uniform factor's. A spreading with a least
    /// share keeps every cluster at that share at least, or at the factor when that is less (the slowest-narrowing
    /// cluster keeps the factor's share), so the narrowest end does not move either.
    /// </summary>
    Dictionary<string, int> WidthsAt(int permille, int multiple)
    {
        // The narrowest end is the same at any rates: no probe needed to name the floor.
        if (sensitivity == null || permille == 0) return ChannelSelection.UniformWidths(transfer.Analysis, permille / 1000.0, multiple);
        var rate = Rates(spreading);
        double t = (1 - permille / 1000.0) / rate.Min(), least = Math.Min(Spreadings[spreading].LeastShare, permille / 1000.0);
        var widths = ChannelSelection.UniformWidths(transfer.Analysis, 1 - Math.Min(1, t), multiple);
        for (int c = 0; c < clusters.Count; c++)
            foreach (var s in clusters[c])
                widths[s.Node!.Id] = ChannelSelection.Target(s.Size, Math.Max(least, 1 - Math.Min(1, t * rate[c])), multiple);
        return widths;
    }

    /// <summary>
    /// One way to spread the widths: the power of each cluster's saving over damage that sets its narrowing rate, and the
    /// least share of its channels every cluster keeps.
    /// </summary>
    readonly record struct Spreading(double Power, double LeastShare)
    {
        public override string ToString() => LeastShare > 0 ? $"{Power:G2} keeping {LeastShare * 100:F0}%" : $"{Power:G2}";
    }

    /// <summary>
    /// The spreadings the judge (when there is one) chooses from by how well each one's first answer agrees with the base
    /// once reconstructed, from the strongest to the mildest. No power suits every model: the recognizer's first candidate,
    /// reconstructed, agreed with the base on 93.8%, 85.1% and 81.9% of positions at 0.5 (seeds 3, 0, 2: trained, 88.0%,
    /// 86.3% and 75.0% of lines read) and on 94.3%, 94.3% and 90.3% at 0.75, while ppocr_det at 640x640 kept 0.905-0.912
    /// of text-mask IoU at 0.5 and 0.896-0.898 at 0.75 (docs/benchmarks.md). 0.25 and a uniform factor were worse on the
    /// recognizer, and the damage before reconstruction did not rank them. One probe removes half a cluster, so a rate
    /// that empties a cluster to a fifth extrapolates far past what was measured: the recognizer's answers that kept 19%
    /// and 16% of a layer read 73.3% and 81.0% of lines after the same training, those whose narrowest layer kept 30% or
    /// more read 87.0-87.7% (sixteenth session). Hence a third spreading with a least share.
    /// </summary>
    static readonly Spreading[] Spreadings = [new(0.75, 0), new(0.5, 0), new(0.5, LeastShare)];

    /// <summary>The least share of its channels a cluster keeps in the spreading that has one.</summary>
    const double LeastShare = 0.3;

    /// <summary>
    /// How much better a stronger spreading must agree, after reconstruction alone, to be kept over a milder one. That
    /// agreement (before any fine-tuning, on the validation inputs) tells the powers apart when they differ by several
    /// points, not by one: on the held-out recognizer, seeds 1 and 2 agreed on 93.31% and 93.50% at 0.75 against 93.00%
    /// and 92.37% at 0.5, kept 0.75, and read 83.0% and 83.7% of lines after fine-tuning, where the runs that kept 0.5
    /// read 85.3-89.7% (docs/benchmarks.md, eleventh session).
    /// </summary>
    const double SpreadingMargin = 0.02;

    /// <summary>Narrowing of a probe: the share of a cluster's channels removed to measure its saving and its damage.</summary>
    const double ProbeCut = 0.5;

    /// <summary>
    /// Each cluster's narrowing rate: with damage growing about as the square of the channels removed and latency
    /// saved about in proportion, the rate that costs the least damage for the latency is proportional to saving over
    /// damage; a power of that ratio (relative to the median cluster) below 1 tempers what one probe can tell, and the
    /// clamp keeps every cluster narrowing a little and none at more than three times the median's pace.
    /// </summary>
    double[] Rates(int at)
    {
        if (rates.TryGetValue(at, out var known)) return known;
        var ratio = Ratios();
        return rates[at] = ratio == null
            ? Enumerable.Repeat(1.0, clusters.Count).ToArray()
            : ratio.Select(r => Math.Clamp(Math.Pow(r, Spreadings[at].Power), 0.1, 3)).ToArray();
    }

    /// <summary>Each cluster's saving over damage relative to the median cluster's, one probe each; null without sensitivity.</summary>
    double[]? Ratios()
    {
        if (ratios != null || sensitivity == null) return ratios;
        var a = transfer.Analysis;
        var full = a.Sources.Where(s => !s.Fixed && s.Node != null).ToDictionary(s => s.Node!.Id, s => s.Size);
        double baseMs = EvaluateWidths(full).Ms;
        var ratio = new double[clusters.Count];
        var clock = System.Diagnostics.Stopwatch.StartNew();
        for (int c = 0; c < clusters.Count; c++)
        {
            var widths = new Dictionary<string, int>(full);
            foreach (var s in clusters[c]) widths[s.Node!.Id] = ChannelSelection.Target(s.Size, 1 - ProbeCut, multiples[^1]);
            // One pruning with the weights serves both the prediction and the damage (a probe's widths are not searched again).
            var (keep, _) = ChannelSelection.ToWidths(a, widths, transfer.Importance);
            var (graph, weights) = ChannelPruner.Apply(a, keep);
            double saving = Math.Max(baseMs - predictor.Predict(graph, weights).LatencyMs, 1e-6);
            ratio[c] = saving / Math.Max(sensitivity.Of(new Candidate(graph, weights)), 1e-9);
            if ((c + 1) % 10 == 0) progress?.Report($"probed {c + 1}/{clusters.Count} layer groups for their sensitivity");
        }
        double median = ratio.Order().ElementAt(ratio.Length / 2);
        ratios = ratio.Select(r => r / median).ToArray();
        var first = Rates(0);
        progress?.Report($"probed {clusters.Count} layer groups in {clock.Elapsed.TotalSeconds:F1} s: narrowing rates " +
            $"{first.Min():F2}-{first.Max():F2} of the median's");
        return ratios;
    }

    /// <summary>
    /// Chooses the spreading once, at the first answer: each spreading's answer to that request, reconstructed and run on
    /// the validation inputs by the judge (an answer another spreading gave already is not judged again). The mildest
    /// spreading within <see cref="SpreadingMargin"/> of the best agreement wins (the first when none can be judged).
    /// </summary>
    void JudgeSpreadings(GenerationRequest request)
    {
        if (spreadingJudged) return;
        spreadingJudged = true;
        if (sensitivity == null || judge == null) return;
        var agreements = new double?[Spreadings.Length];
        var byText = new Dictionary<string, double?>(StringComparer.Ordinal);
        for (spreading = 0; spreading < Spreadings.Length; spreading++)
        {
            var text = Search(request).Text;
            agreements[spreading] = byText.TryGetValue(text, out var known) ? known : byText[text] = judge(text);
        }
        double best = agreements.Max(a => a ?? -1);
        spreading = best < 0 ? 0
            : Enumerable.Range(0, Spreadings.Length).Last(i => agreements[i] is { } a && a >= best - SpreadingMargin);
        progress?.Report("spreading power: " + string.Join(", ", Spreadings.Select((p, i) =>
            $"{p} agrees on {(agreements[i] is { } a ? a.ToString("P2") : "n/a")}"))
            + $" after reconstruction; {Spreadings[spreading]} kept");
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
    (double Ms, Graph Graph, Dictionary<string, int> Widths) Fill(Dictionary<string, int> start, double ms, Graph graph, int multiple,
        double aim)
    {
        var widths = new Dictionary<string, int>(start);
        var exhausted = new HashSet<int>();
        for (int step = 0; step < 400 && exhausted.Count < clusters.Count; step++)
        {
            bool grown = false;
            foreach (var (cluster, index) in clusters.Select((c, i) => (c, i)).Where(x => !exhausted.Contains(x.i))
                         .OrderBy(x => x.c.Average(s => widths[s.Node!.Id] / (double)s.Size) * Rates(spreading)[x.i]).ThenBy(x => x.i))
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
        return (ms, graph, widths);
    }

    /// <summary>The smallest architecture this generator can produce (all droppable blocks dropped), with its predicted latency.</summary>
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

    List<DroppableBlock>? blocks;
    readonly Dictionary<int, SearchGenerator?> shallower = [];

    /// <summary>The blocks a depth edit may drop from the base, the most expensive first (dropping it saves the most).</summary>
    List<DroppableBlock> Blocks()
    {
        if (blocks != null) return blocks;
        var g = transfer.Analysis.Graph;
        var kernels = KernelExtractor.Extract(g, transfer.Analysis.Weights);
        var footprint = ModelFootprint.Of(kernels);
        double Cost(DroppableBlock b) => kernels.Where(k => k.Nodes.Any(b.Body.Contains)).Sum(k => predictor.KernelMs(k, footprint));
        return blocks = DroppableBlocks.Find(g, transfer.Analysis.Weights)
            .OrderByDescending(Cost).ThenBy(b => b.Exit.Id, StringComparer.Ordinal).ToList();
    }

    /// <summary>A generator for the base without its first <paramref name="count"/> blocks (a depth edit), or null.</summary>
    SearchGenerator? Shallower(int count)
    {
        if (count == 0 || count > Blocks().Count) return null;
        if (!shallower.TryGetValue(count, out var g))
            shallower[count] = g = new SearchGenerator(
                transfer.WithoutBlocks(Blocks().Take(count).ToList()), predictor, depthEdits: false, $"d{count}/", sensitivity, progress,
                judge);
        return g;
    }

    public Proposal Generate(GenerationRequest request)
    {
        JudgeSpreadings(request);
        var answer = Search(request);
        // A repeat teaches the loop nothing new: between the two nearest misses is a candidate the aim cannot name.
        return proposedBefore.Contains(answer.Text) && request.Bracket is { } bracket && Between(bracket) is { } between
            ? Remember(between) : Remember(answer);
    }

    // Every answer given so far, by its LamdaText: a repeat is the same text again.
    readonly HashSet<string> proposedBefore = [];

    Proposal Remember(Proposal p)
    {
        proposedBefore.Add(p.Text);
        return p;
    }

    Proposal Search(GenerationRequest request)
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
            // No width-only architecture fits: drop blocks, one more at a time, and search widths again.
            for (int count = 1; depthEdits && count <= Blocks().Count; count++)
                if (Shallower(count) is { } shallow && shallow.Smallest().PredictedMs <= request.AimPredictedMs)
                    return shallow.Search(request);
            var smallest = multiples.Select(m => (m, r: Evaluate(0, m))).MinBy(x => x.r.Ms);
            return Propose(smallest.r.Graph, smallest.r.Widths, FamilyOf(smallest.m)) with { Smallest = true };
        }
        var filled = Fill(b.Widths, b.Ms, b.Graph, b.Multiple, b.Aim);
        return Propose(filled.Graph, filled.Widths, FamilyOf(b.Multiple));
    }

    Proposal Propose(Graph graph, Dictionary<string, int> widths, string family, string? note = null)
    {
        var text = LamdaTextWriter.Write(graph);
        proposed.TryAdd(text, widths);
        return new Proposal(text, family, note);
    }

    /// <summary>
    /// An architecture between the two ends of the bracket, when this generator (or one of its shallower ones) made
    /// both and one lies strictly between them; null otherwise, and the search answers as usual.
    /// </summary>
    Proposal? Between(Bracket bracket)
    {
        foreach (var g in shallower.Values.Prepend(this).OfType<SearchGenerator>())
            if (g.proposed.TryGetValue(bracket.Under.Text, out var under) && g.proposed.TryGetValue(bracket.Over.Text, out var over))
                return g.Mix(under, over, bracket);
        return null;
    }

    /// <summary>
    /// Moves the layers from the widths under the band towards those over it, cluster by cluster in graph order and
    /// in steps that keep the alignment both ends share, and stops where the moved share of the predicted change
    /// (each cluster's own, moved alone) is nearest the goal's share of the measured gap. A finer last step than
    /// any width factor: only part of the layers move to their next aligned width. When that architecture was
    /// proposed before (its measurement fell outside the two ends), the next nearest stop is taken, so the
    /// neighbourhood of the goal is explored rather than repeated. Null when no new architecture lies strictly between.
    /// </summary>
    Proposal? Mix(Dictionary<string, int> under, Dictionary<string, int> over, Bracket bracket)
    {
        var moves = Moves(under, over);
        double weightSum = moves.Sum(m => m.Weight), wanted = bracket.Fraction * weightSum, done = 0;
        var stops = new List<(int Move, int Steps, double Miss)>();
        for (int m = 0; m < moves.Count; m++)
            for (int step = 1; step <= moves[m].Steps; step++)
            {
                double at = done + moves[m].Weight * step / moves[m].Steps;
                if (m < moves.Count - 1 || step < moves[m].Steps) stops.Add((m, step, Math.Abs(at - wanted)));
                if (step == moves[m].Steps) done = at;
            }
        foreach (var stop in stops.OrderBy(s => s.Miss).ThenBy(s => s.Move).ThenBy(s => s.Steps).Take(MixTries))
        {
            var widths = new Dictionary<string, int>(under);
            for (int m = 0; m <= stop.Move; m++)
                foreach (var s in moves[m].Cluster)
                {
                    int by = m < stop.Move ? int.MaxValue : stop.Steps * moves[m].Step;
                    widths[s.Node!.Id] = Toward(under[s.Node.Id], over[s.Node.Id], by);
                }
            var (_, graph) = EvaluateWidths(widths);
            if (proposed.ContainsKey(LamdaTextWriter.Write(graph))) continue;
            return Propose(graph, widths, $"{familyPrefix}between",
                $"between the candidates at {bracket.Under.Ms:F3} and {bracket.Over.Ms:F3} ms "
                + $"({stop.Move + 1} of {moves.Count} layer groups moved)");
        }
        return null;
    }

    /// <summary>Stops between two ends tried at most for one answer (each is a prediction of a new architecture).</summary>
    const int MixTries = 8;

    /// <summary>
    /// The clusters whose widths differ between the two ends: the step that keeps the alignment both ends share (the
    /// largest of the generator's multiples that divides every difference), the number of such steps, and the
    /// predicted change of moving the cluster alone (a small floor, so that no cluster the predictor ignores is free).
    /// </summary>
    List<(ChannelSource[] Cluster, int Step, int Steps, double Weight)> Moves(Dictionary<string, int> under, Dictionary<string, int> over)
    {
        double baseMs = EvaluateWidths(under).Ms;
        var moves = new List<(ChannelSource[] Cluster, int Step, int Steps, double Weight)>();
        foreach (var cluster in clusters)
        {
            var gaps = cluster.Select(s => Math.Abs(over[s.Node!.Id] - under[s.Node.Id])).Where(d => d > 0).ToList();
            if (gaps.Count == 0) continue;
            int step = multiples.Where(m => gaps.All(d => d % m == 0)).DefaultIfEmpty(1).Max();
            var moved = new Dictionary<string, int>(under);
            foreach (var s in cluster) moved[s.Node!.Id] = over[s.Node.Id];
            moves.Add((cluster, step, (gaps.Max() + step - 1) / step, Math.Abs(EvaluateWidths(moved).Ms - baseMs)));
        }
        double floor = 0.05 * moves.Select(m => m.Weight).DefaultIfEmpty().Average();
        return moves.Select(m => m with { Weight = Math.Max(m.Weight, floor) + 1e-12 }).ToList();
    }

    /// <summary>A width moved from <paramref name="from"/> towards <paramref name="to"/> by at most <paramref name="by"/>.</summary>
    static int Toward(int from, int to, int by) => from + Math.Sign(to - from) * Math.Min(Math.Abs(to - from), by);
}

namespace Lamda.Latency;

/// <summary>
/// What the composition sees of a whole model: its kernels' predicted sum, the reordered elements, the kernels dispatched,
/// and the reordered elements beyond a core's cache (each reorder's elements past the cache's size).
/// </summary>
public readonly record struct CompositionFeatures(double KernelSumMs, double ReorderedMElements, int Kernels,
    double ReorderedBeyondCacheMElements = 0)
{
    /// <summary>
    /// The kernel sum times the doublings of its length, counted up to <paramref name="capMs"/> (0: no limit):
    /// <see cref="Composition.LongRunFactor"/>'s feature, up to <see cref="Composition.LongRunCapMs"/>.
    /// </summary>
    public double LongRunUpTo(double capMs) => KernelSumMs * Math.Log2(1 + (capMs > 0 ? Math.Min(KernelSumMs, capMs) : KernelSumMs));

    /// <summary>
    /// The features in the order of the composition's fitted coefficients (a constant first); the reordered elements beyond the
    /// cache count <paramref name="beyondCacheWeight"/> times more, and the long-run term counts doublings up to
    /// <paramref name="longRunCapMs"/> (<see cref="Composition.Fit"/>).
    /// </summary>
    public double[] ToVector(double beyondCacheWeight = 0, double longRunCapMs = 0) =>
        [1, KernelSumMs, ReorderedMElements + beyondCacheWeight * ReorderedBeyondCacheMElements, Kernels, LongRunUpTo(longRunCapMs)];
}

/// <summary>
/// How kernel latencies compose into whole-model latency:
/// <c>ms = OverheadMs + Scale x kernel sum + ReorderMsPerMElement x reordered elements
/// + ReorderBeyondCacheMsPerMElement x reordered elements beyond the cache + NodeMs x kernels
/// + LongRunFactor x kernel sum x log2(1 + min(kernel sum, LongRunCapMs) in ms)</c>.
/// Every term is a physical cost and so is non-negative; the fixed overhead is at least what a session run of
/// an empty model costs, so that tiny models (a few kernels of a few microseconds) are not predicted below
/// what the runtime needs to run anything. Fitted on generated networks measured whole (docs/latency.md).
/// </summary>
public sealed record Composition
{
    /// <summary>Factor applied to the sum of the kernels' predictions.</summary>
    public double Scale { get; init; } = 1;
    /// <summary>Milliseconds per million elements that cross between the blocked and the plain layout (reorders).</summary>
    public double ReorderMsPerMElement { get; init; }
    /// <summary>
    /// Milliseconds more per million reordered elements beyond a core's cache: a reorder that does not fit there moves its
    /// elements at about half the speed. LR-ASPP's last reorder (its 21 class maps at 256x256, 2.1 million elements padded)
    /// took 0.28-0.31 ms in context where the one price of every reorder said 0.13 ms: 6% of its time at width 0.25, where
    /// it was predicted 11.5% under on average over 20 bench runs. The share comes from the reorders timed in context
    /// (<see cref="Fit"/>). Zero in profiles made before it.
    /// </summary>
    public double ReorderBeyondCacheMsPerMElement { get; init; }
    /// <summary>Milliseconds per kernel the runtime dispatches, beyond what the kernel models cover (the executor's own work).</summary>
    public double NodeMs { get; init; }
    /// <summary>
    /// Share of the kernel sum added per doubling of its length (ms): a long model runs its kernels slower than the short
    /// networks they were timed in. On a 2-core Intel Xeon (AVX-512, 2 MiB of L2 a core) the calibration networks of over
    /// 5 ms were predicted 4% low and those under 0.1 ms 9% high by one scale alone, and the held-out families of 2-50 ms
    /// 7% low (resnext_style 11%), each kernel slower in them than in the calibration networks; fitted on the same
    /// calibration networks, this term took the held-out families from 25-28 to 31-36 of 36 within 10% (three profiles
    /// each, the same measurements; docs/benchmarks.md).
    /// Zero where the machine shows no such slowdown, and in profiles made before it.
    /// </summary>
    public double LongRunFactor { get; init; }
    /// <summary>
    /// The kernel sum (ms) up to which the long-run term counts doublings: the longest network it was fitted on. Beyond it the
    /// term is not extrapolated. Fitted on calibration networks of at most 7.4-11 ms, it came out at 0-2.2% per doubling from
    /// one calibration to the next on the AMD EPYC and put resnext_style (31 ms, five doublings) 4.5-7% over its time on
    /// average over 11 bench runs, where its kernels in context sum to its time. Counted up to the longest calibration
    /// network, the quiet runs among them, worked out again from their logs, met the quiet goal in 7 of 8 instead of 5
    /// (docs/benchmarks.md). Not a coefficient: a profile rescaled (<see cref="Times"/>) keeps it. Zero (no limit) in
    /// profiles made before it.
    /// </summary>
    public double LongRunCapMs { get; init; }
    /// <summary>Fixed cost of a session run, added once per model.</summary>
    public double OverheadMs { get; init; }
    /// <summary>Generated networks the composition was fitted on (0 for spec profiles).</summary>
    public int Samples { get; init; }
    /// <summary>Where the figures come from, for reports.</summary>
    public string Provenance { get; init; } = "";

    /// <summary>Positive scale; finite, non-negative costs.</summary>
    public bool IsPhysical =>
        double.IsFinite(Scale) && Scale > 0
        && new[] { ReorderMsPerMElement, ReorderBeyondCacheMsPerMElement, NodeMs, OverheadMs, LongRunFactor, LongRunCapMs }
            .All(c => double.IsFinite(c) && c >= 0);

    /// <summary>
    /// Every prediction multiplied by <paramref name="factor"/>: every term is a coefficient on a feature the kernel models
    /// give, so each coefficient is scaled (here, next to the terms, so that a new one is not forgotten).
    /// </summary>
    public Composition Times(double factor) => this with
    {
        Scale = Scale * factor, OverheadMs = OverheadMs * factor, NodeMs = NodeMs * factor,
        ReorderMsPerMElement = ReorderMsPerMElement * factor, LongRunFactor = LongRunFactor * factor,
        ReorderBeyondCacheMsPerMElement = ReorderBeyondCacheMsPerMElement * factor,
    };

    /// <summary>The model's latency in milliseconds from its kernels' predicted sum and the model-level features.</summary>
    public double Predict(CompositionFeatures f) =>
        Math.Max(0, OverheadMs + Scale * f.KernelSumMs + ReorderMsPerMElement * f.ReorderedMElements
            + ReorderBeyondCacheMsPerMElement * f.ReorderedBeyondCacheMElements + NodeMs * f.Kernels
            + LongRunFactor * f.LongRunUpTo(LongRunCapMs));

    /// <summary>
    /// Non-negative relative least squares on the whole-model measurements, above a fixed floor: the empty
    /// model's session cost <paramref name="sessionMs"/> is paid by every model, so the fit explains the rest
    /// and its own fixed term can only add to it. Unconstrained, the fixed and per-kernel terms came out
    /// negative (-0.13 ms, -0.018 ms) and tiny models were predicted at a tenth of what they measure.
    /// A reordered element beyond the cache costs <paramref name="beyondCacheWeight"/> times more than one inside (a share
    /// the reorders timed in context give, <see cref="ReorderPricing"/>): few whole networks have reorders that large, too
    /// few to price them apart, so the whole networks fit one price and the share splits it. The long-run term counts
    /// doublings up to the longest of these networks (<see cref="LongRunCapMs"/>).
    /// </summary>
    public static Composition Fit(IReadOnlyList<CompositionFeatures> features, IReadOnlyList<double> measuredMs, double sessionMs,
        string provenance, double beyondCacheWeight = 0)
    {
        if (features.Count == 0) return new Composition { OverheadMs = Math.Max(0, sessionMs), Provenance = provenance };
        double floor = Math.Max(0, sessionMs);
        double longest = features.Max(f => f.KernelSumMs);
        var x = features.Select(f => f.ToVector(beyondCacheWeight, longest)).ToArray();
        // Relative error is taken on the whole latency: a row's target is what remains above the floor, weighted by the whole.
        var c = Nnls.FitRelative(x, measuredMs.Select(m => m - floor).ToArray(), weights: measuredMs.ToArray());
        return new Composition
        {
            OverheadMs = floor + c[0],
            Scale = c[1] > 0 ? c[1] : 1,
            ReorderMsPerMElement = c[2],
            ReorderBeyondCacheMsPerMElement = c[2] * Math.Max(0, beyondCacheWeight),
            NodeMs = c[3],
            LongRunFactor = c[4],
            LongRunCapMs = longest,
            Samples = features.Count,
            Provenance = provenance,
        };
    }

    /// <summary>The formula with its fitted coefficients, for reports.</summary>
    public override string ToString() =>
        $"x{Scale:F3}, {ReorderMsPerMElement:F3} ms per million reordered elements (+{ReorderBeyondCacheMsPerMElement:F3} beyond "
        + $"the cache), {NodeMs * 1000:F2} us per kernel, "
        + $"{OverheadMs:F3} ms fixed, +{LongRunFactor:P2} of the kernel sum per doubling of its length up to {LongRunCapMs:F2} ms";
}

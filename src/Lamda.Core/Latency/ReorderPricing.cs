namespace Lamda.Latency;

/// <summary>
/// What the reorders between layouts cost in context, fitted to ONNX Runtime's own timings of them in the calibration networks:
/// a price per reorder, per million elements, and per million elements beyond a core's cache.
/// </summary>
/// <param name="FixedMs">milliseconds per reorder</param>
/// <param name="MsPerMElement">milliseconds per million elements moved</param>
/// <param name="BeyondCacheMsPerMElement">milliseconds more per million elements past the cache's size</param>
/// <param name="Networks">networks with reorders the prices were fitted on</param>
internal sealed record ReorderPricing(double FixedMs, double MsPerMElement, double BeyondCacheMsPerMElement, int Networks)
{
    /// <summary>Fewer networks with reorders beyond the cache than this, and nothing is said about them.</summary>
    public const int MinNetworksBeyondCache = 3;

    /// <summary>
    /// How many times more a reordered element beyond the cache costs than one inside it (0 when the profiles cannot say):
    /// the share <see cref="Composition.Fit"/> splits the whole networks' one price of a reordered element by.
    /// </summary>
    public double BeyondCacheWeight => MsPerMElement > 0 ? BeyondCacheMsPerMElement / MsPerMElement : 0;

    /// <summary>
    /// Non-negative relative least squares of each network's reorder time in context (profiler cost taken off) on its
    /// reorders' count, elements and elements beyond the cache. Per network, not per reorder: ORT names the reorders it
    /// inserts by a counter, so they cannot be told apart from one session to the next, but the walk that places them
    /// counts as many as ORT inserts (LatencyTests).
    /// </summary>
    public static ReorderPricing Fit(IReadOnlyList<(Reordering Reorders, double Ms)> networks)
    {
        var rows = networks.Where(n => n.Reorders.Count > 0 && n.Ms > 0).ToList();
        if (rows.Count == 0) return new ReorderPricing(0, 0, 0, 0);
        var c = Nnls.FitRelative(
            rows.Select(r => new[] { r.Reorders.Count, r.Reorders.MElements, r.Reorders.BeyondCacheMElements }).ToArray(),
            rows.Select(r => r.Ms).ToArray());
        // Too few networks move elements beyond the cache to price them apart: they then cost what the others do.
        bool priced = rows.Count(r => r.Reorders.BeyondCacheMElements > 0) >= MinNetworksBeyondCache;
        if (!priced)
            c = [.. Nnls.FitRelative(rows.Select(r => new[] { r.Reorders.Count, r.Reorders.MElements }).ToArray(),
                rows.Select(r => r.Ms).ToArray()), 0];
        return new ReorderPricing(c[0], c[1], c[2], rows.Count);
    }

    /// <summary>The prices, for reports.</summary>
    public override string ToString() =>
        $"{FixedMs * 1000:F2} us per reorder, {MsPerMElement:F3} ms per million elements, {BeyondCacheMsPerMElement:F3} more beyond "
        + $"the cache (x{BeyondCacheWeight:F2}), over {Networks} networks";
}

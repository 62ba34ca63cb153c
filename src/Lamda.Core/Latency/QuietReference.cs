namespace Lamda.Latency;

/// <summary>
/// What a run of comparisons against one reference knows of that reference's speed on a quiet machine: its quietest
/// round so far. A later comparison whose reference rounds run well over it ran on a loaded machine, which moves the
/// ratio of a small model to its base (mobilenet_v3_small at 30%: candidates of one predicted size read 0.507-0.603 ms
/// in one adaptation, and its result checked at 0.716 of its budget); such a comparison waits for the load to pass
/// (<see cref="CompareOptions.LoadPatienceMs"/>).
/// </summary>
public sealed class QuietReference
{
    /// <summary>How long a comparison waits for a spell of load to pass: spells on a shared VM lasted 1-10 s.</summary>
    public const double PatienceMs = 8000;

    double? quietMs;

    /// <summary>
    /// <see cref="LatencyMeter.MeasureAgainst"/> with what is known of the reference's quiet speed, learning from the result.
    /// </summary>
    /// <param name="candidate">the model measured</param>
    /// <param name="reference">the model it is measured against, the one whose quiet speed this knows</param>
    /// <param name="options">the comparison's options otherwise</param>
    /// <param name="progress">where retried rounds are reported</param>
    /// <param name="patienceMs">how long to wait for a spell of load to pass (0: retry loaded rounds within the retries)</param>
    public Comparison MeasureAgainst(ModelUnderTest candidate, ModelUnderTest reference, CompareOptions options,
        IProgress<string>? progress = null, double patienceMs = PatienceMs)
    {
        var applied = Apply(options, patienceMs);
        var c = LatencyMeter.MeasureAgainst(candidate, reference, applied, progress);
        Observe(c, applied);
        return c;
    }

    /// <summary>The options with what is known of the quiet reference, and the patience to wait for it.</summary>
    /// <param name="options">the comparison's options otherwise</param>
    /// <param name="patienceMs">how long to wait for a spell of load to pass (0: retry loaded rounds within the retries)</param>
    public CompareOptions Apply(CompareOptions options, double patienceMs = PatienceMs) =>
        options with { QuietReferenceMs = quietMs, LoadPatienceMs = patienceMs };

    /// <summary>Learns from a comparison taken with <paramref name="options"/>: its lowest reference round (<see cref="Learn"/>).</summary>
    public void Observe(Comparison c, CompareOptions options) => Learn(c.ReferenceMs, options.LoadTolerance);

    /// <summary>
    /// Learns from a comparison in which this reference was the candidate (a base measured against the reference network):
    /// its lowest round there.
    /// </summary>
    public void ObserveAsCandidate(Comparison c, CompareOptions options) => Learn(c.CandidateLowestMs, options.LoadTolerance);

    /// <summary>
    /// Learns a round median of the reference: the lowest so far, unless this one is over it by more than
    /// <paramref name="loadTolerance"/>. Then a comparison found no quiet round within its patience, the machine stayed
    /// loaded, and its state is the new quiet one: one wait per change of state, not one per comparison.
    /// </summary>
    void Learn(double roundMs, double loadTolerance) =>
        quietMs = quietMs is { } q && roundMs <= q * (1 + loadTolerance) ? Math.Min(q, roundMs) : roundMs;
}

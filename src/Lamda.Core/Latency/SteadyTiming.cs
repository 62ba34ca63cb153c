namespace Lamda.Latency;

/// <summary>
/// Timings taken one after another between timings of the reference network, each taken again while the reference
/// beside it ran more than <see cref="Unsteady"/> times its fastest figure so far (or the yardstick given, when that is
/// faster): outside load only ever slows a run, so the fastest figure is the steady machine's. Outside load comes in
/// bursts: the reference beside one calibration network ran 0.61 ms against 0.40 ms for its neighbours, and a burst that
/// slows the reference need not slow the timing between its two sides the same way, so dividing by the reference does
/// not put such a timing right. A quiet calibration with 27 of 120 networks beside a reference over 5% slow predicted
/// held-out families 29 of 36 within 10% (mostly under); one with 8 such networks, 33 of 36 (sixteenth session).
/// </summary>
internal sealed class SteadyTiming
{
    /// <summary>How far above its fastest figure the reference beside a timing may run before the timing is taken again.</summary>
    public const double Unsteady = 1.05;

    /// <summary>Timings taken again at most for one item; the one beside the fastest reference is kept.</summary>
    public const int RetriesPerItem = 2;

    /// <summary>
    /// How long a retry waits for the reference to come back under <see cref="Unsteady"/>: a slow stretch can last
    /// seconds, and a retry inside it is wasted (one calibration spent its retries on four networks in a row).
    /// </summary>
    public static readonly TimeSpan SettleWait = TimeSpan.FromSeconds(1);

    readonly Func<double> referenceMs;
    readonly int budget;
    readonly IProgress<string>? progress;
    double before, fastestMs;

    /// <param name="referenceMs">times the reference network now (a few milliseconds)</param>
    /// <param name="yardstickMs">the reference's figure measured before (the whole networks'), the first fastest figure</param>
    /// <param name="budget">retries allowed over all items: a machine slow for minutes would otherwise time everything three
    /// times</param>
    /// <param name="progress">where each retry is reported</param>
    public SteadyTiming(Func<double> referenceMs, double yardstickMs, int budget, IProgress<string>? progress = null)
    {
        this.referenceMs = referenceMs;
        this.budget = budget;
        this.progress = progress;
        fastestMs = yardstickMs;
        before = Reference();
    }

    /// <summary>Retries taken so far.</summary>
    public int Retries { get; private set; }

    /// <summary>
    /// One item's timing with the reference timed on each side, taken again (within the budget) while the slower side ran
    /// more than <see cref="Unsteady"/> times the fastest figure; the attempt beside the fastest reference is kept, with the
    /// mean of its two sides.
    /// </summary>
    public (T Result, double ReferenceMs) Take<T>(Func<T> time, string name)
    {
        (T Result, double ReferenceMs, double Slower)? best = null;
        for (int attempt = 0; ; attempt++)
        {
            var result = time();
            double after = Reference(), slower = Math.Max(before, after);
            if (best == null || slower < best.Value.Slower) best = (result, (before + after) / 2, slower);
            before = after;
            if (slower <= fastestMs * Unsteady || attempt == RetriesPerItem || Retries >= budget) break;
            Retries++;
            progress?.Report($"the machine slowed while timing {name} (reference network {slower:F3} ms against "
                + $"{fastestMs:F3}); timing it again");
            Settle();
        }
        return (best.Value.Result, best.Value.ReferenceMs);
    }

    /// <summary>The reference's figure now; the fastest so far is what a steady machine runs it at.</summary>
    double Reference()
    {
        double ms = referenceMs();
        fastestMs = Math.Min(fastestMs, ms);
        return ms;
    }

    /// <summary>Times the reference until it runs steady again, for at most <see cref="SettleWait"/>.</summary>
    void Settle()
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (before > fastestMs * Unsteady && clock.Elapsed < SettleWait) before = Reference();
    }
}

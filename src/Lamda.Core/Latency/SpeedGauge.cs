namespace Lamda.Latency;

/// <summary>
/// The reference network (<see cref="ReferenceNetwork"/>), kept ready and timed in a few milliseconds between the steps of
/// a long timing job, so that timings taken minutes apart can be put on one yardstick. A shared machine's speed drifts
/// over tens of seconds: of two quick calibrations one after the other, the second profiled its networks 8% slower than
/// the first (the same networks, run without the profiler), and measured them whole at the first one's speed a minute
/// later. Each network's kernel timings divided by the reference's time next to them no longer carry that drift.
/// </summary>
internal sealed class SpeedGauge : IDisposable
{
    readonly PreparedModel reference;
    readonly int runs;

    public SpeedGauge(int threads, int runs = 15)
    {
        reference = new PreparedModel(ReferenceNetwork.Build(), threads);
        this.runs = runs;
        for (int i = 0; i < 3; i++) reference.RunMs(); // the first runs of a session pay for allocations
    }

    /// <summary>The reference network's time now: the median of a few back-to-back runs (a few milliseconds).</summary>
    public double ReferenceMs() => InterleavedRounds.Median(reference, runs);

    public void Dispose() => reference.Dispose();
}

using Lamda.Graphs;
using Lamda.Latency;

namespace Lamda.Tests;

/// <summary>
/// The parts of the measurement protocol that decide what is noise: which rounds are retried, when a calibration
/// is called noisy, what the profiler costs per node. Scripted timings, no clock.
/// </summary>
public class MeasurementProtocolTests
{
    /// <summary>A run whose duration follows a script per block of calls (one block = one round of one arm).</summary>
    sealed class Scripted(double ms, int warmup, int block, Func<int, double> factorOfBlock) : ITimedRun
    {
        int calls;

        public double RunMs()
        {
            int i = calls++;
            return i < warmup ? 3 * ms : ms * factorOfBlock((i - warmup) / block);
        }
    }

    static readonly CompareOptions Options = new() { Warmup = 4, RunsPerRound = 5, MinRoundMs = 0, Rounds = 9 };

    /// <summary>
    /// A quiet machine whose speed wanders by 10% between rounds, both arms alike, retries nothing: the ratio did not
    /// move. (Judging each arm against its own best round retried a third of the rounds of a quiet run.)
    /// </summary>
    [Fact]
    public void RoundsThatSlowBothArmsAlikeAreNotRetried()
    {
        double Wander(int round) => round % 3 == 0 ? 1.1 : 1;
        var c = new InterleavedRounds(Options).Run(new Scripted(2, 4, 5, Wander), new Scripted(4, 4, 5, Wander));
        Assert.Equal(0, c.Retried);
        Assert.Equal(0.5, c.Ratio, 9);
        Assert.Equal(4, c.ReferenceMs, 9);
    }

    /// <summary>A burst on one arm of a round is retried, and the ratio is the unloaded one.</summary>
    [Fact]
    public void RoundSlowedOnOneArmIsRetried()
    {
        var c = new InterleavedRounds(Options).Run(new Scripted(2, 4, 5, r => r is 1 or 4 ? 1.5 : 1), new Scripted(4, 4, 5, _ => 1));
        Assert.Equal(2, c.Retried);
        Assert.Equal(0.5, c.Ratio, 9);
    }

    /// <summary>
    /// The same model in three sessions: in one its buffers landed where they conflict in the cache and every round of it
    /// ran 8% slower, in another a burst slowed one round. The comparisons keep the session with the model's own speed, and
    /// say how far the sessions were apart.
    /// </summary>
    [Fact]
    public void TheSessionWithTheLowestRatioIsKept()
    {
        Comparison Session(Func<int, double> candidate) =>
            new InterleavedRounds(Options).Run(new Scripted(2, 4, 5, candidate), new Scripted(4, 4, 5, _ => 1));
        var sessions = new[] { Session(_ => 1.08), Session(r => r == 2 ? 1.5 : 1), Session(_ => 1.04) };
        var kept = Comparison.Lowest(sessions);
        Assert.Same(sessions[1], kept);
        Assert.Equal(0.5, kept.Ratio, 9);
        Assert.Equal(0.08, Comparison.SessionSpread(sessions), 9);
        Assert.Equal(0, Comparison.SessionSpread([kept]));
        Assert.Throws<ArgumentException>(() => Comparison.Lowest([]));
    }

    /// <summary>
    /// A comparison that starts in a spell of load: its first 20 rounds slow the reference by 40% and the candidate, a
    /// quarter of its size, by 60% (the load moves their ratio, 0.286 against 0.25, as it moved mobilenet_v3_small's
    /// against its base). Knowing the reference's quiet speed from earlier comparisons, the comparison waits the spell out
    /// and keeps the quiet rounds' ratio.
    /// </summary>
    [Fact]
    public void AComparisonOnALoadedMachineWaitsForTheLoadToPass()
    {
        var c = LoadedForTwentyRounds(new CompareOptions { QuietReferenceMs = 4, LoadPatienceMs = 1000 });
        Assert.True(c.Settled, c.ToString());
        Assert.Equal(0.25, c.Ratio, 9);
        Assert.Equal(4, c.ReferenceMs, 9);
        Assert.Equal(1, c.CandidateLowestMs, 9);
        Assert.True(c.Retried >= 20, c.ToString());
    }

    /// <summary>
    /// The same spell, without the patience to wait: the retries run out and the comparison settles for the rounds whose
    /// ratio agrees, all of them loaded, and says so (unsettled). Also what it does when the load outlasts the patience.
    /// </summary>
    [Fact]
    public void ALoadThatOutlastsThePatienceGivesTheLoadedRatioUnsettled()
    {
        foreach (var options in new[] { new CompareOptions { QuietReferenceMs = 4 }, new() { QuietReferenceMs = 4, LoadPatienceMs = 500 } })
        {
            var c = LoadedForTwentyRounds(options);
            Assert.False(c.Settled, c.ToString());
            Assert.Equal(1.6 / 5.6, c.Ratio, 9);
        }
    }

    static Comparison LoadedForTwentyRounds(CompareOptions options)
    {
        double Load(int round, double factor) => round < 20 ? factor : 1;
        var o = options with { Warmup = 4, RunsPerRound = 5, MinRoundMs = 0, Rounds = 9 };
        return new InterleavedRounds(o).Run(new Scripted(1, 4, 5, r => Load(r, 1.6)), new Scripted(4, 4, 5, r => Load(r, 1.4)));
    }

    /// <summary>
    /// The quiet reference learns the lowest reference round of each comparison, and takes a comparison that found no
    /// round near it (the machine stayed loaded past the patience) as the new quiet state, so that a lasting change costs
    /// one wait, not one per comparison.
    /// </summary>
    [Fact]
    public void TheQuietReferenceFollowsALastingChangeOfState()
    {
        var quiet = new QuietReference();
        var options = new CompareOptions();
        Assert.Null(quiet.Apply(options).QuietReferenceMs);
        Assert.Equal(QuietReference.PatienceMs, quiet.Apply(options).LoadPatienceMs);
        Comparison Of(double referenceMs) => new(0.5, 0.5 * referenceMs, referenceMs, 0.01, 9, 0, true);
        foreach (var (referenceMs, known) in new[] { (4.0, 4.0), (3.8, 3.8), (4.3, 3.8), (3.9, 3.8), (5.0, 5.0), (4.9, 4.9) })
        {
            quiet.Observe(Of(referenceMs), options);
            Assert.Equal(known, quiet.Apply(options).QuietReferenceMs);
        }
    }

    /// <summary>
    /// One held-out comparison in twelve running out of retries, on rounds of 1.9% noise, is a quiet machine; a third
    /// of them, or a median noise above 5%, is not.
    /// </summary>
    [Fact]
    public void CalibrationIsNoisyOnlyWhenItsComparisonsAre()
    {
        var errors = Enumerable.Repeat(0.05, 12).ToList();
        Assert.False(HeldOut.Summarize(errors, Enumerable.Repeat(0.019, 12).ToList(), unsettled: 1, referenceMs: 0.56).Noisy);
        Assert.True(HeldOut.Summarize(errors, Enumerable.Repeat(0.019, 12).ToList(), unsettled: 4, referenceMs: 0.56).Noisy);
        Assert.True(HeldOut.Summarize(errors, Enumerable.Repeat(0.06, 12).ToList(), unsettled: 0, referenceMs: 0.56).Noisy);
    }

    /// <summary>The profiler's cost per node is the median of the networks' own estimates, which scatter and go negative.</summary>
    [Fact]
    public void ProfilerCostIsTheMedianOverNetworks()
    {
        KernelProfile Net(double gapUs) => new([], OtherRawMs: 1 + 10 * gapUs / 1000, OtherNodes: 10, RunMs: 1, ProfilerNodeMs: 0);
        var profiles = new[] { Net(-3), Net(1.5), Net(0), Net(2), Net(52), Net(1.8), Net(1.2) };
        Assert.Equal(0.0015, KernelProfile.MachineProfilerCost(profiles), 9);
        Assert.Equal(0, KernelProfile.MachineProfilerCost([Net(-3), Net(-1), Net(0.5)]));
        var corrected = Net(2) with { ProfilerNodeMs = 0.0015 };
        Assert.Equal(1.02 - 0.015, corrected.OtherMs, 9);
    }

    /// <summary>
    /// A network profiled while the machine ran 10% slow, put on the yardstick of a machine at full speed: every timing, the
    /// kernels' net of the profiler's cost, and that cost's estimate move by the same factor.
    /// </summary>
    [Fact]
    public void AProfileOnAnotherYardstickScalesEveryTimingAlike()
    {
        var b = new GraphBuilder(seed: 3);
        b.Output(b.Relu(b.Conv(b.Input("x", 1, 8, 16, 16), 16)), "y");
        var kernel = KernelExtractor.Extract(b.Graph, b.Weights).Single();
        var slow = new KernelProfile([(kernel, 0.110, 2)], OtherRawMs: 0.022, OtherNodes: 1, RunMs: 0.121, ProfilerNodeMs: 0.002,
            Unmatched: [("ReorderOutput_1 (ReorderOutput)", 0.022)]);
        var fast = slow.Scaled(1 / 1.1);
        Assert.Equal(0.100, fast.Raw.Single().Ms, 9);
        Assert.Equal(slow.Kernels.Single().Ms / 1.1, fast.Kernels.Single().Ms, 9);
        Assert.Equal(slow.OtherMs / 1.1, fast.OtherMs, 9);
        Assert.Equal(slow.GapPerNodeMs / 1.1, fast.GapPerNodeMs, 9);
        Assert.Equal(0.020, fast.Unmatched!.Single().Ms, 9);
        Assert.Same(kernel, fast.Raw.Single().Kernel);
    }
}

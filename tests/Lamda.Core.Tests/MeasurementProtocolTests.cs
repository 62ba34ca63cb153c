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
}

using Lamda.Latency;

namespace Lamda.Tests;

/// <summary>
/// A timing beside a slow reference is taken again, and the attempt beside the fastest reference is kept. The reference's
/// figures are scripted, so these tests time nothing.
/// </summary>
public class SteadyTimingTests
{
    /// <summary>Reference figures in order; the last one repeats.</summary>
    static Func<double> Script(params double[] ms)
    {
        int next = 0;
        return () => ms[Math.Min(next++, ms.Length - 1)];
    }

    /// <summary>Numbers the attempts, so a test can tell which one was kept.</summary>
    static Func<int> Attempts()
    {
        int n = 0;
        return () => n++;
    }

    [Fact]
    public void A_steady_reference_takes_each_timing_once_with_the_mean_of_its_sides()
    {
        var steady = new SteadyTiming(Script(0.40, 0.41, 0.40), yardstickMs: 0.40, budget: 10);
        var (first, firstReference) = steady.Take(Attempts(), "a");
        var (second, secondReference) = steady.Take(Attempts(), "b");
        Assert.Equal((0, 0), (first, second));
        Assert.Equal(0.405, firstReference, 9);
        Assert.Equal(0.405, secondReference, 9);
        Assert.Equal(0, steady.Retries);
    }

    [Fact]
    public void A_timing_beside_a_slow_reference_is_taken_again_once_the_reference_runs_steady()
    {
        var messages = new List<string>();
        // Before, after the first attempt (slow), the wait for the burst to pass, after the second attempt.
        var steady = new SteadyTiming(Script(0.40, 0.50, 0.47, 0.40, 0.40), yardstickMs: 0.40, budget: 10, new ProgressLines(messages));
        var (kept, reference) = steady.Take(Attempts(), "network 7");
        Assert.Equal(1, kept);
        Assert.Equal(0.40, reference, 9);
        Assert.Equal(1, steady.Retries);
        Assert.Contains(messages, m => m.StartsWith("the machine slowed while timing network 7 (reference network 0.500 ms"));
    }

    [Fact]
    public void A_reference_that_stays_slow_keeps_the_attempt_beside_its_fastest_figure_after_two_retries()
    {
        var steady = new SteadyTiming(Script(0.40, 0.60, 0.40, 0.48, 0.40, 0.55, 0.40), yardstickMs: 0.40, budget: 10);
        var (kept, reference) = steady.Take(Attempts(), "a");
        Assert.Equal(1, kept);
        Assert.Equal(0.44, reference, 9);
        Assert.Equal(SteadyTiming.RetriesPerItem, steady.Retries);
    }

    [Fact]
    public void No_timing_is_taken_again_once_the_budget_is_spent()
    {
        var steady = new SteadyTiming(Script(0.40, 0.60, 0.40, 0.40, 0.60), yardstickMs: 0.40, budget: 1);
        Assert.Equal(1, steady.Take(Attempts(), "a").Result);
        var (kept, reference) = steady.Take(Attempts(), "b");
        Assert.Equal(0, kept);
        Assert.Equal(0.50, reference, 9);
        Assert.Equal(1, steady.Retries);
    }

    [Fact]
    public void Slow_is_judged_against_the_fastest_figure_so_far_when_the_yardstick_given_ran_slow()
    {
        // The whole networks were measured under load (0.57 ms); the reference runs 0.40 ms here, and 0.50 is slow.
        var steady = new SteadyTiming(Script(0.40, 0.50, 0.40, 0.40), yardstickMs: 0.57, budget: 10);
        var (kept, reference) = steady.Take(Attempts(), "a");
        Assert.Equal(1, kept);
        Assert.Equal(0.40, reference, 9);
    }

    [Theory]
    [InlineData(0.396, 0.396)] // the usual case: the whole networks' figure is kept as it is
    [InlineData(0.410, 0.410)] // within 5% of the tenth percentile beside the profiles: kept as well
    [InlineData(0.568, 0.395)] // the whole-network phase ran under load throughout: the tenth percentile
    public void The_yardstick_is_the_whole_networks_figure_unless_it_ran_slow_against_the_profiles(double whole, double expected)
    {
        // 120 figures beside the profiles: 13 at 0.395 (the tenth percentile, at position 11.9 of 0-119), the rest 0.40, ten
        // of them slow.
        var beside = Enumerable.Repeat(0.395, 13).Concat(Enumerable.Repeat(0.40, 97)).Concat(Enumerable.Repeat(0.55, 10)).ToArray();
        Assert.Equal(expected, ProfileBuilder.Yardstick(whole, beside), 9);
    }

    [Fact]
    public void The_yardstick_interpolates_its_tenth_percentile()
    {
        // 12 figures at 0.395, then 0.40: position 11.9 lies between the twelfth figure (0.395) and the thirteenth (0.40).
        var beside = Enumerable.Repeat(0.395, 12).Concat(Enumerable.Repeat(0.40, 108)).ToArray();
        Assert.Equal(0.3995, ProfileBuilder.Yardstick(0.568, beside), 9);
    }
}

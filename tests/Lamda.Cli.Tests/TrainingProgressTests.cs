using Lamda.Cli.Commands;
using Lamda.Training;

namespace Lamda.Cli.Tests;

/// <summary>The fine-tuning lines adapt prints (and the build task forwards): one at the first step, then one a tenth of the run.</summary>
public sealed class TrainingProgressTests
{
    static string[] Lines(int steps, int totalSteps, double secondsAStep, TimeSpan? budget)
    {
        var err = new StringWriter();
        var progress = new TrainingProgress(err);
        for (int step = 1; step <= steps; step++)
            progress.Report(new TrainProgress(step, totalSteps, 1.5, 1e-3, TimeSpan.FromSeconds(step * secondsAStep), budget));
        return err.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
    }

    [Fact]
    public void A_run_that_the_time_ends_reports_every_tenth_of_its_time()
    {
        // 300 steps fill a 100-second budget: a quarter of the steps, all of the time.
        var lines = Lines(300, 1200, 1.0 / 3, TimeSpan.FromSeconds(100));
        Assert.Equal(11, lines.Length);
        Assert.Contains("step 1 of at most 1200", lines[0]);
        Assert.Contains("[##########..........] step 150 of at most 1200", lines[5]);
        Assert.Contains("[####################] step 300 of at most 1200", lines[^1]);
        Assert.Contains("(100.0 s of 100 s)", lines[^1]);
    }

    [Fact]
    public void A_run_without_a_time_budget_reports_every_tenth_of_its_steps()
    {
        var lines = Lines(200, 200, 0.1, null);
        Assert.Equal(11, lines.Length);
        Assert.Contains("[##..................] step 20/200", lines[1]);
        Assert.Contains("[####################] step 200/200", lines[^1]);
    }

    [Fact]
    public void The_steps_count_when_they_run_out_before_the_time()
    {
        // 100 steps in 10 of 100 seconds: the steps say how far it is.
        var lines = Lines(100, 100, 0.1, TimeSpan.FromSeconds(100));
        Assert.Equal(11, lines.Length);
        Assert.Contains("[####################] step 100 of at most 100", lines[^1]);
    }
}

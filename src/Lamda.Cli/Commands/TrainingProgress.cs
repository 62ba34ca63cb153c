using System.Globalization;
using Lamda.Training;

namespace Lamda.Cli.Commands;

/// <summary>
/// Fine-tuning progress on stderr as whole lines (the first step, then every tenth of the run), so that the build task,
/// which forwards the tool's lines to MSBuild, shows it as it runs. A run with a time budget is measured by the larger of
/// its steps and its time: by steps alone a 10-minute run of the recognizer, which stops at about 330 of its 1200 steps,
/// showed three lines in seven minutes and ended with its bar a quarter full.
/// </summary>
sealed class TrainingProgress(TextWriter stderr) : IProgress<TrainProgress>
{
    const int Width = 20;
    int shownTenth = -1;

    public void Report(TrainProgress p)
    {
        int tenth = (int)Math.Floor(p.Done * 10);
        if (p.Step != 1 && tenth <= shownTenth && p.Step != p.TotalSteps) return;
        shownTenth = Math.Max(shownTenth, tenth);
        stderr.WriteLine(string.Create(CultureInfo.InvariantCulture, $"fine-tuning [{Bar(p.Done, Width)}] {Position(p)} loss {p.Loss:G4} "
            + $"lr {p.LearningRate:G3} ({p.Elapsed.TotalSeconds:F1} s{Budget(p)})"));
    }

    /// <summary>"[#####...............]" for a quarter done.</summary>
    public static string Bar(double done, int width)
    {
        int filled = Math.Clamp((int)Math.Round(width * done), 0, width);
        return new string('#', filled) + new string('.', width - filled);
    }

    /// <summary>"step 120/1200", or "step 120 of at most 1200" when the time may end the run first.</summary>
    static string Position(TrainProgress p) => "step " + Steps(p);

    /// <summary>"120/1200", or "120 of at most 1200" when the time may end the run first.</summary>
    public static string Steps(TrainProgress p) =>
        p.TimeBudget != null ? $"{p.Step} of at most {p.TotalSteps}" : $"{p.Step}/{p.TotalSteps}";

    static string Budget(TrainProgress p) =>
        p.TimeBudget is { } b ? string.Create(CultureInfo.InvariantCulture, $" of {b.TotalSeconds:F0} s") : "";
}

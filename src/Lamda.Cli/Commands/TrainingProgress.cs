using System.Globalization;
using Lamda.Training;

namespace Lamda.Cli.Commands;

/// <summary>
/// Fine-tuning progress on stderr as whole lines (the first step, then every tenth of the steps), so that the build
/// task, which forwards the tool's lines to MSBuild, shows it as it runs.
/// </summary>
sealed class TrainingProgress(TextWriter stderr) : IProgress<TrainProgress>
{
    const int Width = 20;

    public void Report(TrainProgress p)
    {
        int tenth = Math.Max(1, p.TotalSteps / 10);
        if (p.Step != 1 && p.Step % tenth != 0 && p.Step != p.TotalSteps) return;
        int filled = (int)Math.Round((double)Width * p.Step / Math.Max(1, p.TotalSteps));
        var bar = new string('#', Math.Min(Width, filled)) + new string('.', Width - Math.Min(Width, filled));
        stderr.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"fine-tuning [{bar}] step {p.Step}/{p.TotalSteps} loss {p.Loss:G4} lr {p.LearningRate:G3} ({p.Elapsed.TotalSeconds:F1} s)"));
    }
}

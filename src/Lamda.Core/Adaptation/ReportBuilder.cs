using System.Diagnostics;
using Lamda.Graphs;
using Lamda.Text;

namespace Lamda.Adaptation;

/// <summary>The report of one adaptation as it runs: its iterations, its warnings, and how it ended.</summary>
sealed class ReportBuilder
{
    readonly string modelName;
    readonly AdaptOptions options;
    readonly string baseText;
    readonly Figures baseFigures;
    readonly double targetMs;
    readonly Stopwatch wall;
    readonly IProgress<string>? progress;
    readonly List<IterationReport> iterations = [];
    readonly List<string> warnings = [];
    // Said by the generator about the run as a whole; they close the report's warnings, after the loop's own.
    readonly List<string> generatorWarnings = [];

    public ReportBuilder(string modelName, AdaptOptions options, Graph baseGraph, Figures baseFigures, double targetMs, Stopwatch wall,
        IProgress<string>? progress)
    {
        (this.modelName, this.options, this.baseFigures, this.targetMs, this.wall, this.progress) =
            (modelName, options, baseFigures, targetMs, wall, progress);
        baseText = LamdaTextWriter.Write(baseGraph);
        if (options.Device.UncalibratedWarning is { } uncalibrated) warnings.Add(uncalibrated);
    }

    public int Iterations => iterations.Count;

    public void Warn(string warning) => warnings.Add(warning);

    /// <summary>Adds a judged proposal; true when the generator had proposed the same architecture before.</summary>
    public bool Record(Trial trial, string generator)
    {
        var (text, figures, diagnostics) = (trial.Proposal.Text, trial.Figures, trial.Diagnostics);
        var hash = Adapter.ArchitectureHash(text);
        bool repeated = iterations.Any(it => it.ArchitectureHash == hash);
        if (trial.Proposal.Warning is { } warning) generatorWarnings.Add(warning);
        iterations.Add(new IterationReport(trial.Iteration, generator, hash, DiffLines(baseText, text), figures?.PredictedMs,
            figures?.MeasuredMs, figures?.Accuracy, diagnostics, trial.Accepted, trial.Proposal.Note) { Fidelity = figures?.Fidelity });
        var verdict = trial.Accepted ? ", all constraints hold" : "; " + string.Join(" ", diagnostics.Select(d => d.Code));
        var described = figures != null ? Adapter.Describe(figures) : "invalid";
        if (trial.Training is { } t) progress?.Report($"iteration {trial.Iteration}: {Describe(t)}");
        progress?.Report($"iteration {trial.Iteration} ({generator}): {described}{verdict}");
        return repeated;
    }

    public AdaptationResult BaseMeetsBudget(Candidate baseModel, double baseMs, string generator)
    {
        Warn($"the base model already meets the budget ({baseMs:F3} ms <= {targetMs:F3} ms); it is returned unchanged (normalized).");
        return Finish(baseModel, baseText, baseFigures, "base-meets-budget", generator);
    }

    public AdaptationResult Finish(Trial trial, string outcome, string generator)
    {
        if (trial.Training?.Skipped is { } skipped) Warn(skipped);
        if (trial.Training?.Fallback is { } fallback) Warn(fallback);
        return Finish(trial.Candidate!, trial.Proposal.Text, trial.Figures!, outcome, generator, trial.Training);
    }

    AdaptationResult Finish(Candidate final, string text, Figures figures, string outcome, string generator,
        TrainingSummary? training = null)
    {
        var report = new AdaptationReport(modelName, options.Device.Name, options.Device.Label, generator, options.Seed, targetMs,
            baseFigures, figures, outcome, wall.Elapsed.TotalSeconds, iterations, [.. warnings, .. generatorWarnings])
        {
            TargetFraction = options.TargetFraction,
            Training = training,
        };
        return new AdaptationResult(final.Model, final.Graph, text, report);
    }

    /// <summary>No candidate to return: the accuracy or the budget was not met, and the last diagnostic says why.</summary>
    /// <param name="lockFile">the lock file the only candidate came from, if it did</param>
    public LamdaException Failure(string? lockFile)
    {
        bool accuracy = iterations.Any(it => it.Diagnostics.Any(d => d.Code == ValidationCodes.Accuracy));
        var code = accuracy ? ErrorCodes.AccuracyNotMet : ErrorCodes.BudgetNotMet;
        var last = iterations.LastOrDefault()?.Diagnostics.FirstOrDefault()?.Prompt ?? "no valid candidate";
        return lockFile != null
            ? new LamdaException(code, $"{modelName}: the locked architecture {lockFile} no longer meets the constraints ({last}). " +
                "Delete the lock file to search again.")
            : new LamdaException(code,
                $"{modelName}: no architecture met every constraint in {options.MaxIterations} iterations ({last}).");
    }

    static string Describe(TrainingSummary t) => t.Skipped ?? $"fine-tuned {t.Steps} steps in {t.Seconds:F1} s" +
        (t.StoppedByTime ? " (time budget)" : "") + $", loss {t.FirstLoss:G4} -> {t.LastLoss:G4}"
        + $", fidelity {t.FidelityBefore:P2} -> {t.FidelityAfter:P2}"
        + (t.Kept ? "" : "; lower than before, so the weights from before training are kept");

    /// <summary>Number of lines that differ between two LamdaTexts of the same structure (or in total when not).</summary>
    static int DiffLines(string a, string b)
    {
        var x = a.Split('\n');
        var y = b.Split('\n');
        int diff = Math.Abs(x.Length - y.Length);
        for (int i = 0; i < Math.Min(x.Length, y.Length); i++) if (x[i] != y[i]) diff++;
        return diff;
    }
}

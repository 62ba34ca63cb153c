using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using Lamda.Graphs;
using Lamda.Latency;
using Lamda.Onnx;
using Onnx;

namespace Lamda.Adaptation;

/// <summary>
/// The closed loop of the LAMDA paper: generate an architecture, validate it (syntax and interface, task,
/// requirements), feed the diagnostics back, regenerate, until every constraint holds. On <c>host</c> every
/// candidate is measured; elsewhere the device's predictor is the requirement's metric.
/// </summary>
public static class Adapter
{
    /// <summary>
    /// Adapts <paramref name="rawGraph"/> (with its <paramref name="weights"/>) to the budget in <paramref name="options"/>:
    /// proposes narrower architectures, checks them and keeps the best that meets the budget. Throws
    /// <see cref="LamdaException"/> when the budget cannot be met or the model is not supported.
    /// </summary>
    public static AdaptationResult Run(string modelName, Graph rawGraph, WeightStore weights, AdaptOptions options,
        IProgress<string>? progress = null)
    {
        options.CheckBudget();
        // On host the whole loop is one timing: three adaptations of a parallel build, queued only measurement by
        // measurement, searched, exported and reconstructed on the 2 cores while the third measured (one at 66%).
        using var held = options.MeasureOnHost ? MachineLock.Acquire(progress) : null;
        var wall = Stopwatch.StartNew();
        // A batch pinned to 1 only for latency must not be folded into reshapes, or the result runs at batch 1 only.
        var graph = Normalizer.Normalize(rawGraph, weights, options.BatchIsFree).Graph;
        var predictor = new LatencyPredictor(options.Device);
        var transfer = new WeightTransfer(graph, weights);
        var baseModel = new Candidate(graph, weights);
        var sensitivity = options.SpreadWidths && options.Data?.Calibration is { } calibration
            ? new PruningSensitivity(baseModel, calibration) : null;
        var metric = LatencyMetric.For(options, predictor, baseModel);
        var evaluator = new CandidateEvaluator(baseModel, transfer, metric, options, progress);
        var generator = options.Generator?.Invoke(graph, weights, transfer, predictor)
            ?? new SearchGenerator(transfer, predictor, sensitivity: sensitivity, progress: progress,
                judge: sensitivity == null ? null : evaluator.ReconstructedAgreement);
        var baseFigures = evaluator.Evaluate(baseModel);
        progress?.Report($"base: {Describe(baseFigures)}");
        double baseMs = metric.Of(baseFigures), targetMs = options.ResolveTargetMs(baseMs);
        var report = new ReportBuilder(modelName, options, graph, baseFigures, targetMs, wall, progress);
        if (baseMs <= targetMs)
            return report.BaseMeetsBudget(baseModel, baseMs, generator.Name);

        var aim = new AimController(targetMs * (options.UpperBand + options.LowerBand) / 2,
            baseFigures.MeasuredMs is { } measuredBase ? new Observation(baseFigures.PredictedMs, measuredBase) : null);
        BudgetFloor.Check(modelName, generator, evaluator, aim.Correction, targetMs, options.Device.Name);
        var requirement = new RequirementCheck(evaluator, baseFigures, targetMs, options, options.ResolveRefiner());
        ICandidateCheck[] checks = [new StructureCheck(evaluator), new TaskCheck(graph), requirement];
        IReadOnlyList<Diagnostic> feedback = [];
        Trial? best = null;
        string? lockFile = null;
        var bracket = new BracketTracker();
        var floor = new FloorWatch(modelName, generator, evaluator, targetMs, options.Device.Name, baseFigures, progress);
        for (int i = 1; i <= options.MaxIterations; i++)
        {
            var proposal = floor.TakePick() ?? generator.Generate(new GenerationRequest(targetMs, aim.Aim, feedback, i, baseMs)
                { FamilyAim = aim.AimFor, Bracket = bracket.Around(aim.Goal, requirement.CeilingMs) });
            lockFile = proposal.LockFile;
            var trial = new Trial(i, proposal);
            foreach (var check in checks)
                if (!check.Run(trial)) break;
            if (trial.Figures is { } f)
            {
                if (f.MeasuredMs is { } measured) aim.Observe(new Observation(f.PredictedMs, measured), proposal.Family);
                if (requirement.WithinBudget(f) && (best == null || metric.Of(f) > metric.Of(best.Figures!))) best = trial;
            }
            bool repeated = report.Record(trial, generator.Name);
            if (trial.Accepted) return report.Finish(trial, "met", generator.Name);
            if (trial.Figures is { } rejected) bracket.Observe(proposal.Text, metric.Of(rejected));
            if (requirement.LostOnlyAccuracy(trial) && !aim.Widen(metric.Of(trial.Figures!), requirement.CeilingMs)) break;
            if (lockFile == null && !floor.Observe(trial, aim.Correction)) break;
            // A locked architecture is the only one there is.
            if (lockFile != null || !aim.Advance(repeated, trial.Figures is { } tf ? metric.Of(tf) : null)) break;
            feedback = trial.Diagnostics;
        }
        if (best == null)
        {
            // Nothing under the budget: when even the smallest architectures measure above it, that is the answer to give.
            if (lockFile == null && metric.Kind == "measured")
                BudgetFloor.Check(modelName, generator, evaluator, aim.Correction, targetMs, options.Device.Name, measureAnyway: true);
            throw report.Failure(lockFile);
        }
        // Only candidates in the band were fine-tuned; the one returned instead must not ship untrained.
        requirement.RefineLate(best);
        report.Warn($"no candidate within {options.LowerBand:P0}-100% of the budget after {report.Iterations} iterations; " +
            $"returning the largest under budget ({metric.Of(best.Figures!):F3} ms).");
        return report.Finish(best, "best-under-budget", generator.Name);
    }

    internal static byte[] Bytes(ModelProto model) => ModelFile.ToBytes(model);

    internal static string Describe(Figures f) =>
        $"predicted {f.PredictedMs:F3} ms" + (f.MeasuredMs is { } m ? $", measured {m:F3} ms" : "")
        + (f.Accuracy is { } a ? $", accuracy {a:P2}" : "") + (f.Fidelity is { } fid ? $", fidelity {fid:P2}" : "");

    /// <summary>The architecture hash of reports and training data: the first 16 hex digits of the LamdaText's SHA-256.</summary>
    public static string ArchitectureHash(string text) =>
        Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(text)), 0, 8).ToLowerInvariant();
}

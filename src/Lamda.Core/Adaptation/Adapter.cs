using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using Lamda.Data;
using Lamda.Graphs;
using Lamda.Latency;
using Lamda.Onnx;
using Lamda.Text;
using Onnx;

namespace Lamda.Adaptation;

public sealed record AdaptOptions
{
    public double TargetMs { get; init; }
    /// <summary>A budget relative to the base on the device (0.5: twice as fast); sets TargetMs once the base is evaluated.</summary>
    public double? TargetFraction { get; init; }
    /// <summary>Device profile; when <see cref="MeasureOnHost"/> is true every candidate is also measured here.</summary>
    public required DeviceProfile Device { get; init; }
    public bool MeasureOnHost { get; init; }
    public DataSet? Data { get; init; }
    /// <summary>Reconstruct pruned layers by least squares on the data set's calibration images (when it has them).</summary>
    public bool Reconstruct { get; init; } = true;
    public double? MaxAccuracyDrop { get; init; }
    public int Seed { get; init; }
    public int MaxIterations { get; init; } = 12;
    /// <summary>Accepted band: the result must be at least this share of the target...</summary>
    public double LowerBand { get; init; } = 0.95;
    /// <summary>...and at most this share, a margin for the noise of an independent re-measurement.</summary>
    public double UpperBand { get; init; } = 0.98;
    /// <summary>Generator; the search generator when null.</summary>
    public Func<Graph, WeightStore, WeightTransfer, LatencyPredictor, IArchitectureGenerator>? Generator { get; init; }
}

public sealed record Figures(double PredictedMs, double? MeasuredMs, double? Accuracy);

public sealed record IterationReport(int Iteration, string Generator, string ArchitectureHash, int TextDiffLines, double? PredictedMs, double? MeasuredMs, double? Accuracy, IReadOnlyList<Diagnostic> Diagnostics, bool Accepted, string? Note = null);

public sealed record AdaptationReport(
    string Model, string Device, string DeviceLabel, string Generator, int Seed, double TargetMs, Figures Base, Figures? Final,
    string Outcome, double WallSeconds, IReadOnlyList<IterationReport> Iterations, IReadOnlyList<string> Warnings)
{
    /// <summary>The relative budget TargetMs was resolved from, when one was given.</summary>
    public double? TargetFraction { get; init; }
}

public sealed record AdaptationResult(ModelProto Model, Graph Graph, string Text, AdaptationReport Report);

/// <summary>
/// The closed loop of the LAMDA paper: generate an architecture, validate it (syntax and interface, task,
/// requirements), feed the diagnostics back, regenerate, until every constraint holds. On <c>host</c> every
/// candidate is measured; elsewhere the device's predictor is the requirement's metric.
/// </summary>
public static class Adapter
{
    public static AdaptationResult Run(string modelName, Graph rawGraph, WeightStore weights, AdaptOptions options, IProgress<string>? progress = null)
    {
        var wall = Stopwatch.StartNew();
        var warnings = new List<string>();
        if (!options.Device.Calibrated)
            warnings.Add($"device '{options.Device.Name}' uses an uncalibrated estimate from public specs; calibrate it with 'lamda device-profile'.");
        var graph = Normalizer.Normalize(rawGraph, weights).Graph;
        var baseText = LamdaTextWriter.Write(graph);
        var predictor = new LatencyPredictor(options.Device);
        var transfer = new WeightTransfer(graph, weights);
        var generator = options.Generator?.Invoke(graph, weights, transfer, predictor) ?? new SearchGenerator(transfer, predictor);
        var maxIterations = generator is LockedGenerator ? 1 : options.MaxIterations;

        var baseModel = OnnxExporter.Export(graph, weights);
        var baseFigures = Evaluate(baseModel, graph, weights, predictor, options);
        progress?.Report($"base: {Describe(baseFigures)}");
        double Metric(Figures f) => f.MeasuredMs ?? f.PredictedMs;
        if (options.TargetFraction is { } fraction) options = options with { TargetMs = Metric(baseFigures) * fraction };
        var iterations = new List<IterationReport>();

        if (Metric(baseFigures) <= options.TargetMs)
        {
            warnings.Add($"the base model already meets the budget ({Metric(baseFigures):F3} ms <= {options.TargetMs:F3} ms); it is returned unchanged (normalized).");
            return Finish(baseModel, graph, baseText, baseFigures, "base-meets-budget");
        }

        // Calibrate the predictor to this model: the ratio of measured to predicted, updated every iteration.
        double correction = baseFigures.MeasuredMs is { } bm ? bm / baseFigures.PredictedMs : 1;
        var search = generator.Search;
        var (smallestPredicted, smallestText) = search != null ? search.Smallest() : (0, "");
        if (search != null && smallestPredicted * correction > options.TargetMs)
        {
            var smallest = Realize(smallestText, transfer, out _);
            double reachable = smallest != null ? Metric(Evaluate(OnnxExporter.Export(smallest.Value.Graph, smallest.Value.Weights), smallest.Value.Graph, smallest.Value.Weights, predictor, options with { Data = null })) : smallestPredicted * correction;
            if (reachable > options.TargetMs)
                throw new LamdaException(ErrorCodes.ImpossibleBudget,
                    $"{modelName}: the budget of {options.TargetMs:F3} ms on {options.Device.Name} is below the smallest architecture Lamda can make from this model ({reachable:F3} ms{(baseFigures.MeasuredMs != null ? ", measured" : ", predicted")}); raise the budget to at least that.");
        }

        var feedback = new List<Diagnostic>();
        (ModelProto Model, Graph Graph, string Text, Figures Figures)? best = null;
        double goal = options.TargetMs * (options.UpperBand + options.LowerBand) / 2;
        // (predicted, measured) of every measured candidate: the aim is interpolated between the two that
        // bracket the goal (a secant step), which stays stable where the predictor's error varies with width.
        var observed = new List<(double Predicted, double Measured)>();
        if (baseFigures.MeasuredMs is { } baseMeasured) observed.Add((baseFigures.PredictedMs, baseMeasured));
        var baseObserved = observed.ToList();
        // The same per candidate family (the base, at full width, belongs to every family): the predictor's error
        // differs between families (misaligned channel counts run slower than predicted), so a family that has
        // been measured gets an aim from its own measurements.
        var families = new Dictionary<string, (List<(double Predicted, double Measured)> Observed, double Correction)>();
        double FamilyAim(string family) => families.TryGetValue(family, out var f) ? Aim(goal, f.Correction, f.Observed) : Aim(goal, correction, observed);
        // When the generator repeats itself the aim is nudged towards the goal, to explore the neighbouring
        // candidates (the predictor may rank near neighbours differently from the device).
        double nudge = 1;
        for (int i = 1; i <= maxIterations; i++)
        {
            double step = nudge;
            var request = new GenerationRequest(options.TargetMs, Aim(goal, correction, observed) * step, feedback, i, Metric(baseFigures))
            {
                FamilyAim = options.MeasureOnHost ? family => FamilyAim(family) * step : null,
            };
            var text = generator.Generate(request);
            var diagnostics = new List<Diagnostic>(generator.Diagnostics);
            var kept = new Dictionary<string, int[]>();
            var realized = Realize(text, transfer, out var parseDiagnostics, kept);
            diagnostics.AddRange(parseDiagnostics);
            if (realized is { } pruned && options.Reconstruct && options.Data?.CalibImages is { } calibration)
            {
                var reconstructed = Reconstruction.Apply(graph, weights, pruned.Graph, pruned.Weights, kept, calibration, seed: options.Seed);
                realized = (pruned.Graph, Reconstruction.RecalibrateBatchNorm(pruned.Graph, reconstructed, calibration));
                progress?.Report($"iteration {i}: reconstructed the pruned layers and re-estimated BatchNorm statistics on {calibration.Shape[0]} calibration inputs");
            }
            Figures? figures = null;
            ModelProto? model = null;
            if (realized is { } r)
            {
                diagnostics.AddRange(TaskDiagnostics(graph, r.Graph));
                if (diagnostics.Count == 0)
                {
                    model = OnnxExporter.Export(r.Graph, r.Weights);
                    figures = Evaluate(model, r.Graph, r.Weights, predictor, options);
                    if (figures.MeasuredMs is { } first && RequirementDiagnostics(figures, baseFigures, options).Count == 0)
                    {
                        // A candidate about to be accepted is measured again, longer, and judged on both: one short
                        // measurement near the edge of the band can be luck, and an independent check would see it.
                        double again = LatencyMeter.Measure(Bytes(model), r.Graph, new MeasureOptions { Threads = options.Device.Execution.Threads, Seed = options.Seed + 1, Runs = 30, MinSeconds = 1.0 }).P50Ms;
                        figures = figures with { MeasuredMs = (first + again) / 2 };
                    }
                    diagnostics.AddRange(RequirementDiagnostics(figures, baseFigures, options));
                    if (figures.MeasuredMs is { } measured)
                    {
                        correction = measured / figures.PredictedMs;
                        observed.Add((figures.PredictedMs, measured));
                        if (generator.Family is { } family)
                        {
                            var own = families.TryGetValue(family, out var f) ? f.Observed : [.. baseObserved];
                            own.Add((figures.PredictedMs, measured));
                            families[family] = (own, measured / figures.PredictedMs);
                        }
                    }
                    if (Metric(figures) <= options.TargetMs * (options.MeasureOnHost ? options.UpperBand : 1) && AccuracyHolds(figures, baseFigures, options)
                        && (best == null || Metric(figures) > Metric(best.Value.Figures)))
                        best = (model, r.Graph, text, figures);
                }
            }
            bool accepted = diagnostics.Count == 0;
            var hash = ArchitectureHash(text);
            bool repeated = iterations.Any(it => it.ArchitectureHash == hash);
            iterations.Add(new IterationReport(i, generator.Name, hash, DiffLines(baseText, text), figures?.PredictedMs, figures?.MeasuredMs, figures?.Accuracy, diagnostics, accepted, generator.Note));
            progress?.Report($"iteration {i} ({generator.Name}): {(figures != null ? Describe(figures) : "invalid")}{(accepted ? ", all constraints hold" : "; " + string.Join(" ", diagnostics.Select(d => d.Code)))}");
            if (accepted) return Finish(model!, realized!.Value.Graph, text, figures!, "met");
            if (repeated)
            {
                bool under = figures != null && Metric(figures) < goal;
                nudge *= under ? 1.04 : 0.96;
                // Nothing new in either direction within a wide band: the generator has no candidate left to try.
                if (nudge is > 1.35 or < 0.7) break;
            }
            else nudge = 1;
            feedback = diagnostics;
        }
        if (best is { } b)
        {
            warnings.Add($"no candidate within {options.LowerBand:P0}-100% of the budget after {iterations.Count} iterations; returning the largest under budget ({Metric(b.Figures):F3} ms).");
            return Finish(b.Model, b.Graph, b.Text, b.Figures, "best-under-budget");
        }
        var code = iterations.Any(it => it.Diagnostics.Any(d => d.Code == ValidationCodes.Accuracy)) ? ErrorCodes.AccuracyNotMet : ErrorCodes.BudgetNotMet;
        var last = iterations.LastOrDefault()?.Diagnostics.FirstOrDefault()?.Prompt ?? "no valid candidate";
        if (generator is LockedGenerator locked)
            throw new LamdaException(code, $"{modelName}: the locked architecture {locked.Source} no longer meets the constraints ({last}). Delete the lock file to search again.");
        throw new LamdaException(code, $"{modelName}: no architecture met every constraint in {options.MaxIterations} iterations ({last}).");

        AdaptationResult Finish(ModelProto model, Graph g, string text, Figures final, string outcome)
        {
            warnings.AddRange(generator.Warnings);
            var report = new AdaptationReport(modelName, options.Device.Name, options.Device.Label, generator.Name, options.Seed, options.TargetMs,
                baseFigures, final, outcome, wall.Elapsed.TotalSeconds, iterations, warnings) { TargetFraction = options.TargetFraction };
            return new AdaptationResult(model, g, text, report);
        }
    }

    /// <summary>Predicted latency to aim at so that the measured latency lands on <paramref name="goal"/>.</summary>
    static double Aim(double goal, double correction, List<(double Predicted, double Measured)> observed)
    {
        var below = observed.Where(o => o.Measured <= goal).OrderByDescending(o => o.Measured).FirstOrDefault();
        var above = observed.Where(o => o.Measured > goal).OrderBy(o => o.Measured).FirstOrDefault();
        if (below != default && above != default && above.Measured > below.Measured)
            return below.Predicted + (goal - below.Measured) * (above.Predicted - below.Predicted) / (above.Measured - below.Measured);
        return goal / correction;
    }

    static (Graph Graph, WeightStore Weights)? Realize(string text, WeightTransfer transfer, out List<Diagnostic> diagnostics, Dictionary<string, int[]>? keptOutputs = null)
    {
        diagnostics = [];
        var candidate = LamdaTextReader.TryRead(text, "candidate.lamda", out var parse);
        if (candidate == null)
        {
            diagnostics.AddRange(parse.Select(d => Diagnostic.Syntax(ValidationCodes.Parse, $"line {d.Line}, column {d.Column}", $"{d.Code} {d.Message}")));
            return null;
        }
        var (graph, weights, transferDiagnostics) = transfer.Apply(candidate, keptOutputs: keptOutputs);
        diagnostics.AddRange(transferDiagnostics);
        if (graph == null || weights == null) return null;
        var inference = ShapeInference.Run(graph, weights, batchOne: true);
        foreach (var n in graph.Nodes.Where(n => !inference.TypeOf(n.Output).IsStatic && n.Op != "Shape").Take(3))
            diagnostics.Add(Diagnostic.Syntax(ValidationCodes.Shapes, $"{n.Id} ({n.Op})", "its output shape cannot be determined; check the channel counts of its inputs"));
        return diagnostics.Count == 0 ? (graph, weights) : null;
    }

    /// <summary>The task is fixed by the base model: same inputs and outputs, same names, types and shapes.</summary>
    public static List<Diagnostic> TaskDiagnostics(Graph baseGraph, Graph candidate)
    {
        var d = new List<Diagnostic>();
        string Io(IEnumerable<GraphValue> v) => string.Join(", ", v.Select(x => $"{x.Name} {x.Type}"));
        if (Io(baseGraph.Inputs) != Io(candidate.Inputs))
            d.Add(Diagnostic.Task(ValidationCodes.InputChanged, "input", Io(candidate.Inputs), Io(baseGraph.Inputs)));
        if (Io(baseGraph.Outputs) != Io(candidate.Outputs))
            d.Add(Diagnostic.Task(ValidationCodes.OutputChanged, "output", Io(candidate.Outputs), Io(baseGraph.Outputs)));
        foreach (var o in candidate.Outputs)
        {
            var producer = candidate.Nodes.FirstOrDefault(n => n.Output == o.Edge);
            var expected = o.Type.Channels;
            if (producer?.OutChannels is { } c && expected is { } e && c != e)
                d.Add(Diagnostic.Task(ValidationCodes.OutputChanged, $"output '{o.Name}' dimension", c.ToString(), $"{e} (the task head)"));
        }
        return d;
    }

    static bool AccuracyHolds(Figures f, Figures baseFigures, AdaptOptions o) =>
        o.MaxAccuracyDrop is not { } max || f.Accuracy is not { } acc || baseFigures.Accuracy is not { } b || b - acc <= max;

    static List<Diagnostic> RequirementDiagnostics(Figures f, Figures baseFigures, AdaptOptions o)
    {
        var d = new List<Diagnostic>();
        var metricName = f.MeasuredMs != null ? "measured latency" : "predicted latency";
        double metric = f.MeasuredMs ?? f.PredictedMs;
        if (metric > o.TargetMs * (o.MeasureOnHost ? o.UpperBand : 1))
            d.Add(Diagnostic.Requirement(ValidationCodes.LatencyOver, "latency budget", $"{o.TargetMs:F3} ms", metricName, $"{metric:F3} ms", "Reduce the widths of the most expensive layers."));
        else if (metric < o.LowerBand * o.TargetMs)
            d.Add(Diagnostic.Requirement(ValidationCodes.LatencyUnder, "latency budget", $"{o.TargetMs:F3} ms", metricName,
                $"{metric:F3} ms, which leaves {1 - metric / o.TargetMs:P0} of the budget unused", "Use a larger model: widen layers where the budget allows."));
        if (!AccuracyHolds(f, baseFigures, o))
            d.Add(Diagnostic.Requirement(ValidationCodes.Accuracy, "maximum accuracy drop", $"{o.MaxAccuracyDrop:P1}", "accuracy drop",
                $"{baseFigures.Accuracy - f.Accuracy:P1} ({f.Accuracy:P1} against the base's {baseFigures.Accuracy:P1})", "Keep more channels in the layers that matter most for accuracy."));
        return d;
    }

    static Figures Evaluate(ModelProto model, Graph graph, WeightStore weights, LatencyPredictor predictor, AdaptOptions o)
    {
        double predicted = predictor.Predict(graph, weights).LatencyMs;
        byte[]? bytes = o.MeasureOnHost || o.Data != null ? Bytes(model) : null;
        double? measured = o.MeasureOnHost
            ? LatencyMeter.Measure(bytes!, graph, new MeasureOptions { Threads = o.Device.Execution.Threads, Seed = o.Seed, Runs = 20, MinSeconds = 0.5 }).P50Ms
            : null;
        double? accuracy = o.Data?.Accuracy(bytes!);
        return new Figures(predicted, measured, accuracy);
    }

    public static byte[] Bytes(ModelProto model) => ModelFile.ToBytes(model);

    static string Describe(Figures f) =>
        $"predicted {f.PredictedMs:F3} ms" + (f.MeasuredMs is { } m ? $", measured {m:F3} ms" : "") + (f.Accuracy is { } a ? $", accuracy {a:P2}" : "");

    /// <summary>The architecture hash of reports and training data: the first 16 hex digits of the LamdaText's SHA-256.</summary>
    public static string ArchitectureHash(string text) => Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(text)), 0, 8).ToLowerInvariant();

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

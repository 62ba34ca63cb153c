using Lamda.Graphs;
using Lamda.Text;

namespace Lamda.Adaptation;

/// <summary>
/// Turns a generator's LamdaText into a candidate and its figures: parse, weight transfer from the base, shape
/// check, reconstruction of the pruned layers, export, latency metric and accuracy.
/// </summary>
internal sealed class CandidateEvaluator(Candidate baseModel, WeightTransfer transfer, ILatencyMetric metric, AdaptOptions options,
    IProgress<string>? progress = null)
{
    public Candidate Base => baseModel;
    public ILatencyMetric Metric => metric;

    /// <summary>
    /// The candidate a text describes, with the base's weights for what it keeps, and its reconstruction on the
    /// data set's calibration inputs when there are any; null, with the reasons in <paramref name="diagnostics"/>, when none.
    /// </summary>
    public Candidate? Build(string text, List<Diagnostic> diagnostics, int iteration)
    {
        var candidate = Realize(text, diagnostics, []);
        return candidate == null || options.DefersReconstruction ? candidate : Reconstructed(candidate, iteration);
    }

    /// <summary>
    /// The candidate with its pruned layers reconstructed by least squares and its BatchNorm statistics re-estimated on
    /// the calibration inputs; as it is without them.
    /// </summary>
    public Candidate Reconstructed(Candidate candidate, int iteration) => Reconstructed(candidate, $"iteration {iteration}");

    /// <summary>
    /// As <see cref="Reconstructed(Candidate, int)"/> for the candidate <paramref name="text"/> describes, taking the
    /// reconstruction the spreading power was judged on when it is that text's (the same least squares on the same
    /// inputs): the search's first answer is often the one trained, and its reconstruction took 20-36 s on the recognizer.
    /// </summary>
    public Candidate Reconstructed(string text, Candidate candidate, int iteration)
    {
        if (!judged.Remove(text, out var done)) return Reconstructed(candidate, iteration);
        progress?.Report($"iteration {iteration}: reconstructed the pruned layers when the spreading power was judged");
        return done;
    }

    // The reconstructions the spreading power was judged on, by LamdaText, each handed to the loop at most once.
    readonly Dictionary<string, Candidate> judged = new(StringComparer.Ordinal);

    /// <summary>
    /// The agreement with the base on the validation inputs of the architecture a text describes, once reconstructed: what
    /// the search chooses how to spread widths by. Null when the text does not make a candidate or there is no data.
    /// </summary>
    public double? ReconstructedAgreement(string text)
    {
        if (options.Data is not { } data || Realize(text, [], []) is not { } candidate) return null;
        var reconstructed = Reconstructed(candidate, "a candidate of each spreading power");
        if (!ReferenceEquals(reconstructed, candidate)) judged[text] = reconstructed;
        return data.Fidelity(baseModel.Bytes, reconstructed.Bytes, baseModel.Graph);
    }

    Candidate Reconstructed(Candidate candidate, string what)
    {
        if (!options.Reconstruct || options.Data?.Calibration is not { } calibration) return candidate;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var reconstructed = Reconstruction.Apply(baseModel.Graph, baseModel.Weights, candidate.Graph, candidate.Weights,
            candidate.KeptOutputs ?? new Dictionary<string, int[]>(), calibration, seed: options.Seed);
        var recalibrated = Reconstruction.RecalibrateBatchNorm(candidate.Graph, reconstructed, calibration);
        progress?.Report($"{what}: reconstructed the pruned layers and re-estimated BatchNorm statistics " +
            $"on up to {calibration.Shape[0]} calibration inputs in {clock.Elapsed.TotalSeconds:F1} s");
        return new Candidate(candidate.Graph, recalibrated) { KeptOutputs = candidate.KeptOutputs };
    }

    /// <summary>Parse, weight transfer and shape check alone (no reconstruction); null when any of them fails.</summary>
    /// <param name="text">the candidate's LamdaText</param>
    /// <param name="diagnostics">where what is wrong with it is added</param>
    /// <param name="keptOutputs">filled with the base channels each layer keeps, when given</param>
    public Candidate? Realize(string text, List<Diagnostic> diagnostics, Dictionary<string, int[]>? keptOutputs = null)
    {
        int before = diagnostics.Count;
        var parsed = LamdaTextReader.TryRead(text, "candidate.lamda", out var parse);
        if (parsed == null)
        {
            diagnostics.AddRange(parse.Select(d =>
                Diagnostic.Syntax(ValidationCodes.Parse, $"line {d.Line}, column {d.Column}", $"{d.Code} {d.Message}")));
            return null;
        }
        var (graph, weights, transferDiagnostics) = transfer.Apply(parsed, keptOutputs: keptOutputs);
        diagnostics.AddRange(transferDiagnostics);
        if (graph == null || weights == null) return null;
        var inference = ShapeInference.Run(graph, weights, batchOne: true);
        foreach (var n in graph.Nodes.Where(n => !inference.TypeOf(n.Output).IsStatic && n.Op != "Shape").Take(3))
            diagnostics.Add(Diagnostic.Syntax(ValidationCodes.Shapes, $"{n.Id} ({n.Op})",
                "its output shape cannot be determined; check the channel counts of its inputs"));
        return diagnostics.Count == before ? new Candidate(graph, weights) { KeptOutputs = keptOutputs } : null;
    }

    /// <summary>Latency in the loop's metric, and accuracy and fidelity on the data set when there is one.</summary>
    public Figures Evaluate(Candidate candidate) => WithAccuracy(metric.Evaluate(candidate), candidate);

    public Figures WithAccuracy(Figures latency, Candidate candidate)
    {
        if (options.Data is not { } data) return latency;
        // The base agrees with itself; measuring it would only cost a run.
        double fidelity = ReferenceEquals(candidate, baseModel) ? 1 : data.Fidelity(baseModel.Bytes, candidate.Bytes, baseModel.Graph);
        return latency with { Accuracy = data.Accuracy(candidate.Bytes), Fidelity = fidelity };
    }
}

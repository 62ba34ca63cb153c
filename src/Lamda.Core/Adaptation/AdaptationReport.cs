using System.Text.Json.Serialization;
using Lamda.Graphs;
using Onnx;

namespace Lamda.Adaptation;

/// <summary>A model's latency and, with data, its accuracy (when there are labels) and fidelity with the base.</summary>
public sealed record Figures(double PredictedMs, double? MeasuredMs, double? Accuracy)
{
    /// <summary>Agreement with the base model on the validation inputs (1 for the base); null without data.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public double? Fidelity { get; init; }
}

/// <summary>One candidate of the adaptation loop and what the checks said of it.
/// </summary>
/// <param name="Iteration">1 for the first candidate</param>
/// <param name="Generator">the generator that proposed it</param>
/// <param name="ArchitectureHash">hash of its LamdaText (identical architectures share it)</param>
/// <param name="TextDiffLines">lines of LamdaText that differ from the base's</param>
/// <param name="PredictedMs">the predictor's latency, null when it was not reached</param>
/// <param name="MeasuredMs">latency measured on the host, when measuring</param>
/// <param name="Accuracy">top-1 accuracy on the validation labels, when there are labels</param>
/// <param name="Diagnostics">what the checks rejected, with codes and corrective prompts</param>
/// <param name="Accepted">whether it became the loop's best so far</param>
/// <param name="Note">the generator's note on it (for example the width it chose)</param>
public sealed record IterationReport(
    int Iteration, string Generator, string ArchitectureHash, int TextDiffLines, double? PredictedMs, double? MeasuredMs,
    double? Accuracy, IReadOnlyList<Diagnostic> Diagnostics, bool Accepted, string? Note = null)
{
    /// <summary>Agreement with the base model on the validation inputs; null without data.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public double? Fidelity { get; init; }
}

/// <summary>
/// What an adaptation did and found. <c>TargetMs</c> is the budget in milliseconds, resolved from
/// <see cref="TargetFraction"/> when the budget was given as a share of the base's latency.
/// </summary>
public sealed record AdaptationReport(
    string Model, string Device, string DeviceLabel, string Generator, int Seed, double TargetMs, Figures Base, Figures? Final,
    string Outcome, double WallSeconds, IReadOnlyList<IterationReport> Iterations, IReadOnlyList<string> Warnings)
{
    /// <summary>The budget as a share of the base model's latency, when it was given so (absent otherwise).</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public double? TargetFraction { get; init; }

    /// <summary>Fine-tuning of the returned model, when it was fine-tuned (or tried to be).</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public TrainingSummary? Training { get; init; }
}

/// <summary>The adapted model and how it was found.
/// </summary>
/// <param name="Model">the adapted ONNX model, weights included</param>
/// <param name="Graph">its architecture</param>
/// <param name="Text">its architecture as LamdaText</param>
/// <param name="Report">figures of the base and the result, and every iteration of the loop</param>
public sealed record AdaptationResult(ModelProto Model, Graph Graph, string Text, AdaptationReport Report);

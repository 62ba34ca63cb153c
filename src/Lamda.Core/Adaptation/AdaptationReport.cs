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

public sealed record IterationReport(
    int Iteration, string Generator, string ArchitectureHash, int TextDiffLines, double? PredictedMs, double? MeasuredMs,
    double? Accuracy, IReadOnlyList<Diagnostic> Diagnostics, bool Accepted, string? Note = null)
{
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

public sealed record AdaptationResult(ModelProto Model, Graph Graph, string Text, AdaptationReport Report);

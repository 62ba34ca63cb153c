namespace Lamda.Training;

/// <summary>
/// How long and how fast to fine-tune. Training stops at <see cref="Steps"/> or <see cref="TimeBudget"/>,
/// whichever comes first.
/// </summary>
public sealed record TrainOptions
{
    /// <summary>Optimizer steps at most.</summary>
    public int Steps { get; init; } = 200;
    /// <summary>Wall-clock limit of the fine-tuning; null for none.</summary>
    public TimeSpan? TimeBudget { get; init; }
    /// <summary>Peak learning rate of Adam, decayed by a cosine schedule.</summary>
    public double LearningRate { get; init; } = 1e-3;
    /// <summary>Inputs per step; a model whose batch dimension is fixed uses that instead.</summary>
    public int BatchSize { get; init; } = 16;
    /// <summary>Seed of the batch draws, so that a run can be repeated exactly.</summary>
    public int Seed { get; init; }
    /// <summary>Weight of the feature losses at kept channels together (shared among them), relative to the output loss.</summary>
    public float FeatureWeight { get; init; } = 1f;
    /// <summary>Weight of the cross-entropy with labels, when there are labels.</summary>
    public float LabelWeight { get; init; } = 1f;
    /// <summary>
    /// Side of the seeded square crops an image model with larger inputs (both height and width) trains on, as a fully
    /// convolutional detector can: a step then costs about (side / size)^2 of a full-size one. Null trains at the full
    /// size; a model that does not run at the crop size falls back to it.
    /// </summary>
    public int? CropSize { get; init; } = 320;
    /// <summary>ONNX Runtime intra-op threads for the training runs.</summary>
    public int Threads { get; init; } = 1;
}

/// <summary>One step's report for a progress bar.</summary>
public readonly record struct TrainProgress(int Step, int TotalSteps, double Loss, double LearningRate, TimeSpan Elapsed);

/// <summary>What a fine-tuning run did: steps taken, the loss over the run, and why it stopped.</summary>
internal sealed record TrainReport
{
    public required int Steps { get; init; }
    public required TimeSpan Elapsed { get; init; }
    /// <summary>Loss of each step's batch, before that step's update.</summary>
    public required IReadOnlyList<double> Losses { get; init; }
    public required bool StoppedByTime { get; init; }
    /// <summary>Trainable weights the loss does not depend on; they keep their values.</summary>
    public IReadOnlyList<string> Untrained { get; init; } = [];
    /// <summary>Side of the square crops trained on, or null for the full size.</summary>
    public int? CropSide { get; init; }
    /// <summary>Why training ran other than asked (a crop size the model cannot run at), or null.</summary>
    public string? Note { get; init; }
    /// <summary>The peak rate the run ended with: the asked one, or a quarter of it per restart on a climbing loss.</summary>
    public double LearningRate { get; init; }
    public double FirstLoss => Losses.Count > 0 ? Losses[0] : double.NaN;
    public double LastLoss => Losses.Count > 0 ? Losses[^1] : double.NaN;
}

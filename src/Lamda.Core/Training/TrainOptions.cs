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
    /// <summary>
    /// When the whole run that trains should be done (UTC): the fine-tuning then gets what remains of it when it starts, at
    /// least <see cref="MinimumTime"/> and at most <see cref="TimeBudget"/> (<see cref="StartingAt"/>). Null: the time budget
    /// alone. A search that is quick on one machine and slow on another then leaves training all the time there is.
    /// </summary>
    public DateTime? FinishBy { get; init; }
    /// <summary>The least time a run with <see cref="FinishBy"/> trains, however late it starts.</summary>
    public TimeSpan MinimumTime { get; init; } = TimeSpan.FromMinutes(1);
    /// <summary>Peak learning rate of Adam, decayed by a cosine schedule.</summary>
    public double LearningRate { get; init; } = 1e-3;
    /// <summary>Steps over which the rate rises linearly to its peak at the start of a run (and of a restart at a lower rate).</summary>
    public int WarmupSteps { get; init; } = 20;
    /// <summary>Inputs per step; a model whose batch dimension is fixed uses that instead.</summary>
    public int BatchSize { get; init; } = 16;
    /// <summary>Seed of the batch draws, so that a run can be repeated exactly.</summary>
    public int Seed { get; init; }
    /// <summary>Weight of the feature losses at kept channels together (shared among them), relative to the output loss.</summary>
    public float FeatureWeight { get; init; } = 1f;
    /// <summary>
    /// Temperature of the KL divergence on Softmax outputs: both distributions are softened to softmax(logits / T), so the
    /// student also learns how the teacher ranks the classes it does not pick (Hinton et al.'s distillation). 1 compares the
    /// probabilities as they are. At 2, two architectures of the held-out PP-OCRv4 recognizer read 87.3% and 89.3% of
    /// lines-val after 360 steps against 82.3% and 88.7% at 1, the same seeds; matching the logits themselves (the limit of
    /// a high temperature) read 55.3% (docs/training.md).
    /// </summary>
    public float Temperature { get; init; } = 2f;
    /// <summary>Weight of the cross-entropy with labels, when there are labels.</summary>
    public float LabelWeight { get; init; } = 1f;
    /// <summary>
    /// Side of the seeded square crops an image model with larger inputs (both height and width) trains on, as a fully
    /// convolutional detector can: a step then costs about (side / size)^2 of a full-size one. Null trains at the full
    /// size; a model that does not run at the crop size falls back to it.
    /// </summary>
    public int? CropSize { get; init; } = 320;
    /// <summary>
    /// Pixels of one step's crops at most: a model trained on crops takes batches of fewer than <see cref="BatchSize"/>
    /// inputs when the crops would exceed it (4 crops of 320x320 by default). On ppocr_det, 4 crops of 320 per step
    /// learned more per second than 16: a step of 16 took 5-6 times as long as a step of 4 (docs/training.md).
    /// </summary>
    public int CropBatchPixels { get; init; } = 4 * 320 * 320;
    /// <summary>
    /// Perturb every training batch of images a little (<see cref="InputJitter"/>: a shift of a few pixels, contrast and
    /// brightness), so that a small calibration set is not learned by heart.
    /// </summary>
    public bool Jitter { get; init; }
    /// <summary>
    /// Paste a full-height strip of another image of the batch into some images (<see cref="StripMix"/>, CutMix along the
    /// width) before the jitter, so that a small calibration set gives new inputs at every step.
    /// </summary>
    public bool Mix { get; init; }
    /// <summary>
    /// Fill the right padding of images with the content of another image of the batch (<see cref="PaddingFill"/>), before
    /// the strips and the jitter, so that a step's pixels hold calibration content rather than padding.
    /// </summary>
    public bool Fill { get; init; }
    /// <summary>ONNX Runtime intra-op threads for the training runs.</summary>
    public int Threads { get; init; } = 1;

    /// <summary>
    /// The options of a training that starts at <paramref name="now"/> (UTC): <see cref="FinishBy"/> turned into a time budget.
    /// </summary>
    public TrainOptions StartingAt(DateTime now)
    {
        if (FinishBy is not { } end) return this;
        var remaining = end - now < MinimumTime ? MinimumTime : end - now;
        return this with { TimeBudget = TimeBudget is { } budget && budget < remaining ? budget : remaining, FinishBy = null };
    }

    /// <summary>
    /// Inputs per step for calibration inputs of <paramref name="shape"/>: <see cref="BatchSize"/>, fewer when they are
    /// trained on crops whose pixels would exceed <see cref="CropBatchPixels"/>; never more than the inputs, nor fewer than one.
    /// </summary>
    public int BatchFor(long[] shape)
    {
        int batch = CropSize is { } side && CropSampler.Applies(shape, side) ? CropBatchPixels / (side * side) : BatchSize;
        return (int)Math.Max(1, Math.Min(Math.Min(batch, BatchSize), shape[0]));
    }
}

/// <summary>One step's report for a progress bar.</summary>
/// <param name="Step">the step just taken, from 1</param>
/// <param name="TotalSteps">the steps the run takes at most</param>
/// <param name="Loss">the step's batch loss, before its update</param>
/// <param name="LearningRate">the rate of the step's update</param>
/// <param name="Elapsed">wall time since the run started</param>
/// <param name="TimeBudget">the wall-clock limit of the run, when it has one (training stops at it or at the last step)</param>
public readonly record struct TrainProgress(int Step, int TotalSteps, double Loss, double LearningRate, TimeSpan Elapsed,
    TimeSpan? TimeBudget = null)
{
    /// <summary>
    /// How far the run is, 0 to 1: the larger of the steps and the time taken, since it ends at whichever runs out first
    /// (a 10-minute run of the PP-OCRv4 recognizer stopped at 789-798 of its 2400 steps on an AMD EPYC, Zen 5).
    /// </summary>
    public double Done => Math.Clamp(Math.Max((double)Step / Math.Max(1, TotalSteps),
        TimeBudget is { Ticks: > 0 } budget ? Elapsed / budget : 0), 0, 1);
}

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
    /// <summary>The peak rate the run ended with: the asked one, or half of it per restart on a climbing loss.</summary>
    public double LearningRate { get; init; }
    /// <summary>Steps whose loss or gradient was not finite: their update was skipped.</summary>
    public int Skipped { get; init; }
    /// <summary>Where the steps spent their time.</summary>
    public StepPhases Phases { get; init; }
    public double FirstLoss => Losses.Count > 0 ? Losses[0] : double.NaN;
    public double LastLoss => Losses.Count > 0 ? Losses[^1] : double.NaN;
}

/// <summary>
/// Time of the steps by phase: the batch (crops, and the teacher's targets computed on the fly), the gradient model's
/// run (forward and backward), and the optimizer's update.
/// </summary>
internal readonly record struct StepPhases(TimeSpan Batch, TimeSpan Gradient, TimeSpan Update)
{
    public StepPhases Add(TimeSpan batch, TimeSpan gradient, TimeSpan update) => new(Batch + batch, Gradient + gradient, Update + update);

    /// <summary>"batch 12% (teacher, crops), forward+backward 85%, update 3%".</summary>
    public override string ToString()
    {
        double total = (Batch + Gradient + Update).TotalSeconds;
        if (total <= 0) return "no steps";
        string Share(TimeSpan t) => $"{t.TotalSeconds / total:P0}";
        return $"batch and teacher {Share(Batch)}, forward+backward {Share(Gradient)}, update {Share(Update)}";
    }
}

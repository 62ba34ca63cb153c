using Lamda.Data;
using Lamda.Graphs;
using Lamda.Latency;
using Lamda.Training;

namespace Lamda.Adaptation;

/// <summary>
/// What an adaptation must achieve and how: the latency budget on a device, optional data, fine-tuning and search limits.
/// </summary>
public sealed record AdaptOptions
{
    /// <summary>The latency budget in milliseconds; 0 when <see cref="TargetFraction"/> sets it.</summary>
    public double TargetMs { get; init; }
    /// <summary>
    /// The budget as a share of the base model's latency in the loop's metric (measured on host, predicted
    /// elsewhere), instead of <see cref="TargetMs"/>; resolved once, after the base is evaluated.
    /// </summary>
    public double? TargetFraction { get; init; }
    /// <summary>Device profile; when <see cref="MeasureOnHost"/> is true every candidate is also measured here.</summary>
    public required DeviceProfile Device { get; init; }
    /// <summary>Confirm candidates by measuring them with ONNX Runtime on this machine instead of trusting the predictor alone.</summary>
    public bool MeasureOnHost { get; init; }
    /// <summary>Calibration and validation inputs; accuracy and fidelity are measured on the validation inputs.</summary>
    public AdaptData? Data { get; init; }
    /// <summary>Reconstruct pruned layers by least squares on the data set's calibration images (when it has them).</summary>
    public bool Reconstruct { get; init; } = true;
    /// <summary>
    /// With calibration inputs, let the search narrow each coupled layer group by the latency it saves over the damage
    /// it does (<see cref="PruningSensitivity"/>) instead of by one uniform factor.
    /// </summary>
    public bool SpreadWidths { get; init; } = true;
    /// <summary>
    /// Fine-tune the accepted candidate by distillation from the base on the calibration inputs, after the
    /// reconstruction; null for no fine-tuning. Ignored when <see cref="Refiner"/> is set or there are no calibration inputs.
    /// </summary>
    public TrainOptions? Training { get; init; }
    /// <summary>
    /// True when the model's batch dimension was dynamic before its input shape was pinned (to batch 1, for latency):
    /// normalization then keeps the batch out of folded Reshape targets (the adapted model runs at any batch), and
    /// fine-tuning trains on batches of <see cref="TrainOptions.BatchSize"/>, not on single inputs.
    /// </summary>
    public bool BatchIsFree { get; init; }
    /// <summary>Receives the fine-tuning's steps and loss.</summary>
    public IProgress<TrainProgress>? TrainProgress { get; init; }
    /// <summary>The largest drop allowed: of accuracy when the data has labels, of fidelity with the base otherwise.</summary>
    public double? MaxAccuracyDrop { get; init; }
    /// <summary>Seed of every random choice (search, data draws, fine-tuning), so that an adaptation can be repeated exactly.</summary>
    public int Seed { get; init; }
    /// <summary>Candidates tried at most; when none has met every constraint by then, adaptation fails (LAMDA013).</summary>
    public int MaxIterations { get; init; } = 12;
    /// <summary>Accepted band: the result must be at least this share of the target...</summary>
    public double LowerBand { get; init; } = 0.95;
    /// <summary>...and at most this share, a margin for the noise of an independent re-measurement.</summary>
    public double UpperBand { get; init; } = 0.98;
    /// <summary>Generator; the search generator when null.</summary>
    internal Func<Graph, WeightStore, WeightTransfer, LatencyPredictor, IArchitectureGenerator>? Generator { get; init; }
    /// <summary>An optional step for candidates that meet the latency budget, before their accuracy is judged.</summary>
    internal ICandidateRefiner? Refiner { get; init; }
    /// <summary>The latency metric, given the device's predictor and the base model; measured on host, else predicted, when null.</summary>
    internal Func<LatencyPredictor, Candidate, ILatencyMetric>? Metric { get; init; }

    /// <summary>Refuses options that set no budget, or two.</summary>
    internal void CheckBudget()
    {
        if (TargetFraction is { } f)
        {
            if (TargetMs != 0)
                throw new LamdaException(ErrorCodes.BadArgument,
                    "the adaptation sets both a budget in ms and a share of the base's latency; set only one.");
            if (!double.IsFinite(f) || f <= 0)
                throw new LamdaException(ErrorCodes.BadBudget,
                    $"a latency budget of {f} times the base model's latency is not valid; use a share above 0, such as 50%.");
        }
        else if (!double.IsFinite(TargetMs) || TargetMs <= 0)
            throw new LamdaException(ErrorCodes.BadBudget,
                $"the latency budget of {TargetMs} ms is not valid; use a positive budget (5ms) or a share of the base's latency (50%).");
    }

    /// <summary>The budget in milliseconds, given the base model's latency in the loop's metric.</summary>
    internal double ResolveTargetMs(double baseMs) => TargetFraction is { } f ? f * baseMs : TargetMs;

    /// <summary>
    /// Reconstruction waits for the candidate that is fine-tuned: with fine-tuning and no maximum drop, no decision of the
    /// loop reads an untrained candidate's accuracy, and reconstructing every candidate was most of an iteration
    /// (ppocr_rec at 48x320: 45-57 s of each iteration under load). With a maximum drop every candidate is reconstructed,
    /// as the drop of those returned untrained is judged.
    /// </summary>
    internal bool DefersReconstruction => Reconstruct && MaxAccuracyDrop == null && Refiner == null && Training != null
        && Data is { Calibration: not null };

    /// <summary>
    /// The refiner of candidates that meet the budget: the given one, else distillation when it is asked for and possible.
    /// </summary>
    internal ICandidateRefiner? ResolveRefiner() =>
        Refiner ?? (Training is { } train && Data is { Calibration: not null } data
            ? new DistillationRefiner(data, MeasureOnHost ? OnEveryCore(train) : train, TrainProgress) { BatchIsFree = BatchIsFree }
            : null);

    /// <summary>
    /// Training on every core of the machine: on host the loop holds the machine-wide measurement lock for its whole run,
    /// so no other adaptation measures while it trains. The recognizer's steps took 0.89 s on 2 threads against 1.40 s on
    /// one, with the same losses step for step. Elsewhere (a predicted device) parallel builds train side by side, one
    /// thread each, and must not slow down a host build's measurement.
    /// </summary>
    static TrainOptions OnEveryCore(TrainOptions train) => train with { Threads = Math.Max(train.Threads, Environment.ProcessorCount) };
}

/// <summary>
/// An optional step after a candidate meets the latency budget: new weights for its graph (for example by
/// distilling the base model into it). The refined candidate is what the accuracy requirement judges, and a
/// drop too large goes back to the generator as feedback like any other.
/// </summary>
internal interface ICandidateRefiner
{
    /// <summary>Weights for the candidate's graph, which must stay as it is; never the inputs, modified.</summary>
    /// <param name="baseModel">the base model, the teacher</param>
    /// <param name="candidate">the pruned candidate, its weights transferred (and reconstructed) from the base</param>
    /// <param name="seed">the run's seed</param>
    WeightStore Refine(Candidate baseModel, Candidate candidate, int seed);
}

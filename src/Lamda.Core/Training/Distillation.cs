using Lamda.Graphs;
using Lamda.Runtime;
using Microsoft.ML.OnnxRuntime;

namespace Lamda.Training;

/// <summary>Fine-tunes an adapted model by knowledge distillation from its base model, with labels where there are labels.</summary>
internal static class Distillation
{
    /// <param name="kept">base output channels kept per narrowed node (WeightTransfer.Apply's keptOutputs), for
    /// feature losses; may be null</param>
    /// <param name="calibration">training inputs [N, ...] for the student's first input</param>
    /// <param name="labels">class labels [N] for a classifier, or null</param>
    /// <param name="teacher">the base graph it learns from</param>
    /// <param name="teacherWeights">the base model's weights (left unchanged)</param>
    /// <param name="student">the adapted graph being trained</param>
    /// <param name="studentWeights">the adapted model's starting weights (copied, never changed)</param>
    /// <param name="options">steps, time budget, learning rate, batch size, seed</param>
    /// <param name="progress">receives the loss as training runs</param>
    public static (WeightStore Tuned, TrainReport Report) FineTune(Graph teacher, WeightStore teacherWeights, Graph student,
        WeightStore studentWeights, IReadOnlyDictionary<string, int[]>? kept, TensorData calibration, long[]? labels,
        TrainOptions options, IProgress<TrainProgress>? progress = null)
    {
        int n = (int)calibration.Shape[0];
        if (labels != null && labels.Length != n)
            throw new LamdaException(ErrorCodes.BadData, $"{labels.Length} labels for {n} calibration inputs; give one label per input.");
        string? note = null;
        if (options.CropSize is { } side && CropSampler.Applies(calibration.Shape, side) && student.Inputs[0].Type.Dims is { Length: 4 })
        {
            var crops = new CropSampler(side, options.Seed);
            try
            {
                var (tuned, report) = Run(crops.AtCropSize(teacher), teacherWeights, crops.AtCropSize(student), studentWeights, kept,
                    calibration, labels, options, progress, crops);
                return (tuned, report with { CropSide = side });
            }
            catch (Exception e) when (e is not TrainingDivergedException && e is LamdaException or OnnxRuntimeException)
            {
                // A graph with the spatial size built into its constants (reshapes, resize sizes) runs only at its own size.
                note = $"trained at the full size: the model does not run on {side}x{side} crops ({FirstLine(e.Message)})";
            }
        }
        var (full, fullReport) = Run(teacher, teacherWeights, student, studentWeights, kept, calibration, labels, options, progress, null);
        var notes = new[] { note, fullReport.Note }.Where(n => n != null);
        return (full, fullReport with { Note = notes.Any() ? string.Join("; ", notes) : null });
    }

    static string FirstLine(string message) => message.Split('\n')[0];

    static (WeightStore Tuned, TrainReport Report) Run(Graph teacher, WeightStore teacherWeights, Graph student,
        WeightStore studentWeights, IReadOnlyDictionary<string, int[]>? kept, TensorData calibration, long[]? labels,
        TrainOptions options, IProgress<TrainProgress>? progress, CropSampler? crops)
    {
        int n = (int)calibration.Shape[0];
        int batch = BatchSize(student, options, calibration.Shape);
        var sampler = new BatchSampler(n, batch, options.Seed);
        var jitter = options.Jitter ? new InputJitter(options.Seed) : null;
        // Seeded crops of larger images already make every batch new; strips pasted into them only distort the scenes.
        var mix = options.Mix && crops == null ? new StripMix(options.Seed) : null;
        var fill = options.Fill && crops == null ? new PaddingFill(options.Seed) : null;
        TensorData Gather(int[] items)
        {
            var inputs = crops?.Gather(calibration, items) ?? BatchSampler.Gather(calibration, items);
            inputs = fill?.Apply(inputs) ?? inputs;
            inputs = mix?.Apply(inputs) ?? inputs;
            return jitter?.Apply(inputs) ?? inputs;
        }
        var first = sampler.Next();
        var firstInputs = Gather(first);
        // The teacher labels a whole batch on every thread; the student's forward and backward run as shards, one a thread.
        int shards = ShardedGradientRunner.ShardsFor(batch, options.Threads);
        using var objective = DistillationObjective.Create(teacher, teacherWeights, ForShard(student, batch, shards), studentWeights, kept,
            labels != null, options, firstInputs);
        Dictionary<string, TensorData> Feeds(int[] items, TensorData inputs) =>
            objective.Feeds(inputs, labels == null ? null : items.Select(i => labels[i]).ToArray());
        var firstFeeds = Feeds(first, firstInputs);
        var model = BackwardGraph.Build(objective.Model, objective.Loss, objective.Trainable,
            ShardedGradientRunner.Shard(firstFeeds, shards, 0));
        var weights = objective.InitialWeights();
        var report = Trainer.Run(model, weights, objective.WeightShapes(), step =>
        {
            if (step == 0) return firstFeeds;
            var items = sampler.Next();
            return Feeds(items, Gather(items));
        }, options, progress, shards);
        return (objective.Apply(student, studentWeights, weights), report);
    }

    /// <summary>
    /// The student as one shard runs it: a training batch pinned in its input (as the loop pins it for a model adapted at
    /// batch 1) becomes the shard's rows, which is what the gradient model is fed.
    /// </summary>
    static Graph ForShard(Graph student, int batch, int shards)
    {
        if (shards == 1 || student.Inputs[0].Type.Dims is not { Length: > 0 } dims
            || !dims[0].IsKnown || dims[0].Param != null || dims[0].Value != batch) return student;
        return student.WithFirstInputBatch(batch / shards);
    }

    /// <summary>
    /// The options' batch for these inputs, or the model's own when its batch dimension is fixed; never more than the
    /// inputs.
    /// </summary>
    static int BatchSize(Graph student, TrainOptions options, long[] calibration)
    {
        var dims = student.Inputs[0].Type.Dims;
        if (dims is { Length: > 0 } && dims[0].IsKnown && dims[0].Param == null) return (int)dims[0].Value;
        return options.BatchFor(calibration);
    }
}

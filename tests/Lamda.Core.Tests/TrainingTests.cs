using Lamda.Data;
using Lamda.Graphs;
using Lamda.Onnx;
using Lamda.Runtime;
using Lamda.Training;

namespace Lamda.Tests;

/// <summary>Fine-tuning by distillation on the shared and real models: pruned students, a few steps, the loss must fall.</summary>
public class TrainingTests
{
    public static IEnumerable<object[]> EveryModel() =>
        Shared.Models.Concat(Shared.Trained).Concat(["ppocr_cls", "ppocr_det"]).Select(m => new object[] { m });

    /// <summary>Small inputs keep the step cheap: fully convolutional models and global pooling take any size.</summary>
    static long[] InputShape(string name) => name switch
    {
        "digits_cnn" or "digits_resnet" => [2, 1, 28, 28],
        "ppocr_cls" => [2, 3, 48, 96],
        "ppocr_det" => [1, 3, 64, 64],
        "shufflenet_v2_x0_5" => [1, 3, 224, 224], // its Reshapes hold the spatial size
        _ => [1, 3, 64, 64],
    };

    internal static (Graph Graph, WeightStore Weights) LoadAny(string name)
    {
        var path = name.StartsWith("ppocr") ? Path.Combine(Shared.Folder!, "real", name + ".onnx") : Shared.ModelPath(name);
        var (g, w) = OnnxImporter.Import(ModelFile.Load(path), path);
        return (Normalizer.Normalize(g, w).Graph, w);
    }

    internal static (Graph Graph, WeightStore Weights, Dictionary<string, int[]> Kept) Prune(Graph graph, WeightStore weights, double width)
    {
        var analysis = ChannelAnalysis.Run(graph, weights);
        var kept = new Dictionary<string, int[]>();
        var (pruned, prunedWeights) = ChannelPruner.Apply(analysis, ChannelSelection.ScaleWidth(analysis, width), keptOutputs: kept);
        return (pruned, prunedWeights, kept);
    }

    static Graph WithInput(Graph graph, long[] shape)
    {
        var g = graph.Clone();
        g.Inputs[0] = g.Inputs[0] with { Type = new TensorType(DataTypes.Float, shape.Select(d => new Dim(d)).ToArray()) };
        return g;
    }

    static TensorData Random(long[] shape, int seed)
    {
        var rng = new Random(seed);
        var values = new float[shape.Aggregate(1L, (a, d) => a * d)];
        for (int i = 0; i < values.Length; i++) values[i] = rng.NextSingle();
        return new TensorData(DataTypes.Float, shape, values);
    }

    /// <summary>A copy with every float weight scaled by 1 +- 20%, so that even an unpruned student has something to learn.</summary>
    static WeightStore Perturbed(WeightStore weights, int seed)
    {
        var rng = new Random(seed);
        var store = new WeightStore();
        foreach (var (name, t) in weights.Tensors)
        {
            if (t.DataType != DataTypes.Float || t.Dims.Count == 0) { store.Add(name, t); continue; }
            var f = FloatTensor.From(t);
            var data = f.Data.Select(v => v * (1 + 0.2f * (2 * rng.NextSingle() - 1))).ToArray();
            store.Add(name, new FloatTensor(f.Dims, data).ToProto(name));
        }
        foreach (var (key, a) in weights.Attributes) store.AddAttribute(key, a);
        return store;
    }

    [SharedTheory]
    [MemberData(nameof(EveryModel))]
    public void One_step_builds_runs_and_lowers_the_loss(string name)
    {
        var (graph, weights) = LoadAny(name);
        var (pruned, prunedWeights, kept) = Prune(graph, weights, 0.6);
        var shape = InputShape(name);
        var teacher = WithInput(graph, shape);
        var student = WithInput(pruned, shape);
        var inputs = Random(shape, seed: 3);
        prunedWeights = Perturbed(prunedWeights, seed: 4);
        var options = new TrainOptions { Steps = 2, LearningRate = 1e-5, BatchSize = (int)shape[0] };
        var (tuned, report) = Distillation.FineTune(teacher, weights, student, prunedWeights, kept, inputs, null, options);
        Assert.Equal(2, report.Steps);
        using var before = DistillationObjective.Create(teacher, weights, student, prunedWeights, kept, false, options, inputs);
        using var after = DistillationObjective.Create(teacher, weights, student, tuned, kept, false, options, inputs);
        double lossBefore = before.Evaluate(null, inputs, null), lossAfter = after.Evaluate(null, inputs, null);
        Assert.True(lossAfter < lossBefore, $"{name}: loss {lossBefore:G6} -> {lossAfter:G6}");
        Assert.Equal(lossBefore, report.FirstLoss, 1e-3);
    }

    /// <summary>
    /// A batch split into shards, each run on its own session at once, gives the whole batch's loss and gradients (every
    /// loss term is a mean over the batch); a shard that read the wrong rows would not.
    /// </summary>
    [SharedFact]
    public void A_batch_run_as_shards_gives_the_whole_batchs_loss_and_gradients()
    {
        var (graph, weights) = LoadAny("digits_resnet");
        var (student, studentWeights, kept) = Prune(graph, weights, 0.6);
        var inputs = Random([4, 1, 28, 28], seed: 5);
        var options = new TrainOptions { BatchSize = 4 };
        using var objective = DistillationObjective.Create(graph, weights, student, Perturbed(studentWeights, seed: 4), kept, false,
            options, inputs);
        var feeds = objective.Feeds(inputs, null);
        var whole = BackwardGraph.Build(objective.Model, objective.Loss, objective.Trainable, feeds);
        var half = BackwardGraph.Build(objective.Model, objective.Loss, objective.Trainable, ShardedGradientRunner.Shard(feeds, 2, 0));
        var values = objective.InitialWeights();
        var shapes = objective.WeightShapes();
        var weightFeeds = whole.Gradients.Keys.ToDictionary(n => n, n => new TensorData(DataTypes.Float, shapes[n], values[n]));
        using var one = new ShardedGradientRunner(whole, shards: 1, threads: 1);
        using var two = new ShardedGradientRunner(half, shards: 2, threads: 2);
        var (loss, gradients) = one.Run(feeds, weightFeeds);
        var (shardedLoss, shardedGradients) = two.Run(feeds, weightFeeds);
        Assert.True(loss > 0);
        Assert.Equal(loss, shardedLoss, 1e-5 * loss);
        Assert.Equal(gradients.Keys.Order(), shardedGradients.Keys.Order());
        foreach (var (name, g) in gradients)
        {
            double scale = g.Max(Math.Abs);
            for (int i = 0; i < g.Length; i++) Assert.Equal(g[i], shardedGradients[name][i], 1e-4 * scale + 1e-9);
        }
        Assert.Equal(2, ShardedGradientRunner.ShardsFor(16, 2));
        Assert.Equal(1, ShardedGradientRunner.ShardsFor(1, 2));
        Assert.Equal(1, ShardedGradientRunner.ShardsFor(3, 2));
        Assert.Equal(1, ShardedGradientRunner.ShardsFor(16, 1));
    }

    /// <summary>
    /// The loop pins the training batch in the input of a model adapted at batch 1 (free batch); on two threads its
    /// shards still train on batches. Pinned at 4 and run as shards of 2, ONNX Runtime refused the shards' inputs.
    /// </summary>
    [SharedFact]
    public void A_student_pinned_to_the_batch_trains_as_shards()
    {
        var (graph, weights) = LoadAny("digits_cnn");
        var (pruned, prunedWeights, kept) = Prune(graph, weights, 0.6);
        long[] shape = [4, 1, 28, 28];
        var inputs = Random([8, 1, 28, 28], seed: 3);
        var options = new TrainOptions { Steps = 3, BatchSize = 4, Threads = 2, LearningRate = 1e-4 };
        var (_, report) = Distillation.FineTune(WithInput(graph, shape), weights, WithInput(pruned, shape),
            Perturbed(prunedWeights, seed: 4), kept, inputs, null, options);
        Assert.Equal(3, report.Steps);
        Assert.All(report.Losses, l => Assert.True(double.IsFinite(l) && l > 0));
        Assert.True(report.LastLoss < report.FirstLoss, $"loss {report.FirstLoss:G6} -> {report.LastLoss:G6}");
    }

    [SharedFact]
    public void Distillation_lowers_the_loss_on_held_out_inputs()
    {
        var data = DataSet.Load(Path.Combine(Shared.Folder!, "trained"));
        var (graph, weights) = LoadAny("digits_cnn");
        var (student, studentWeights, kept) = Prune(graph, weights, 0.6);
        var calib = data.CalibImages!.Rows(0, 256);
        var heldOut = data.ValImages.Rows(0, 200);
        var options = new TrainOptions { Steps = 40, BatchSize = 32, Seed = 1 };
        var (tuned, report) = Distillation.FineTune(graph, weights, student, studentWeights, kept, calib, null, options);
        using var before = DistillationObjective.Create(graph, weights, student, studentWeights, kept, false, options, calib.Rows(0, 32));
        using var after = DistillationObjective.Create(graph, weights, student, tuned, kept, false, options, calib.Rows(0, 32));
        double lossBefore = before.Evaluate(null, heldOut, null), lossAfter = after.Evaluate(null, heldOut, null);
        Assert.True(lossAfter < 0.8 * lossBefore, $"held-out loss {lossBefore:G6} -> {lossAfter:G6} after {report.Steps} steps");
    }

    [SharedFact]
    public void Training_is_deterministic_for_a_seed()
    {
        var (graph, weights) = LoadAny("digits_cnn");
        var (student, studentWeights, kept) = Prune(graph, weights, 0.5);
        var calib = Random([8, 1, 28, 28], seed: 5);
        var options = new TrainOptions { Steps = 3, BatchSize = 4, Seed = 9 };
        var (a, _) = Distillation.FineTune(graph, weights, student, studentWeights, kept, calib, null, options);
        var (b, _) = Distillation.FineTune(graph, weights, student, studentWeights, kept, calib, null, options);
        var (c, _) = Distillation.FineTune(graph, weights, student, studentWeights, kept, calib, null, options with { Seed = 10 });
        bool Same(WeightStore x, WeightStore y) => x.Tensors.All(kv => kv.Value.RawData.Equals(y.Tensors[kv.Key].RawData));
        Assert.True(Same(a, b));
        Assert.False(Same(a, c));
        Assert.False(Same(a, studentWeights));
    }
}

public class TrainerTests
{
    [Fact]
    public void A_run_deadline_gives_training_what_remains_of_it_within_its_bounds()
    {
        var now = new DateTime(2026, 12, 6, 3, 0, 0, DateTimeKind.Utc);
        var options = new TrainOptions { FinishBy = now.AddMinutes(6), MinimumTime = TimeSpan.FromMinutes(1) };
        // What remains when training starts, and no deadline left for anything after it.
        Assert.Equal(TimeSpan.FromMinutes(6), options.StartingAt(now).TimeBudget);
        Assert.Null(options.StartingAt(now).FinishBy);
        Assert.Equal(TimeSpan.FromMinutes(2), options.StartingAt(now.AddMinutes(4)).TimeBudget);
        // A search that ran past the deadline still leaves the minimum; an explicit budget below what remains wins.
        Assert.Equal(TimeSpan.FromMinutes(1), options.StartingAt(now.AddMinutes(9)).TimeBudget);
        Assert.Equal(TimeSpan.FromMinutes(3), (options with { TimeBudget = TimeSpan.FromMinutes(3) }).StartingAt(now).TimeBudget);
        // Without a deadline the options are as they were.
        var fixedBudget = new TrainOptions { TimeBudget = TimeSpan.FromMinutes(7) };
        Assert.Same(fixedBudget, fixedBudget.StartingAt(now));
    }

    [Fact]
    public void A_spent_time_budget_stops_before_the_first_step()
    {
        var op = new OneOp("Relu", 13).Float([2, 3], kinks: [0f]);
        var model = BackwardGraph.Build(op.WithLoss(), "loss_half", op.Trainable, new Dictionary<string, TensorData>());
        var weights = new Dictionary<string, float[]> { ["in0"] = new float[6] };
        var report = Trainer.Run(model, weights, new Dictionary<string, long[]> { ["in0"] = [2, 3] }, _ => [],
            new TrainOptions { Steps = 5, TimeBudget = TimeSpan.Zero });
        Assert.Equal(0, report.Steps);
        Assert.True(report.StoppedByTime);
    }

    /// <summary>loss = sum((w x)^2)/2 with the weights w trained from fixed values and x fed per step (X(v) scales it).</summary>
    static (GradientModel Model, Dictionary<string, float[]> Weights, Dictionary<string, long[]> Shapes, Func<float, TensorData> X)
        FedQuadratic()
    {
        var model = new OneOp("Mul", 13).Float([4], 1, 2).Constant([4], [1f, 1f, 1f, 1f]).WithLoss();
        model.Graph.Initializer.Remove(model.Graph.Initializer.Single(t => t.Name == "in1"));
        var shape = new global::Onnx.TensorShapeProto();
        shape.Dim.Add(new global::Onnx.TensorShapeProto.Types.Dimension { DimValue = 4 });
        model.Graph.Input.Add(new global::Onnx.ValueInfoProto { Name = "in1", Type = new global::Onnx.TypeProto
            { TensorType = new global::Onnx.TypeProto.Types.Tensor { ElemType = DataTypes.Float, Shape = shape } } });
        static TensorData X(float v) => new(DataTypes.Float, [4], new float[] { v, -2 * v, 0.5f * v, v });
        var gm = BackwardGraph.Build(model, "loss_half", ["in0"], new Dictionary<string, TensorData> { ["in1"] = X(1) });
        return (gm, new Dictionary<string, float[]> { ["in0"] = [1.5f, 1.2f, 1.9f, 1.1f] }, new Dictionary<string, long[]> { ["in0"] = [4] }, X);
    }

    [Fact]
    public void A_batch_that_overflows_is_skipped_and_a_run_of_them_is_divergence()
    {
        // x = inf makes the loss and the gradient w x^2 infinite.
        var (gm, weights, shapes, X) = FedQuadratic();
        var options = new TrainOptions { Steps = 20, LearningRate = 0.05 };
        var report = Trainer.Run(gm, weights, shapes,
            step => new Dictionary<string, TensorData> { ["in1"] = X(step == 3 ? float.PositiveInfinity : 1) }, options);
        Assert.Equal(1, report.Skipped);
        Assert.Equal(19, report.Steps);
        Assert.All(weights["in0"], w => Assert.True(float.IsFinite(w)));
        Assert.True(report.LastLoss < report.FirstLoss);
        Assert.Throws<TrainingDivergedException>(() => Trainer.Run(gm, weights, shapes,
            step => new Dictionary<string, TensorData> { ["in1"] = X(step >= 3 ? float.PositiveInfinity : 1) }, options));
    }

    /// <summary>
    /// <paramref name="steps"/> steps on loss = sum(y^2)/2, y = Mul(w, c) (minimum at w = 0), from fixed weights, at
    /// <paramref name="rate"/> warmed up over <paramref name="warmup"/> steps.
    /// </summary>
    static (TrainReport Report, Dictionary<string, float[]> Weights) Quadratic(double rate, int steps = 400, int warmup = 20)
    {
        var op = new OneOp("Mul", 13).Float([4], 1, 2).Constant([4], [1f, -2f, 0.5f, 3f]);
        var model = BackwardGraph.Build(op.WithLoss(), "loss_half", op.Trainable, new Dictionary<string, TensorData>());
        var weights = new Dictionary<string, float[]> { ["in0"] = [1.5f, 1.2f, 1.9f, 1.1f] };
        var report = Trainer.Run(model, weights, new Dictionary<string, long[]> { ["in0"] = [4] }, _ => [],
            new TrainOptions { Steps = steps, LearningRate = rate, WarmupSteps = warmup });
        return (report, weights);
    }

    [Fact]
    public void The_rate_rises_to_its_peak_over_the_warmup_steps()
    {
        // Adam's first step moves every weight by about the rate, whatever its gradient: by the peak without a warmup, by a
        // twentieth of it at the first of 20 warmup steps.
        float[] start = [1.5f, 1.2f, 1.9f, 1.1f];
        var (_, cold) = Quadratic(0.05, steps: 1, warmup: 0);
        var (_, warm) = Quadratic(0.05, steps: 1, warmup: 20);
        for (int i = 0; i < 4; i++)
        {
            Assert.Equal(0.05, start[i] - cold["in0"][i], 4);
            Assert.Equal(0.05 / 20, start[i] - warm["in0"][i], 4);
        }
    }

    [Fact]
    public void The_settled_check_takes_the_first_batch_again()
    {
        // After 20 steps the recent batches' losses are above the first batch's, but the first batch itself lost less
        // since: other batches are harder, the rate is fine. And the other way round: easier batches, but the first
        // batch lost more than before any update.
        List<double> harder = [0.6, .. Enumerable.Repeat(0.8, 19)], easier = [0.6, .. Enumerable.Repeat(0.4, 19)];
        Assert.True(Trainer.TooFast(harder, 0));
        Assert.False(Trainer.TooFast(harder, 0, (0.6, () => 0.45)));
        Assert.False(Trainer.TooFast(easier, 0));
        Assert.True(Trainer.TooFast(easier, 0, (0.6, () => 0.8)));
        // A first batch a little above its start (Adam's first steps from a good start) is not a rate too high.
        Assert.False(Trainer.TooFast(easier, 0, (0.6, () => 0.7)));
        // Not taken before the 20th step, nor after it.
        Assert.False(Trainer.TooFast(easier[..19], 0, (0.6, () => throw new InvalidOperationException("taken too early"))));
        Assert.False(Trainer.TooFast([.. easier, 0.4], 0, (0.6, () => throw new InvalidOperationException("taken too late"))));
    }

    [Fact]
    public void A_run_whose_level_doubles_after_the_early_checks_has_diverged()
    {
        // The level is the mean of the last 20 losses, against the lowest such mean so far.
        List<double> settled = [1.0, .. Enumerable.Repeat(0.3, 39)];
        Assert.False(Trainer.Diverged([.. settled, .. Enumerable.Repeat(0.5, 20)], 0, 0.3));
        Assert.True(Trainer.Diverged([.. settled, .. Enumerable.Repeat(0.7, 20)], 0, 0.3));
        // One bad batch in a window is not a divergence; nor is anything in the first 20 steps of a (re)start, which the
        // early checks judge; nor anything before a level exists.
        Assert.False(Trainer.Diverged([.. settled, .. Enumerable.Repeat(0.3, 19), 4.0], 0, 0.3));
        Assert.False(Trainer.Diverged([.. settled, .. Enumerable.Repeat(0.7, 20)], 40, 0.3));
        Assert.False(Trainer.Diverged([.. settled, .. Enumerable.Repeat(0.7, 20)], 0, double.PositiveInfinity));
    }

    [Fact]
    public void A_diverged_run_goes_back_to_its_lowest_weights_at_half_the_rate()
    {
        // loss = sum((w x)^2)/2: the weights settle near 0 on x = 1; from step 40 the data are 1000 times larger, so every
        // step's loss is far above the level reached, whatever the rate: each check (at most five) halves it and starts
        // again from the weights of the lowest level, never from the first weights.
        var (gm, weights, shapes, X) = FedQuadratic();
        var report = Trainer.Run(gm, weights, shapes,
            step => new Dictionary<string, TensorData> { ["in1"] = X(step < 40 ? 1 : 1000) },
            new TrainOptions { Steps = 200, LearningRate = 0.05 });
        Assert.Equal(0.05 / 32, report.LearningRate, 9);
        Assert.Contains("the mean loss of 20 steps rose from", report.Note);
        Assert.Contains("training went on from the weights at the lowest", report.Note);
        // The first run's divergence is seen at step 41, the first whose window holds a large batch.
        Assert.Contains("by step 41;", report.Note);
        // After the restart the loss is that of the lowest weights on the large data: at least ten times below the first
        // weights' there (their level after 40 steps; the first weights would give 1e6 times the first loss).
        double firstWeightsThere = 1000 * 1000 * report.FirstLoss;
        Assert.True(report.Losses[41] < 0.1 * firstWeightsThere, $"{report.Losses[41]} vs {firstWeightsThere}");
        Assert.All(weights["in0"], w => Assert.True(float.IsFinite(w)));
    }

    [Fact]
    public void Adam_with_a_cosine_schedule_minimizes_a_quadratic()
    {
        var (report, weights) = Quadratic(0.05);
        Assert.True(report.LastLoss < 1e-3 * report.FirstLoss, $"{report.FirstLoss} -> {report.LastLoss}");
        Assert.All(weights["in0"], w => Assert.InRange(w, -0.05f, 0.05f));
        Assert.Equal(0.05, report.LearningRate);
        Assert.Null(report.Note);
    }

    [Fact]
    public void One_noisy_batch_near_the_start_is_not_a_climb()
    {
        // Losses of ppocr_rec's fine-tuning: trained again at 1e-4 (noise), and at 5e-4 (a climb).
        Assert.False(Trainer.TooFast([0.028, 0.066], 0));
        Assert.False(Trainer.TooFast([0.028, 0.066, 0.026, 0.049], 0));
        // A climb that recovers (ppocr_det at 2e-3) is left alone; one that explodes, or has not come back below the first
        // loss after 20 steps (ppocr_rec at 5e-4: 1.69, 6.65, then 3.5-4), is a rate too high.
        Assert.False(Trainer.TooFast([1.69, 6.65], 0));
        Assert.False(Trainer.TooFast([1.04, 4.0, 3.0, .. Enumerable.Repeat(0.5, 17)], 0));
        Assert.True(Trainer.TooFast([1.69, 6.65, .. Enumerable.Repeat(3.8, 18)], 0));
        Assert.True(Trainer.TooFast([1.9, 30.0, 40.0], 0));
        Assert.True(Trainer.TooFast([1.69, 1.57, double.NaN], 0));
        // Watched only in the first 20 steps of a run, counted from its (re)start.
        Assert.False(Trainer.TooFast([1.0, .. Enumerable.Repeat(0.5, 19), 9.0, 9.0, 90.0], 0));
        Assert.True(Trainer.TooFast([1.0, .. Enumerable.Repeat(0.5, 19), 1.0, 90.0], 20));
    }

    [Fact]
    public void A_rate_that_makes_the_loss_climb_is_halved_and_the_run_restarts()
    {
        // The quadratic above at a rate that throws every weight about 64 past the minimum at the first step.
        var (report, _) = Quadratic(64, warmup: 0);
        Assert.Equal(4, report.LearningRate, 9);
        Assert.Contains("learning rate lowered to 4 (at 64 the loss went from", report.Note);
        // Four explosions (at 64, 32, 16 and 8) seen at the second step of their runs, each run restarting from the first
        // weights; at 4 the loss climbs less than tenfold and is back under its start within 20 steps, so the run goes on.
        Assert.All(new[] { 1, 3, 5, 7 }, i => Assert.True(report.Losses[i] > 10 * report.FirstLoss));
        Assert.All(new[] { 2, 4, 6, 8 }, i => Assert.Equal(report.FirstLoss, report.Losses[i], 5));
        Assert.True(report.Losses.Skip(8 + 17).Take(3).Average() < report.FirstLoss); // steps 18-20 of the run at 4
        Assert.True(report.LastLoss < 1e-2 * report.FirstLoss, $"{report.FirstLoss} -> {report.LastLoss}");
    }
}

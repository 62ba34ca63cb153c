using System.Diagnostics;
using Lamda.Graphs;
using Lamda.Runtime;

namespace Lamda.Training;

/// <summary>
/// Gradient descent with ONNX Runtime: each step runs the <see cref="GradientModel"/> on one batch (forward and
/// backward in one session run) and Adam updates the weights, which live in managed arrays between steps.
/// </summary>
internal static class Trainer
{
    /// <param name="weights">trainable weights by name, updated in place</param>
    /// <param name="shapes">the shape of every trainable weight</param>
    /// <param name="batch">the non-weight inputs of step <c>i</c> (data and loss targets)</param>
    /// <param name="model">the model whose weights are trained</param>
    /// <param name="options">steps, time budget, learning rate, batch size, seed</param>
    /// <param name="progress">receives the loss as training runs</param>
    public static TrainReport Run(GradientModel model, IDictionary<string, float[]> weights, IReadOnlyDictionary<string, long[]> shapes,
        Func<int, Dictionary<string, TensorData>> batch, TrainOptions options, IProgress<TrainProgress>? progress = null)
    {
        using var runner = new ModelRunner(model.Model, new RunnerOptions { IntraOpThreads = options.Threads }, "gradient model");
        var adam = new Adam();
        var losses = new List<double>();
        var clock = Stopwatch.StartNew();
        bool byTime = false;
        var phases = new StepPhases();
        int skipped = 0, inARow = 0;
        for (int step = 0; step < options.Steps; step++)
        {
            if (options.TimeBudget is { } budget && clock.Elapsed >= budget) { byTime = true; break; }
            var mark = clock.Elapsed;
            var feeds = batch(step);
            foreach (var name in model.Gradients.Keys) feeds[name] = new TensorData(DataTypes.Float, shapes[name], weights[name]);
            var fed = clock.Elapsed;
            var results = runner.Run(feeds);
            var ran = clock.Elapsed;
            double loss = ((float[])results[model.Loss].Values)[0];
            var gradients = model.Gradients.ToDictionary(kv => kv.Key, kv => (float[])results[kv.Value].Values, StringComparer.Ordinal);
            // One overflowing batch must not poison the weights (Adam turns an infinite gradient into NaN weights): its
            // step is skipped; only a run of them is divergence.
            if (!double.IsFinite(loss) || !AllFinite(gradients.Values))
            {
                if (++inARow >= MaxNonFiniteInARow)
                    throw new TrainingDivergedException($"fine-tuning diverged at step {step + 1} (loss {loss}); lower the learning rate.");
                skipped++;
                continue;
            }
            inARow = 0;
            losses.Add(loss);
            double rate = CosineSchedule.AtFraction(options.LearningRate, Done(step, clock.Elapsed, options));
            adam.Step(weights, gradients, rate);
            phases = phases.Add(fed - mark, ran - fed, clock.Elapsed - ran);
            progress?.Report(new TrainProgress(step + 1, options.Steps, loss, rate, clock.Elapsed));
        }
        return new TrainReport { Steps = losses.Count, Elapsed = clock.Elapsed, Losses = losses, StoppedByTime = byTime,
            Untrained = model.Unreached, Phases = phases, Skipped = skipped };
    }

    const int MaxNonFiniteInARow = 5;

    static bool AllFinite(IEnumerable<float[]> arrays)
    {
        foreach (var a in arrays)
            foreach (var v in a)
                if (!float.IsFinite(v)) return false;
        return true;
    }

    /// <summary>
    /// How much of the run is spent, so that the learning rate decays to zero by its end (a run cut short by time at a
    /// high rate ends far from a minimum): of its steps, or, when the time budget will end it first at the pace so far,
    /// of the steps that time allows. With time to spare this is the step count alone, so a seed gives the same weights.
    /// </summary>
    static double Done(int step, TimeSpan elapsed, TrainOptions options)
    {
        double planned = options.Steps;
        if (options.TimeBudget is { TotalSeconds: > 0 } budget && elapsed > TimeSpan.Zero)
            planned = Math.Min(planned, Math.Max(step + 1, budget / elapsed * (step + 1)));
        return planned <= 1 ? 0 : step / planned;
    }
}

/// <summary>The loss stopped being finite: the weights trained so far are unusable, but the model being trained is not.</summary>
public sealed class TrainingDivergedException(string message) : LamdaException(ErrorCodes.RuntimeFailed, message);

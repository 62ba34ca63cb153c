using System.Diagnostics;
using Lamda.Graphs;
using Lamda.Runtime;

namespace Lamda.Training;

/// <summary>
/// Gradient descent with ONNX Runtime: each step runs the <see cref="GradientModel"/> on one batch (forward and
/// backward in one session run per shard, <see cref="ShardedGradientRunner"/>) and Adam updates the weights, which
/// live in managed arrays between steps.
/// </summary>
internal static class Trainer
{
    /// <param name="weights">trainable weights by name, updated in place</param>
    /// <param name="shapes">the shape of every trainable weight</param>
    /// <param name="batch">the non-weight inputs of step <c>i</c> (data and loss targets)</param>
    /// <param name="model">the model whose weights are trained</param>
    /// <param name="options">steps, time budget, learning rate, batch size, seed</param>
    /// <param name="progress">receives the loss as training runs</param>
    /// <param name="shards">how many equal shards each batch is split into (<paramref name="model"/> is built for one
    /// shard's rows), each run on one thread at once; 1 runs the batch on one session of the options' threads</param>
    public static TrainReport Run(GradientModel model, IDictionary<string, float[]> weights, IReadOnlyDictionary<string, long[]> shapes,
        Func<int, Dictionary<string, TensorData>> batch, TrainOptions options, IProgress<TrainProgress>? progress = null,
        int shards = 1)
    {
        using var runner = new ShardedGradientRunner(model, shards, options.Threads);
        Dictionary<string, TensorData> Weights() => model.Gradients.Keys.ToDictionary(name => name,
            name => new TensorData(DataTypes.Float, shapes[name], weights[name]), StringComparer.Ordinal);
        var lowest = new Checkpoint(weights);
        var adam = new Adam();
        var losses = new List<double>();
        var clock = Stopwatch.StartNew();
        bool byTime = false;
        double peak = options.LearningRate;
        int backoffs = 0, start = 0;
        var phases = new StepPhases();
        int skipped = 0, inARow = 0;
        // The first batch, kept to judge the rate on: its loss before any update against its loss after a few steps.
        (Dictionary<string, TensorData> Feeds, double Loss)? probe = null;
        double? settled = null;
        double ProbeLoss() => (settled = runner.Run(probe!.Value.Feeds, Weights()).Loss).Value;
        var lowered = new List<string>();
        for (int step = 0; step < options.Steps; step++)
        {
            if (options.TimeBudget is { } budget && clock.Elapsed >= budget) { byTime = true; break; }
            var mark = clock.Elapsed;
            var feeds = batch(step);
            var fed = clock.Elapsed;
            var (loss, gradients) = runner.Run(feeds, Weights());
            var ran = clock.Elapsed;
            // One overflowing batch must not poison the weights (Adam turns an infinite gradient into NaN weights): its
            // step is skipped; only a run of them is divergence (ppocr_det: one batch overflowed at step 703 at either rate).
            if (!double.IsFinite(loss) || !AllFinite(gradients.Values))
            {
                if (++inARow >= MaxNonFiniteInARow)
                    throw new TrainingDivergedException($"fine-tuning diverged at step {step + 1} (loss {loss}); lower the learning rate.");
                skipped++;
                continue;
            }
            inARow = 0;
            losses.Add(loss);
            if (step == 0) probe = (feeds, loss);
            bool tooFast = TooFast(losses, start, probe == null ? null : (probe.Value.Loss, ProbeLoss));
            bool diverged = !tooFast && Diverged(losses, start, lowest.Mean);
            if (backoffs < MaxBackoffs && (tooFast || diverged))
            {
                // Start again at half the rate from the weights of the lowest mean loss so far (the first weights before
                // any window of steps); the cosine goes on over the whole budget.
                lowered.Add(diverged ? Rose(peak, losses, lowest.Mean) : Climbed(peak, losses, start, probe?.Loss, settled));
                settled = null;
                lowest.RestoreInto(weights);
                (adam, peak, start) = (new Adam(), peak / 2, losses.Count);
                backoffs++;
                continue;
            }
            if (losses.Count - start >= Window) lowest.Offer(Level(losses), weights);
            double rate = CosineSchedule.AtFraction(peak, Done(step, clock.Elapsed, options))
                * Warmup(losses.Count - start, options.WarmupSteps);
            adam.Step(weights, gradients, rate);
            phases = phases.Add(fed - mark, ran - fed, clock.Elapsed - ran);
            progress?.Report(new TrainProgress(step + 1, options.Steps, loss, rate, clock.Elapsed, options.TimeBudget));
        }
        return new TrainReport { Steps = losses.Count, Elapsed = clock.Elapsed, Losses = losses, StoppedByTime = byTime,
            Untrained = model.Unreached, LearningRate = peak, Phases = phases, Skipped = skipped,
            Note = backoffs == 0 ? null : $"learning rate lowered to {peak:G2} ({string.Join("; ", lowered)})" };
    }

    /// <summary>Steps whose mean loss is a run's level: what a divergence is judged on and a checkpoint kept by.</summary>
    const int Window = 20;

    /// <summary>How far above the lowest level so far a run's level must rise to count as diverged.</summary>
    const double DivergedFactor = 2;

    /// <summary>
    /// A run diverged when, after its first <see cref="Watched"/> steps, the mean loss of the last <see cref="Window"/>
    /// steps is more than <see cref="DivergedFactor"/> times the lowest such mean so far. The early checks do not see
    /// it: the recognizer, from a start whose first batch lost 1.13, kept 2e-3 through them and ended its 600 steps at
    /// 3.8, less faithful than before training (the weights from before were shipped, reading no line).
    /// </summary>
    /// <param name="losses">the losses of the run's steps so far</param>
    /// <param name="start">where the current (re)start's losses begin</param>
    /// <param name="lowest">the lowest mean over <see cref="Window"/> steps so far</param>
    internal static bool Diverged(List<double> losses, int start, double lowest) =>
        losses.Count - start > Watched && losses.Count - start >= Window && double.IsFinite(lowest)
        && Level(losses) > DivergedFactor * lowest;

    /// <summary>A run's level: the mean loss of its last <see cref="Window"/> steps.</summary>
    static double Level(List<double> losses) => losses.Skip(losses.Count - Window).Average();

    static string Rose(double rate, List<double> losses, double lowest) =>
        $"at {rate:G2} the mean loss of {Window} steps rose from {lowest:G3} to {Level(losses):G3} "
        + $"by step {losses.Count}; training went on from the weights at the lowest";

    /// <summary>Why a rate was lowered, in figures: what a user (or the next tuning) needs to judge the check by.</summary>
    static string Climbed(double rate, List<double> losses, int start, double? before, double? settled) =>
        settled is { } after && before is { } first
            ? $"at {rate:G2} the first batch's loss went from {first:G3} to {after:G3} in {losses.Count - start} steps"
            : $"at {rate:G2} the loss went from {losses[start]:G3} to {losses[^1]:G3} in {losses.Count - start} steps";

    /// <summary>
    /// How many times a rate that makes the loss climb is halved before the run is left to diverge (down to a 32nd). Halving,
    /// not quartering: in two recognizer runs of three the first batch lost more after 20 steps at 2e-3 than before them;
    /// lowered to a quarter, 5e-4, those read 84.7% and 85.3% of lines (the third, at 2e-3, 87.3%); halved, 1e-3, another
    /// such run read 88.0%.
    /// </summary>
    public const int MaxBackoffs = 5;

    /// <summary>
    /// How far above its loss before any update the first batch may be after <see cref="Watched"/> steps. From a start
    /// the reconstruction made good, Adam's first steps at the peak cost that batch a little: the recognizer's went from
    /// 0.482 to 0.524, 0.40 to 0.56 and 0.45 to 0.584 at 2e-3, and 0.45 to 0.523 at 1e-3. Held to no climb at all, the
    /// last of those ended at 5e-4 and read 82.7% of lines, where runs at 1e-3 and 2e-3 read 86.0-89.0%; a rate too high
    /// for the run is still caught, later, by <see cref="Diverged"/>.
    /// </summary>
    const double SettledTolerance = 1.25;

    /// <summary>Steps after a (re)start in which the loss is watched for a rate too high (later, a climb is a hard batch).</summary>
    const int Watched = 20;

    /// <summary>
    /// The rate is too high for this model when, early in a run, the mean of the last 3 losses explodes past ten times the
    /// first loss, or when after <see cref="Watched"/> steps the first batch's loss is still above what it was before any
    /// update: ppocr_rec's attention neck at 2e-3 went from 1.9 to 9e6 in 47 steps, and at 5e-4 from 1.7 to 11 in 3 steps
    /// and stayed at 3.5-4, while at 1e-4 it fell from 1.7 to 0.36 in 40. Adam moves every weight by about the rate at its
    /// first steps whatever the gradient's scale, so a rate that suits a small CNN can wreck a model with normalizations and
    /// attention. A climb in the first steps alone is not the sign: ppocr_det at 2e-3 climbs and recovers (1.04 at the
    /// first step, 0.18 at the 60th), and a twice-the-first-loss rule lowered its rate to 1.25e-4 and its text-mask IoU from
    /// 0.889 to 0.867. The settled check runs the first batch again rather than comparing other batches' losses with it:
    /// from a well reconstructed start, one batch's loss can differ from another's by more than a few steps move either.
    /// It allows the first batch <see cref="SettledTolerance"/> of its loss before any update.
    /// </summary>
    /// <param name="losses">the losses of the run's steps so far</param>
    /// <param name="start">where the current (re)start's losses begin</param>
    /// <param name="probe">the first batch's loss before any update, and a way to take it again with the current weights;
    /// null compares the recent losses with the run's first one</param>
    internal static bool TooFast(List<double> losses, int start, (double Before, Func<double> Now)? probe = null)
    {
        int seen = losses.Count - start;
        if (seen > Watched) return false;
        if (!double.IsFinite(losses[^1])) return true;
        double recent = losses.Skip(Math.Max(start, losses.Count - 3)).Average(), first = losses[start];
        if (recent > 10 * first) return true;
        if (seen < Watched) return false;
        return probe is { } p ? !(p.Now() <= SettledTolerance * p.Before) : recent > first;
    }

    /// <summary>
    /// The share of the peak rate at the <paramref name="seen"/>-th step of a (re)start: rising linearly over the first
    /// <paramref name="steps"/>. Adam's first steps move every weight by about the rate, whatever its gradient: from a
    /// reconstructed start that undoes what the reconstruction did. Without it the recognizer's first batch lost more at
    /// 2e-3 and then at 5e-4 after 20 steps than before any, its rate was lowered twice to 1.3e-4 and it read 69.3-69.7% of
    /// lines; warmed up over 20 steps it kept 2e-3 and read 78.0% (the same architecture, docs/benchmarks.md).
    /// </summary>
    internal static double Warmup(int seen, int steps) => steps <= 0 ? 1 : Math.Min(1.0, seen / (double)steps);

    /// <summary>
    /// The weights at the lowest mean loss over <see cref="Window"/> steps so far (the starting weights until a window
    /// is complete): where a run whose rate turns out too high starts again from.
    /// </summary>
    sealed class Checkpoint(IDictionary<string, float[]> weights)
    {
        readonly Dictionary<string, float[]> saved =
            weights.ToDictionary(kv => kv.Key, kv => (float[])kv.Value.Clone(), StringComparer.Ordinal);

        public double Mean { get; private set; } = double.PositiveInfinity;

        public void Offer(double mean, IDictionary<string, float[]> current)
        {
            if (!(mean < Mean)) return;
            Mean = mean;
            foreach (var (name, w) in current) w.CopyTo(saved[name], 0);
        }

        public void RestoreInto(IDictionary<string, float[]> current)
        {
            foreach (var (name, w) in saved) w.CopyTo(current[name], 0);
        }
    }

    /// <summary>Non-finite steps in a row that end a run.</summary>
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

using Lamda.Latency;

namespace Lamda.Adaptation;

/// <summary>
/// The latency the requirement is judged on. On <c>host</c> every candidate is measured; elsewhere the device's
/// predictor is the metric. The choice is made once, in <see cref="LatencyMetric.For"/>.
/// </summary>
internal interface ILatencyMetric
{
    /// <summary>"measured" or "predicted", as reports and messages say it.</summary>
    string Kind { get; }

    /// <summary>
    /// The share of the target a candidate may reach and be accepted: 1 for a prediction, which is exact, and
    /// below 1 for a measurement, a margin for the noise of an independent re-measurement.
    /// </summary>
    double UpperShare { get; }

    /// <summary>A candidate's latency figures (accuracy is not the metric's business).</summary>
    Figures Evaluate(Candidate candidate);

    /// <summary>The figures of a candidate about to be accepted, checked again where one evaluation can be luck.</summary>
    Figures Confirm(Candidate candidate, Figures first);

    /// <summary>The figure the requirement is judged on.</summary>
    double Of(Figures figures);
}

internal static class LatencyMetric
{
    /// <summary>
    /// "host or not", decided here once: the host measures, any other device is predicted (unless the options bring a
    /// metric of their own: a test's stand-in device).
    /// </summary>
    /// <param name="options">the adaptation's options: the device, the band, the seed</param>
    /// <param name="predictor">the device's predictor</param>
    /// <param name="reference">the base model, which a measured metric may run beside each candidate</param>
    public static ILatencyMetric For(AdaptOptions options, LatencyPredictor predictor, Candidate reference) =>
        options.Metric?.Invoke(predictor, reference) ?? (options.MeasureOnHost
            ? new MeasuredMetric(predictor, options.Device.Execution.Threads, options.Seed, options.UpperBand, reference)
            : new PredictedMetric(predictor));

    /// <summary>"measured latency" or "predicted latency", as the requirement diagnostics name it.</summary>
    public static string Name(this ILatencyMetric metric) => $"{metric.Kind} latency";

    /// <summary>
    /// The highest latency the metric accepts for a budget of <paramref name="targetMs"/>: its upper share of it (the one
    /// place for the rule; the requirement check, the budget's floor and the floor watch all judge by it).
    /// </summary>
    public static double CeilingOf(this ILatencyMetric metric, double targetMs) => targetMs * metric.UpperShare;
}

/// <summary>The device's latency predictor as the metric: deterministic, so one evaluation is the answer.</summary>
internal sealed class PredictedMetric(LatencyPredictor predictor) : ILatencyMetric
{
    public string Kind => "predicted";
    public double UpperShare => 1;
    public Figures Evaluate(Candidate candidate) => new(predictor.Predict(candidate.Graph, candidate.Weights).LatencyMs, null, null);
    public Figures Confirm(Candidate candidate, Figures first) => first;
    public double Of(Figures figures) => figures.PredictedMs;
}

/// <summary>
/// Latency measured with ONNX Runtime on this machine (the prediction is kept too: it is what the aim corrects).
/// The base is measured once, against the reference network; every candidate is then timed in rounds interleaved with the base
/// (<see cref="LatencyMeter.MeasureAgainst"/>) and its latency is that ratio times the base's: a little outside load
/// slows both arms of a round alike, so the ratio, and a budget given relative to the base, survive it; rounds on a
/// machine loaded more than that wait for the load to pass (<see cref="QuietReference"/>). A candidate measured again
/// (proposed again, or about to be accepted and compared once more, longer) is judged on the mean of all its comparisons.
/// </summary>
/// <param name="predictor">the device's predictor, for the predicted figure beside the measured one</param>
/// <param name="threads">the runtime's intra-op threads, as the device profile sets them</param>
/// <param name="seed">the seed of the measurement inputs (the confirmation uses the next one)</param>
/// <param name="upperShare">see <see cref="ILatencyMetric.UpperShare"/></param>
/// <param name="reference">the base model, run beside each candidate</param>
internal sealed class MeasuredMetric(LatencyPredictor predictor, int threads, int seed, double upperShare, Candidate reference)
    : ILatencyMetric
{
    double? baseMs;
    // Every ratio measured per architecture (keyed by its model's bytes). One short comparison of the same candidate moved
    // by 25% under outside load (0.88 then 1.14 ms, mnasnet1_0 at 30%); a candidate proposed again after a nudge, or
    // confirmed, is judged on the mean of all its comparisons instead of on the latest alone.
    readonly Dictionary<string, List<double>> ratios = [];
    readonly QuietReference quietBase = new();

    public string Kind => "measured";
    public double UpperShare => upperShare;
    public Candidate Reference => reference;

    public Figures Evaluate(Candidate candidate)
    {
        double predicted = predictor.Predict(candidate.Graph, candidate.Weights).LatencyMs;
        double measured = ReferenceEquals(candidate, reference) ? BaseMs : PooledRatio(candidate, rounds: 7) * BaseMs;
        return new Figures(predicted, measured, null);
    }

    // One short comparison near the edge of the band can be luck, and an independent check would see it.
    public Figures Confirm(Candidate candidate, Figures first) => first with { MeasuredMs = PooledRatio(candidate, rounds: 9) * BaseMs };

    /// <summary>A new comparison of the candidate (the n-th uses seed + n - 1), pooled with its earlier ones.</summary>
    double PooledRatio(Candidate candidate, int rounds)
    {
        var key = candidate.Hash;
        if (!ratios.TryGetValue(key, out var seen)) ratios[key] = seen = [];
        seen.Add(Ratio(candidate, seed + seen.Count, rounds));
        return seen.Average();
    }

    public double Of(Figures figures) => figures.MeasuredMs!.Value;

    // The base is measured once, on first use, and every candidate's ratio is scaled by that one figure. It is taken
    // by the same protocol as every other figure (interleaved against the reference network): a plain median of the
    // base moved by 10-20% between runs under load, and with it every candidate against a budget in milliseconds.
    double BaseMs => baseMs ??= MeasureBase();

    double MeasureBase()
    {
        var options = new CompareOptions { Threads = threads, Seed = seed, Rounds = 7, MinRoundMs = 15 };
        var c = LatencyMeter.MeasureAgainst(Under(reference, "base"), ReferenceNetwork.Build(), options);
        // The base's own quietest rounds here are what the candidates' comparisons (the base their reference) start from: the
        // first of them, measured in a spell of load throughout, had nothing to tell it so (mobilenet_v3_small at 30% read
        // 0.589-0.604 ms for candidates that measured 0.43-0.48 once the spell passed, and its search never recovered).
        quietBase.ObserveAsCandidate(c, options);
        return c.CandidateMs;
    }

    double Ratio(Candidate candidate, int inputSeed, int rounds)
    {
        // Three runs per arm per round at least (more for small models, up to 25 ms a round): a detector at 640x640
        // (75 ms a run) took 5-7 s per candidate with five, most of a 60-second adaptation.
        var options = new CompareOptions
        {
            Threads = threads, Seed = inputSeed, Rounds = rounds, MinRoundMs = 25, RunsPerRound = 3, Warmup = 3,
        };
        return quietBase.MeasureAgainst(Under(candidate, "candidate"), Under(reference, "base"), options).Ratio;
    }

    static ModelUnderTest Under(Candidate c, string name) => new(c.Bytes, c.Graph, name);
}

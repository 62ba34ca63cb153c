namespace Lamda.Latency;

/// <summary>One arm of a comparison: something that runs once and says how long that took (ms).</summary>
internal interface ITimedRun
{
    double RunMs();
}

/// <summary>How <see cref="LatencyMeter.MeasureAgainst"/> compares two models.</summary>
public sealed record CompareOptions
{
    /// <summary>Intra-op threads of both sessions.</summary>
    public int Threads { get; init; } = 1;
    /// <summary>Untimed runs of each arm first.</summary>
    public int Warmup { get; init; } = 5;
    /// <summary>Clean rounds wanted; each round times a block of runs of each arm and keeps one median per arm.</summary>
    public int Rounds { get; init; } = 9;
    /// <summary>Runs per arm per round: at least this many, and enough for <see cref="MinRoundMs"/> (at most 200).</summary>
    public int RunsPerRound { get; init; } = 5;
    /// <summary>Shortest block of runs per arm in a round, in milliseconds, so that a round outlasts timer noise.</summary>
    public double MinRoundMs { get; init; } = 30;
    /// <summary>
    /// A round whose ratio differs by more than this from the ratio of the two arms' best rounds was hit from outside
    /// on one arm and is retried.
    /// </summary>
    public double Tolerance { get; init; } = 0.08;
    /// <summary>Extra rounds allowed for retries before the comparison settles for what it has (and says it is noisy).</summary>
    public int MaxRetries { get; init; } = 12;
    /// <summary>
    /// A round whose reference ran more than this much slower than the reference's quietest round (this comparison's, or
    /// <see cref="QuietReferenceMs"/>) ran on a loaded machine and is retried, even when its ratio looks clean: load moves
    /// the ratio of two models of different sizes. A quarter-size model against its base (mobilenet_v3_small at 30%)
    /// read 0.281 of it in quiet rounds and 0.311-0.318 in rounds where the base ran 15-60% slow, which a third of them
    /// did on this VM, in spells of 1-10 s.
    /// </summary>
    public double LoadTolerance { get; init; } = 0.15;
    /// <summary>The reference's round median on a quiet machine, from earlier comparisons in the process (null: unknown).</summary>
    public double? QuietReferenceMs { get; init; }
    /// <summary>
    /// How long (in timed milliseconds of both arms) loaded rounds are retried past <see cref="MaxRetries"/>, waiting for
    /// a spell of load to pass; 0 keeps them within <see cref="MaxRetries"/>.
    /// </summary>
    public double LoadPatienceMs { get; init; }
    /// <summary>Seed of the models' random inputs.</summary>
    public int Seed { get; init; }
}

/// <summary>
/// Latency of a candidate as a ratio to a reference measured in the same rounds.
/// <see cref="CandidateMs"/> = <see cref="Ratio"/> x <see cref="ReferenceMs"/>.
/// </summary>
/// <param name="Ratio">median of the clean rounds' candidate/reference ratios</param>
/// <param name="CandidateMs">the candidate's latency: ratio x reference</param>
/// <param name="ReferenceMs">lowest median of the reference over the clean rounds: outside load only ever slows a run down</param>
/// <param name="Noise">robust spread of the clean rounds' ratios (1.4826 x median absolute deviation / ratio)</param>
/// <param name="Rounds">rounds kept</param>
/// <param name="Retried">rounds run again because outside load slowed one arm</param>
/// <param name="Settled">false when the retry budget ran out before enough clean rounds were seen</param>
public sealed record Comparison(double Ratio, double CandidateMs, double ReferenceMs, double Noise, int Rounds, int Retried, bool Settled)
{
    /// <summary>Above this spread of round ratios (or unsettled), the figure should not be trusted to a few percent.</summary>
    public const double NoisyThreshold = 0.05;
    /// <summary>
    /// Lowest median of the candidate over the rounds kept: its own speed on the quietest of them (what a later comparison
    /// with this model as its reference learns its quiet speed from, <see cref="QuietReference"/>).
    /// </summary>
    public double CandidateLowestMs { get; init; }
    /// <summary>True when the figure should not be trusted to a few percent (too much spread, or unsettled).</summary>
    public bool IsNoisy => !Settled || Noise > NoisyThreshold;

    /// <summary>
    /// Of the same model's comparisons in separate sessions, the one with the lowest ratio. Each session places the model's
    /// buffers anew, and its figure moves with that placement as well as with outside load: five models in eight fresh
    /// sessions each, beside the reference, spread by 4-12% on a quiet 2-core VM (sd 1.4-3.6%). Cache conflicts and load
    /// only add time, so the lowest is the model's own speed with the least of either, as calibration keeps each kernel's
    /// lower median of two sessions (<see cref="KernelProfiler.Profile"/>).
    /// </summary>
    public static Comparison Lowest(IReadOnlyList<Comparison> sessions) =>
        sessions.Count == 0 ? throw new ArgumentException("no comparisons", nameof(sessions)) : sessions.MinBy(c => c.Ratio)!;

    /// <summary>The same ratio on another figure for the reference network (a profile's yardstick, or a run's typical one).</summary>
    public Comparison OnYardstick(double referenceMs) => this with { ReferenceMs = referenceMs, CandidateMs = Ratio * referenceMs };

    /// <summary>How far apart the sessions' ratios are: the highest over the lowest, minus one (0 for one session).</summary>
    public static double SessionSpread(IReadOnlyList<Comparison> sessions) =>
        sessions.Count == 0 ? 0 : sessions.Max(c => c.Ratio) / sessions.Min(c => c.Ratio) - 1;

    /// <summary>The comparison as a log line.</summary>
    public override string ToString() =>
        $"{CandidateMs:F3} ms = {Ratio:F4} x {ReferenceMs:F3} ms reference "
        + $"(noise {Noise:P1}, {Rounds} rounds, {Retried} retried{(Settled ? "" : ", unsettled")})";
}

/// <summary>
/// The measurement protocol that survives outside load (issue 14): the same model measured in five processes
/// one after another gave medians from 2.28 to 3.48 ms on a shared machine, but a ratio to a reference taken
/// in the same rounds is stable. Rounds alternate which arm goes first (so slow drift cancels); each keeps
/// the median of a block of runs per arm. A round whose ratio is more than <see cref="CompareOptions.Tolerance"/>
/// off the ratio of the arms' best rounds was hit by outside load on one arm and is run again; the ratio is the
/// median of the clean rounds' ratios, the reference latency the lowest clean round median. A round whose reference
/// ran well over its quietest is loaded and is run again too (<see cref="CompareOptions.LoadTolerance"/>), within the
/// retries or, with <see cref="CompareOptions.LoadPatienceMs"/>, until the spell of load passes.
/// </summary>
internal sealed class InterleavedRounds(CompareOptions options)
{
    readonly List<(double Candidate, double Reference)> rounds = [];

    public Comparison Run(ITimedRun candidate, ITimedRun reference, IProgress<string>? progress = null)
    {
        double estimate = Warm(candidate, reference);
        int runs = (int)Math.Clamp(Math.Ceiling(options.MinRoundMs / Math.Max(estimate, 1e-6)), options.RunsPerRound, 200);
        int retried = 0;
        double timedMs = 0;
        while (true)
        {
            bool candidateFirst = (rounds.Count + retried) % 2 == 0;
            double a = Median(candidateFirst ? candidate : reference, runs), b = Median(candidateFirst ? reference : candidate, runs);
            rounds.Add(candidateFirst ? (a, b) : (b, a));
            timedMs += runs * (a + b);
            var clean = CleanRounds(quietOnly: true);
            if (clean.Count >= options.Rounds) return Summarize(clean, retried, settled: true);
            if (rounds.Count - clean.Count > retried)
            {
                bool loaded = Loaded(rounds[^1], QuietReferenceMs), waiting = loaded && timedMs < options.LoadPatienceMs;
                if (++retried > options.MaxRetries && !waiting) return Settle(clean, retried - 1);
                progress?.Report(loaded
                    ? $"round {rounds.Count} ran on a loaded machine (reference {rounds[^1].Reference:F3} ms against its quietest "
                        + $"{QuietReferenceMs:F3}); measuring it again ({retried} retries)"
                    : $"round {rounds.Count} slowed from outside; measuring it again ({retried}/{options.MaxRetries} retries)");
            }
        }
    }

    /// <summary>
    /// Out of retries: the clean rounds of a quiet machine if there are three, else those whose ratio is clean whatever
    /// the load (a machine loaded for the whole comparison), else every round; unsettled either way.
    /// </summary>
    Comparison Settle(List<(double Candidate, double Reference)> quietAndClean, int retried)
    {
        if (quietAndClean.Count >= 3) return Summarize(quietAndClean, retried, settled: false);
        var clean = CleanRounds(quietOnly: false);
        return Summarize(clean.Count >= 3 ? clean : rounds, retried, settled: false);
    }

    /// <summary>The reference's quietest round median known: this comparison's, or an earlier one's.</summary>
    double QuietReferenceMs => Math.Min(options.QuietReferenceMs ?? double.MaxValue, rounds.Min(r => r.Reference));

    bool Loaded((double Candidate, double Reference) round, double quietMs) => round.Reference > quietMs * (1 + options.LoadTolerance);

    double Warm(ITimedRun candidate, ITimedRun reference)
    {
        double fastest = double.MaxValue;
        for (int i = 0; i < Math.Max(1, options.Warmup); i++) fastest = Math.Min(fastest, candidate.RunMs() + reference.RunMs());
        return fastest / 2;
    }

    /// <summary>The median of <paramref name="runs"/> back-to-back runs of <paramref name="arm"/>.</summary>
    internal static double Median(ITimedRun arm, int runs)
    {
        var times = new double[runs];
        for (int i = 0; i < runs; i++) times[i] = arm.RunMs();
        return MedianOf(times);
    }

    /// <summary>
    /// Rounds whose ratio is within the tolerance of the ratio of the two arms' best rounds. Outside load that hits
    /// one arm of a round moves that round's ratio and is caught; a few percent of wander that slows both arms together
    /// leaves the ratio alone and is kept. Judging each arm on its own against its best round (as before) retried a
    /// third of the rounds on a quiet machine, where short rounds wander by a few percent together. With
    /// <paramref name="quietOnly"/>, rounds on a loaded machine (<see cref="CompareOptions.LoadTolerance"/>) are left out
    /// too: heavier load slows a small model more than its base, and moves their ratio.
    /// </summary>
    List<(double Candidate, double Reference)> CleanRounds(bool quietOnly)
    {
        double anchor = rounds.Min(r => r.Candidate) / rounds.Min(r => r.Reference), quiet = QuietReferenceMs;
        return rounds.Where(r => Math.Abs(r.Candidate / r.Reference / anchor - 1) <= options.Tolerance
            && !(quietOnly && Loaded(r, quiet))).ToList();
    }

    static Comparison Summarize(List<(double Candidate, double Reference)> kept, int retried, bool settled)
    {
        var ratios = kept.Select(r => r.Candidate / r.Reference).ToArray();
        double ratio = MedianOf(ratios);
        double mad = MedianOf(ratios.Select(r => Math.Abs(r - ratio)).ToArray());
        double referenceMs = kept.Min(r => r.Reference);
        return new Comparison(ratio, ratio * referenceMs, referenceMs, 1.4826 * mad / ratio, kept.Count, retried, settled)
        {
            CandidateLowestMs = kept.Min(r => r.Candidate),
        };
    }

    /// <summary>
    /// The <paramref name="p"/>-quantile (0 to 1) of the values, interpolated between the two nearest of them in order:
    /// the one percentile rule of latency statistics (<see cref="LatencyStats"/>) and of the calibration's yardstick.
    /// </summary>
    internal static double PercentileOf(IEnumerable<double> values, double p)
    {
        var sorted = values.Order().ToArray();
        double position = p * (sorted.Length - 1);
        int lo = (int)Math.Floor(position), hi = (int)Math.Ceiling(position);
        return sorted[lo] + (sorted[hi] - sorted[lo]) * (position - lo);
    }

    internal static double MedianOf(double[] values)
    {
        var sorted = values.OrderBy(v => v).ToArray();
        int n = sorted.Length;
        return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    }
}

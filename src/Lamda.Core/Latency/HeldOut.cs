namespace Lamda.Latency;

/// <summary>
/// Calibration checks itself: generated networks that no fit has seen (another seed) are measured with the
/// interleaved protocol against the <see cref="ReferenceNetwork"/> and predicted with the new profile. Their
/// error, the noise the rounds saw, and the reference network's latency go into the profile
/// (<see cref="CalibrationCheck"/>), so a profile says how far it can be trusted and a later load can tell
/// whether the machine still runs at the speed it was calibrated at.
/// </summary>
internal static class HeldOut
{
    /// <summary>Noise above which a calibration is flagged as noisy (the same threshold as a single comparison).</summary>
    public const double NoisyThreshold = Comparison.NoisyThreshold;
    /// <summary>
    /// Share of held-out comparisons that may end unsettled before the calibration is called noisy: one network in
    /// twelve running out of retries happens on a quiet machine (it flagged a calibration whose noise was 1.9%).
    /// </summary>
    public const double UnsettledShare = 0.25;

    /// <param name="profile">the new profile</param>
    /// <param name="options">how it was calibrated</param>
    /// <param name="yardstickMs">
    /// the reference network's figure the profile's timings are on: each held-out network is measured as its ratio to the
    /// reference times this, so that the machine's speed moving between calibration and check is not counted as the
    /// profile's error (a neighbour slowed the reference from 0.396 ms to 0.52-0.56 during one check, which then reported
    /// 30.9% where the ratios said 7%)
    /// </param>
    /// <param name="progress">where each network's figures are reported</param>
    public static CalibrationCheck Check(DeviceProfile profile, ProfileBuilder.Options options, double yardstickMs,
        IProgress<string>? progress)
    {
        var nets = CalibrationNetworks.Build(options.Quick ? 12 : 30, options.Seed + 7001);
        var reference = ReferenceNetwork.Build();
        var predictor = new LatencyPredictor(profile);
        var compare = new CompareOptions { Threads = options.Threads, Rounds = 5, MinRoundMs = 15, Warmup = 3 };
        var errors = new List<double>();
        var noise = new List<double>();
        double referenceMs = double.MaxValue;
        int unsettled = 0;
        // Every network against the one reference network: what its quiet rounds are, learned across them, tells a comparison
        // taken in a spell of load to wait for it to pass.
        var quiet = new QuietReference();
        for (int i = 0; i < nets.Count; i++)
        {
            var c = quiet.MeasureAgainst(ModelUnderTest.Of(nets[i], $"held-out network {i + 1}"), reference, compare);
            double predicted = predictor.Predict(nets[i].Graph, nets[i].Weights).LatencyMs, measured = c.Ratio * yardstickMs;
            errors.Add((predicted - measured) / measured);
            noise.Add(c.Noise);
            if (!c.Settled) unsettled++;
            referenceMs = Math.Min(referenceMs, c.ReferenceMs);
            progress?.Report($"held-out network {i + 1}/{nets.Count}: measured {c}, {measured:F3} ms on the profile's "
                + $"{yardstickMs:F3} ms; predicted {predicted:F3} ms ({errors[^1]:+0.0%;-0.0%})");
        }
        return Summarize(errors, noise, unsettled, referenceMs) with { YardstickMs = yardstickMs };
    }

    /// <summary>Held-out error and noise as a profile stores them.</summary>
    /// <param name="relativeErrors">(predicted - measured) / measured per held-out network</param>
    /// <param name="noise">the noise of each network's comparison</param>
    /// <param name="unsettled">how many comparisons ran out of retries</param>
    /// <param name="referenceMs">the reference network's best figure</param>
    public static CalibrationCheck Summarize(IReadOnlyList<double> relativeErrors, IReadOnlyList<double> noise, int unsettled,
        double referenceMs)
    {
        double medianNoise = noise.Count == 0 ? 0 : InterleavedRounds.MedianOf(noise.ToArray());
        return new CalibrationCheck
        {
            HeldOutNetworks = relativeErrors.Count,
            HeldOutMape = relativeErrors.Count == 0 ? 0 : relativeErrors.Average(Math.Abs),
            HeldOutWithin10 = relativeErrors.Count == 0 ? 0 : relativeErrors.Count(e => Math.Abs(e) <= 0.10) / (double)relativeErrors.Count,
            Noise = medianNoise,
            Noisy = medianNoise > NoisyThreshold || unsettled > UnsettledShare * Math.Max(1, relativeErrors.Count),
            ReferenceMs = referenceMs,
        };
    }
}

namespace Lamda.Latency;

/// <summary>
/// The calibrated profile of this machine, built on first use and cached per machine, ISA, ONNX Runtime
/// version, Lamda version and calibration revision. A cached profile is checked against a short run of the
/// <see cref="ReferenceNetwork"/> when it is loaded: the machine may have changed speed since (another VM
/// placement, a frequency governor), which no fingerprint sees.
/// </summary>
internal static class HostProfiles
{
    /// <summary>Beyond this relative drift of the reference network the cached profile is rescaled.</summary>
    public const double Drift = 0.10;
    /// <summary>Beyond this factor a rescale is not trusted and the profile is rebuilt.</summary>
    public const double MaxRescale = 1.5;

    public static string CachePath(int threads)
    {
        var fingerprint = HostIdentity.Fingerprint($"{LamdaPaths.Version}|{ProfileBuilder.Revision}");
        return Path.Combine(LamdaPaths.CacheDirectory, "profiles", $"host-{fingerprint}-t{threads}.json");
    }

    /// <summary>The host profile: the cached one, checked against the reference network, or a new calibration.</summary>
    /// <param name="progress">where waiting, checking and calibration progress is reported</param>
    /// <param name="threads">intra-op threads the profile is for</param>
    /// <param name="referenceMs">
    /// measures the reference network now (ms); by default a 2-second run (<see cref="MeasureReferenceMs"/>)
    /// </param>
    /// <param name="build">calibrates a new profile; by default the quick suite</param>
    public static DeviceProfile GetOrCreate(IProgress<string>? progress, int threads = 1, Func<double>? referenceMs = null,
        Func<DeviceProfile>? build = null)
    {
        var path = CachePath(threads);
        build ??= () => ProfileBuilder.Build(new ProfileBuilder.Options { Quick = true, Threads = threads }, progress);
        // Under the machine lock from the look at the cache to the save: three parallel builds on a new machine found no
        // profile, queued on the lock, and calibrated it three times one after another.
        using var held = MachineLock.Acquire(progress);
        if (File.Exists(path))
        {
            DeviceProfile? cached = null;
            try { cached = DeviceProfile.Load(path); }
            catch (LamdaException) { progress?.Report($"cached host profile {path} is unreadable; rebuilding it"); }
            if (cached != null && Checked(cached, path, referenceMs ?? (() => MeasureReferenceMs(threads)), progress) is { } ok) return ok;
        }
        progress?.Report("calibrating the host profile (quick kernel suite, about a minute; cached afterwards)");
        var profile = build();
        WarnIfNoisy(profile, progress);
        profile.Save(path);
        return profile;
    }

    /// <summary>The cached profile as is, rescaled to the machine's speed now (and saved so), or null to rebuild.</summary>
    static DeviceProfile? Checked(DeviceProfile cached, string path, Func<double> referenceMs, IProgress<string>? progress)
    {
        if (cached.Check is not { ReferenceMs: > 0 } check) return null; // made without a reference: cannot be checked
        double now = referenceMs(), factor = now / check.ReferenceMs;
        if (Math.Abs(factor - 1) <= Drift) return cached;
        if (factor > MaxRescale || factor < 1 / MaxRescale)
        {
            progress?.Report($"cached host profile {path}: the reference network now takes {now:F3} ms, "
                + $"{factor:F2}x its {check.ReferenceMs:F3} ms at calibration; rebuilding the profile");
            return null;
        }
        progress?.Report($"cached host profile {path}: the reference network now takes {factor:F2}x its time at calibration; "
            + "rescaling the profile");
        var rescaled = Rescale(cached, factor);
        rescaled.Save(path);
        return rescaled;
    }

    /// <summary>Every prediction of the profile multiplied by <paramref name="factor"/> (<see cref="Composition.Times"/>).</summary>
    public static DeviceProfile Rescale(DeviceProfile p, double factor)
    {
        var c = p.Composition;
        return p with
        {
            Composition = c.Times(factor) with
            {
                Provenance = c.Provenance + $"; rescaled x{factor:F3} to the reference network on {DateTime.UtcNow:yyyy-MM-dd}",
            },
            Check = p.Check! with { ReferenceMs = p.Check.ReferenceMs * factor, YardstickMs = p.Check.YardstickMs * factor },
        };
    }

    /// <summary>
    /// The reference network's latency now: eight rounds of a quarter second, the lowest round median (outside
    /// load only slows a round down, so the fastest round is the machine's own speed).
    /// </summary>
    public static double MeasureReferenceMs(int threads, double seconds = 2.0)
    {
        using var held = MachineLock.Acquire();
        using var run = new PreparedModel(ReferenceNetwork.Build(), threads);
        for (int i = 0; i < 5; i++) run.RunMs();
        double best = double.MaxValue;
        const int Rounds = 8;
        for (int r = 0; r < Rounds; r++)
        {
            var times = new List<double>();
            var sw = System.Diagnostics.Stopwatch.StartNew();
            while (times.Count < 5 || sw.Elapsed.TotalSeconds < seconds / Rounds) times.Add(run.RunMs());
            best = Math.Min(best, InterleavedRounds.MedianOf(times.ToArray()));
        }
        return best;
    }

    /// <summary>A profile calibrated on a noisy machine is used, but the user is told to rebuild it on a quiet one.</summary>
    public static void WarnIfNoisy(DeviceProfile profile, IProgress<string>? progress)
    {
        const string Rebuild = "Rebuild it on a quiet machine ('lamda device-profile -o FILE', or delete the cached host profile).";
        if (profile.Check is { Noisy: true } c)
            progress?.Report($"warning: calibration ran on a noisy machine (round-to-round spread {c.Noise:P1}, "
                + $"held-out error {c.HeldOutMape:P1}); its predictions may be off. {Rebuild}");
        // Load that slows every round alike (other work thrashing the caches) leaves the rounds steady but the fit wrong:
        // the profile's own held-out error says so (20% at 3.5% noise under a load average of 20).
        else if (profile.Check is { HeldOutMape: > MaxHeldOutMape } h)
            progress?.Report($"warning: the profile misses its {h.HeldOutNetworks} held-out networks by {h.HeldOutMape:P1} on average "
                + $"(more than {MaxHeldOutMape:P0}; round-to-round spread {h.Noise:P1}); other work probably disturbed the calibration. "
                + Rebuild);
    }

    /// <summary>Held-out error above which a calibration is reported as off even when its rounds were steady.</summary>
    public const double MaxHeldOutMape = 0.10;
}

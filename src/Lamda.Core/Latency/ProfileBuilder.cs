using System.Runtime.InteropServices;
using Lamda.Graphs;

namespace Lamda.Latency;

/// <summary>
/// Builds a calibrated device profile on the device itself: measures the kernel suite alone and fits one
/// non-negative linear model per kernel class; profiles generated networks node by node and refits each class
/// to what its kernels cost in context, with boosted-tree corrections; then fits how kernel latencies compose
/// into whole-network latency (docs/latency.md).
/// </summary>
internal static class ProfileBuilder
{
    /// <summary>Revision of the calibration method: a cached host profile made by another revision is rebuilt.</summary>
    // 2: kernel models scaled to in-context timings; 3: refitted there, with tree corrections; 4: channel blocks from ORT's
    // layout, non-negative composition above the session floor, held-out check, more families; 5: one profiler cost per
    // node for the machine (the median over the networks), a slow round judged by its ratio; 6: non-square (text-strip)
    // inputs and the spelled-out hard-swish in the calibration networks; 7: reorders where ORT puts them (squeeze-excite
    // gates, graph outputs, direct convolutions), SiLU fused as ORT does, per-group cost of plain grouped convolutions,
    // ResNeXt-style and bottleneck calibration networks; 8: a Resize that runs blocked has its own model, decoders upsample
    // class maps of deeper features in both layouts; 9: whole networks scaled by the reference's typical figure, not its best;
    // 10: EfficientNet-style calibration networks (SiLU maps, squeeze-excite with SiLU), twice the decoders, 120 quick
    // networks, a cost for traffic beyond a core's cache, a fixed cost in context for classes with few samples; 11: a kernel
    // that follows a blocked convolution is sized by its padded channels, in-context timings on the whole networks' yardstick;
    // 12: rows copied to columns off the blocked layout, a plain convolution's hard-swish as ORT's two passes, the channels
    // of a group among the trees' descriptors; 13: the composition's long-run term; 14: a network profiled beside a slow
    // reference is profiled again (SteadyTiming), and the yardstick is the unloaded machine's (Yardstick); 15: the yardstick's
    // tenth percentile interpolated, as every latency percentile is (InterleavedRounds.PercentileOf); 16: what a run of the
    // whole model touches (weights and activations) among the trees' descriptors (ModelFootprint); 17: each network profiled
    // in two sessions, each node's lower median kept; 18: a term of a class's linear model that fewer than ten in-context
    // samples exercise is not priced (FitExercisedTerms); 19: a blocked convolution's work on padding rows apart
    // (Kernel.ValidRowShare); 20: reordered elements beyond the cache priced apart, by the share the reorders timed in
    // context give (ReorderPricing), and the nodes ORT inserts kept session by session (their names are not stable); 21: the
    // long-run term's doublings counted up to the longest calibration network (Composition.LongRunCapMs); 22: the trees'
    // rounds chosen by cross-validation over the calibration networks (BoostedTrees.CrossValidatedRounds); 23: a plain
    // convolution's columns beyond the first-level cache priced apart (Kernel.ColumnsBeyondL1)
    public const int Revision = 23;

    public sealed record Options
    {
        public bool Quick { get; init; }
        public int Threads { get; init; } = 1;
        public string Name { get; init; } = DeviceCatalog.Host;
        public int Seed { get; init; } = 1;
    }

    public static DeviceProfile Build(Options options, IProgress<string>? progress = null)
    {
        using var held = MachineLock.Acquire(progress); // the whole calibration is one timing: nothing else may run meanwhile
        var started = DateTime.UtcNow;
        var block = RuntimeLayout.Granularity;
        progress?.Report($"ONNX Runtime {HostIdentity.OnnxRuntimeVersion} on {HostIdentity.Isa}: blocked layout with tile "
            + $"{block.OutputTile}, input block {block.InputBlock}, depthwise block {block.DepthwiseBlock} (asked of ORT)");
        var samples = KernelSuite.Measure(options.Quick, options.Threads, progress, options.Seed);
        var machine = MachineDescription();
        var profile = new DeviceProfile
        {
            Name = options.Name,
            Description = $"{machine}, {HostIdentity.Isa}, ONNX Runtime {HostIdentity.OnnxRuntimeVersion} CPU, "
                + $"{options.Threads} intra-op thread(s)",
            Calibrated = true,
            Channels = block,
            CacheBytes = HostIdentity.CacheBytes,
            L1Bytes = HostIdentity.L1Bytes,
            Execution = new ExecutionSettings { Provider = "CPU", Threads = options.Threads },
            Provenance = new Provenance
            {
                Method = "measured",
                LamdaVersion = LamdaPaths.Version,
                OnnxRuntimeVersion = HostIdentity.OnnxRuntimeVersion,
                Isa = HostIdentity.Isa,
                Date = started.ToString("yyyy-MM-dd"),
                Machine = machine,
                Notes = options.Quick ? "quick kernel suite" : "full kernel suite",
            },
        };
        profile = profile with
        {
            Kernels = FitAlone(samples, block, profile.Cache,
                $"fitted to {samples.Count} kernel measurements on {machine}, Lamda {LamdaPaths.Version}, {started:yyyy-MM-dd}"),
        };
        // 120 quick: about 18 grouped networks, which give the grouped convolutions' two classes the 40 samples each that trees
        // need (with 100 networks of thirteen families they had 34, and RegNet was predicted 15% under its time).
        var nets = CalibrationNetworks.Build(options.Quick ? 120 : 300, options.Seed + 101);
        // Whole networks first, as ratios to the reference; then in context, beside the reference; both are put on the
        // machine's unloaded figure for the reference (the yardstick).
        var (ratios, wholeReferenceMs) = MeasureWhole(nets, options.Threads, progress);
        var (profiles, yardstickMs) = ProfileInContext(nets, options, wholeReferenceMs, progress);
        var wholeMs = ratios.Select(r => r * yardstickMs).ToArray();
        profile = profile with { Kernels = FitContext(profile, profiles, options, progress) };
        var reorders = FitReorders(profile, nets, profiles, progress);
        profile = profile with
        {
            Composition = FitComposition(profile, nets, wholeMs, options.Threads, reorders.BeyondCacheWeight, progress),
        };
        return profile with { Check = HeldOut.Check(profile, options, yardstickMs, progress) };
    }

    /// <summary>One linear model per kernel class, fitted by relative least squares to the kernel suite measured alone.</summary>
    static Dictionary<string, KernelModel> FitAlone(List<KernelSample> samples, ChannelGranularity block, CoreCache cache,
        string provenance)
    {
        var kernels = new Dictionary<string, KernelModel>();
        foreach (var group in samples.GroupBy(s => s.Kernel.ModelKey(block)))
        {
            var rows = group.ToList();
            var features = rows.Select(r => r.Kernel.Features(block, cache).ToVector()).ToArray();
            var coefficients = Nnls.FitRelative(features, rows.Select(r => r.Ms).ToArray());
            var model = new KernelModel { Coefficients = coefficients, Samples = rows.Count, Provenance = provenance };
            kernels[group.Key] = model
                with { FitMape = rows.Average(r => Math.Abs(model.Predict(r.Kernel.Features(block, cache)) - r.Ms) / r.Ms) };
        }
        return kernels;
    }

    /// <summary>
    /// Every network profiled kernel by kernel, its timings put on one yardstick: multiplied by the yardstick over the
    /// reference network's time around that network's profile (<see cref="SpeedGauge"/>). Without it a calibration whose
    /// in-context phase ran 8% slow fitted its kernels 8% high and its composition at x0.88 with reorders at 1.4 times
    /// their cost, and its held-out families scored 21 of 36 within 10%, against 29-31 for the calibration before it, on
    /// the same measurements. With it, three calibrations in a row fitted compositions of x0.98-1.00 (the reference
    /// beside the networks wandered by up to 11% within each). A network whose reference ran slow is profiled again
    /// (<see cref="SteadyTiming"/>). Each profile is two sessions of half the runs, each node's lower median kept: for
    /// the same time, the fit no longer follows one session's luck (<see cref="KernelProfiler.Profile"/>).
    /// </summary>
    /// <param name="nets">the calibration networks</param>
    /// <param name="options">threads and quick or full</param>
    /// <param name="wholeReferenceMs">the reference's typical figure while the networks were measured whole</param>
    /// <param name="progress">where each network and each retry is reported</param>
    /// <returns>the profiles and the yardstick they are on (<see cref="Yardstick"/>)</returns>
    static (List<KernelProfile> Profiles, double YardstickMs) ProfileInContext(List<GraphBuilder> nets, Options options,
        double wholeReferenceMs, IProgress<string>? progress)
    {
        using var gauge = new SpeedGauge(options.Threads);
        var steady = new SteadyTiming(gauge.ReferenceMs, wholeReferenceMs, budget: nets.Count / 4, progress);
        var raw = new List<KernelProfile>(nets.Count);
        var references = new double[nets.Count];
        for (int i = 0; i < nets.Count; i++)
        {
            var (profile, reference) = steady.Take(
                () => KernelProfiler.Profile(nets[i].Graph, nets[i].Weights, options.Threads, runs: options.Quick ? 5 : 10, warmup: 3,
                    sessions: 2),
                $"network {i + 1}");
            raw.Add(profile);
            references[i] = reference;
            progress?.Report($"profiled network {i + 1}/{nets.Count} in context: {profile.Raw.Count} kernels, {profile.RunMs:F2} ms "
                + $"(profiler gap {profile.GapPerNodeMs * 1000:F1} us per node, reference network {reference:F3} ms)");
        }
        double yardstickMs = Yardstick(wholeReferenceMs, references);
        progress?.Report($"reference network beside the networks: {references.Min():F3}-{references.Max():F3} ms, median "
            + $"{InterleavedRounds.MedianOf(references):F3}, {steady.Retries} profile(s) taken again after the machine slowed; "
            + $"{wholeReferenceMs:F3} ms while the networks were measured whole; timings put on {yardstickMs:F3} ms");
        var profiles = raw.Select((p, i) => p.Scaled(yardstickMs / references[i])).ToList();
        double perNode = KernelProfile.MachineProfilerCost(profiles);
        progress?.Report($"profiler cost taken off every node: {perNode * 1000:F2} us (median over {profiles.Count} networks)");
        return (profiles.Select(p => p with { ProfilerNodeMs = perNode }).ToList(), yardstickMs);
    }

    /// <summary>
    /// The reference's figure on an unloaded machine, which every timing of the profile is put on: its typical figure while
    /// the networks were measured whole, unless that is more than <see cref="SteadyTiming.Unsteady"/> times its tenth
    /// percentile beside the in-context profiles, since outside load only ever slows a run; then that percentile. A
    /// calibration whose whole-network phase ran under load throughout took 0.568 ms there, where the reference ran
    /// 0.393-0.402 ms beside most profiles; on that yardstick its profile predicted 3 of 36 held-out variants within 10%,
    /// most of them 30-50% high (seventeenth session). Within the margin the whole networks' figure stays, as before: the
    /// two are different estimators (the lowest round of a comparison, the median of back-to-back runs).
    /// </summary>
    /// <param name="typicalMs">the reference's typical figure (in calibration, while the networks were measured whole)</param>
    /// <param name="references">the reference's figures to judge it by (in calibration, beside the in-context profiles)</param>
    internal static double Yardstick(double typicalMs, IReadOnlyList<double> references)
    {
        if (references.Count == 0) return typicalMs;
        double tenth = InterleavedRounds.PercentileOf(references, 0.1);
        return typicalMs > tenth * SteadyTiming.Unsteady ? tenth : typicalMs;
    }

    /// <summary>
    /// Kernels measured alone are not what they cost inside a network: there a layer finds its input in the
    /// runtime's blocked layout and its weights out of cache (a large Gemm after the convolutions costs several
    /// times its isolated time), and the error is not one factor per class (it grows with resolution for narrow
    /// depthwise layers, and with width for pointwise layers at 7x7). Generated networks in the styles of the
    /// families Lamda adapts (<see cref="CalibrationNetworks"/>) are profiled node by node with ONNX Runtime's own
    /// profiler. Each kernel class with enough samples gets its linear model refitted to those in-context timings,
    /// and boosted trees over the kernel's descriptors learn what the linear model still misses; classes with few
    /// samples get a fixed cost in context and one factor on the isolated model's size-dependent part; the rest keep
    /// the isolated fit.
    /// </summary>
    static Dictionary<string,
        KernelModel> FitContext(DeviceProfile profile, List<KernelProfile> profiles, Options options, IProgress<string>? progress)
    {
        var samples = new List<InContextSample>();
        foreach (var (measured, network) in profiles.Select((p, i) => (p, i)))
        {
            var footprint = ModelFootprint.Of(measured.Kernels.Select(k => k.Kernel));
            samples.AddRange(measured.Kernels.Where(k => k.Kernel.Class != KernelClass.Free && k.Ms > 0).Select(k
                => new InContextSample(k.Kernel, footprint, k.Ms, network)));
        }
        var g = profile.Channels;
        var cache = profile.Cache;
        var kernels = new Dictionary<string, KernelModel>(profile.Kernels);
        string source = $"{samples.Count} kernels in {profiles.Count} generated networks";
        foreach (var group in samples.GroupBy(p => p.Kernel.ModelKey(g)))
        {
            var rows = group.ToList();
            var isolated = rows[0].Kernel.ModelKeys(g).Select(profile.Kernels.GetValueOrDefault).FirstOrDefault(m => m != null);
            var fitted = rows.Count >= MinSamplesForTrees ? WithTrees(rows, g, cache, options.Seed)
                : rows.Count >= 5 && isolated != null ? FixedCostAndFactor(isolated, rows, g, cache)
                : null;
            if (fitted is not var (model, how)) continue;
            kernels[group.Key] = model = model with
            {
                Provenance = $"{(model.Correction == null ? isolated!.Provenance + "; " : "")}fitted to the in-context timings of "
                    + $"{model.Samples} {group.Key} kernels ({source}{how}) on {MachineDescription()}, Lamda {LamdaPaths.Version}, "
                    + $"{DateTime.UtcNow:yyyy-MM-dd}",
                FitMape = rows.Average(r => Math.Abs(model.Predict(r.Kernel, g, r.Footprint, cache) - r.Ms) / r.Ms),
            };
            progress?.Report($"  {group.Key,-20} in context: {model.Samples} kernels{how}, fit MAPE {model.FitMape:P1}");
        }
        return kernels;
    }

    /// <summary>The class's linear model refitted to its in-context timings, and boosted trees on what it still misses.</summary>
    static (KernelModel Model, string How) WithTrees(List<InContextSample> rows, ChannelGranularity g, CoreCache cache, int seed)
    {
        var features = rows.Select(r => r.Kernel.Features(g, cache)).ToArray();
        var linear = new KernelModel
        {
            Coefficients = FitExercisedTerms(features.Select(f => f.ToVector()).ToArray(), rows.Select(r => r.Ms).ToArray()),
        };
        var residual = rows.Select((r, i) => Math.Log(r.Ms / Math.Max(linear.Predict(features[i]), 1e-5))).ToArray();
        var descriptors = rows.Select(r => r.Kernel.Descriptors(g, r.Footprint)).ToArray();
        var options = new BoostedTrees.Options { Seed = seed };
        int rounds = BoostedTrees.CrossValidatedRounds(descriptors, residual, rows.Select(r => r.Network).ToArray(), options);
        var trees = BoostedTrees.Fit(descriptors, residual, options with { Rounds = rounds });
        return (linear with { Correction = trees, Samples = rows.Count }, $"; linear model and {rounds} rounds of trees");
    }

    /// <summary>
    /// Relative least squares in which a term that fewer than <see cref="MinRowsPerTerm"/> samples exercise (non-zero)
    /// keeps a coefficient of zero: a few samples cannot price a term for the kernels that lie far beyond them. In
    /// context, 3 of 96 plain convolutions had any traffic beyond the cache (at most 0.045 million elements); the fit
    /// gave it 4.7 ms per million elements, and ppocr_det at 640x640 and 0.60 of its widths, with 1.3 million elements
    /// beyond the cache in one such convolution, had it predicted at 9.2 ms where it ran in 3.9 ms. Offline on three
    /// quick calibrations' timings, the detector's kernel sums at 0.60 went from 14-28% over to -8% to +4%, and the
    /// held-out families' from 2.75-3.20% error after one global factor to 2.69-3.07%.
    /// </summary>
    internal static double[] FitExercisedTerms(double[][] x, double[] y)
    {
        var used = Enumerable.Range(0, x[0].Length).Select(j => j == 0 || x.Count(r => r[j] != 0) >= MinRowsPerTerm).ToArray();
        var c = Nnls.FitRelative(x.Select(r => r.Select((v, j) => used[j] ? v : 0).ToArray()).ToArray(), y);
        return c.Select((v, j) => used[j] ? v : 0).ToArray();
    }

    /// <summary>Samples of a class that must exercise a term of its linear model before the fit prices it.</summary>
    const int MinRowsPerTerm = 10;

    /// <summary>
    /// Too few samples for trees: the isolated model's shape kept, with two terms fitted by relative least squares, the
    /// kernel's fixed cost in context and one factor on what the isolated model says grows with size. One factor on the
    /// whole isolated model let the small kernels, most of the samples and mostly fixed cost, set the price of the large
    /// ones too (a blocked bilinear Resize came out at x0.26 of its plain isolated model). Null when no sample has a size.
    /// </summary>
    static (KernelModel Model, string How)? FixedCostAndFactor(KernelModel isolated,
        List<InContextSample> rows, ChannelGranularity g, CoreCache cache)
    {
        var c0 = isolated.Coefficients[0];
        var sized = rows.Select(r => (Size: r.Kernel.Features(g, cache).Dot(isolated.Coefficients) - c0, Ctx: r.Ms))
            .Where(p => p.Size > 0).ToList();
        if (sized.Count < 5) return null;
        var fit = Nnls.FitRelative(sized.Select(p => new[] { 1, p.Size }).ToArray(), sized.Select(p => p.Ctx).ToArray());
        double scale = Math.Clamp(fit[1], 0.2, 5);
        var model = isolated with
        {
            Coefficients = [fit[0], .. isolated.Coefficients.Skip(1).Select(c => c * scale)],
            Samples = sized.Count,
        };
        return (model, $"; {fit[0] * 1000:F1} us fixed, the isolated model's rest x{scale:F3}");
    }

    /// <summary>
    /// One kernel timed inside a calibration network: what it is, what a run of its network touches (whether the other
    /// layers leave this one's weights and input in cache) and its time.
    /// </summary>
    /// <param name="Kernel">the kernel</param>
    /// <param name="Footprint">what a run of its network touches</param>
    /// <param name="Ms">its time in context, the profiler's cost taken off</param>
    /// <param name="Network">the calibration network it was timed in (the trees' cross-validation keeps a network's samples
    /// together)</param>
    readonly record struct InContextSample(Kernel Kernel, ModelFootprint Footprint, double Ms, int Network);

    /// <summary>Kernels of a class needed in context before its model is refitted there (below: a fixed cost and one factor).</summary>
    const int MinSamplesForTrees = 40;

    /// <summary>
    /// Whole models are not just sums of kernels: the runtime reorders tensors between the blocked and the plain
    /// layout, and dispatches every node. The generated networks (never the models being predicted), measured
    /// whole without the profiler, calibrate the composition.
    /// </summary>
    static Composition FitComposition(DeviceProfile profile, List<GraphBuilder> nets, double[] measured, int threads,
        double beyondCacheWeight, IProgress<string>? progress)
    {
        var predictor = new LatencyPredictor(profile with { Composition = new Composition() });
        var features = nets.Select(n => predictor.CompositionFeatures(n.Graph, n.Weights)).ToArray();
        double sessionMs = KernelSuite.RunOverheadMs(threads);
        var composition = Composition.Fit(features, measured, sessionMs,
            $"fitted to {nets.Count} generated networks measured whole (interleaved against the reference network) "
            + $"on {MachineDescription()}, above the empty model's {sessionMs:F4} ms", beyondCacheWeight);
        progress?.Report($"composition: {composition}");
        return composition;
    }

    /// <summary>
    /// What the reorders cost in the calibration networks' profiles, by the count, elements and elements beyond the cache of
    /// the reorders Lamda places in each: the share by which an element beyond the cache costs more is the composition's.
    /// </summary>
    static ReorderPricing FitReorders(DeviceProfile profile, List<GraphBuilder> nets, List<KernelProfile> profiles,
        IProgress<string>? progress)
    {
        var rows = nets.Select((n, i) =>
        {
            var kernels = BlockedLayout.Mark(KernelExtractor.Extract(n.Graph, n.Weights), profile.Channels);
            var outputs = n.Graph.Outputs.Select(o => o.Key).ToHashSet(StringComparer.Ordinal);
            return (BlockedLayout.Reorders(kernels, profile.Channels, outputs, profile.CacheMElements), profiles[i].ReorderMs);
        }).ToList();
        var pricing = ReorderPricing.Fit(rows);
        progress?.Report($"reorders in context: {pricing}");
        return pricing;
    }

    /// <summary>
    /// Whole-network latencies by the interleaved protocol (short comparisons): each network's ratio to the reference
    /// network, and the reference's typical figure (the median over all of them) to multiply them by: a burst of outside
    /// load moves a ratio far less than a plain median, and one yardstick serves every network. The median, not the
    /// best: each comparison's reference figure is already its lowest round, and the minimum of a hundred short
    /// comparisons is a lower yardstick than the ones predictions are judged by (the held-out check and bench-predictor
    /// now take this one and the median of their own comparisons). It sat 2% under a typical comparison's (0.248 ms
    /// against 0.251-0.260 ms), and so did every prediction, where most misses were already under-predictions:
    /// interleaved bench-predictor runs of both gave 25 and 31 of 36 held-out variants within 10% against 22 and 27. That
    /// typical figure is the yardstick every timing of the profile is put on, unless this phase ran slow throughout
    /// (<see cref="Yardstick"/>).
    /// </summary>
    static (double[] Ratios, double ReferenceMs) MeasureWhole(List<GraphBuilder> nets, int threads, IProgress<string>? progress)
    {
        var reference = ReferenceNetwork.Build();
        var options = new CompareOptions { Threads = threads, Rounds = 3, MinRoundMs = 10, Warmup = 2, MaxRetries = 4 };
        // Rounds in a spell of load are retried within the retries (not waited out: 120 networks), judged by the reference's
        // quietest round across the networks.
        var quiet = new QuietReference();
        var comparisons = nets
            .Select((n, i) => quiet.MeasureAgainst(ModelUnderTest.Of(n, $"calibration network {i + 1}"), reference, options, patienceMs: 0))
            .ToList();
        double typical = InterleavedRounds.MedianOf(comparisons.Select(c => c.ReferenceMs).ToArray());
        double noise = InterleavedRounds.MedianOf(comparisons.Select(c => c.Noise).ToArray());
        progress?.Report($"measured {nets.Count} networks whole: reference network {typical:F3} ms, median noise {noise:P1}");
        return (comparisons.Select(c => c.Ratio).ToArray(), typical);
    }

    public static string MachineDescription() => HostIdentity.Machine;

    public static string OnnxRuntimeVersion() => HostIdentity.OnnxRuntimeVersion;
}

/// <summary>Non-negative least squares on relative error, by coordinate descent (a handful of variables).</summary>
internal static class Nnls
{
    /// <summary>
    /// Minimizes sum(((x_i . c) - y_i) / w_i)^2 subject to c &gt;= 0 (except where <paramref name="signed"/> is true);
    /// w is <paramref name="y"/> unless <paramref name="weights"/> are given.
    /// </summary>
    public static double[] FitRelative(double[][] x, double[] y, bool[]? signed = null, double[]? weights = null)
    {
        int n = x.Length, d = x[0].Length;
        var g = new double[d, d];
        var h = new double[d];
        for (int i = 0; i < n; i++)
        {
            double scale = weights?[i] ?? y[i];
            double w = 1.0 / (scale * scale);
            for (int a = 0; a < d; a++)
            {
                h[a] += x[i][a] * y[i] * w;
                for (int b = 0; b < d; b++) g[a, b] += x[i][a] * x[i][b] * w;
            }
        }
        var c = new double[d];
        for (int iter = 0; iter < 5000; iter++)
        {
            double change = 0;
            for (int a = 0; a < d; a++)
            {
                if (g[a, a] <= 0) continue;
                double r = h[a];
                for (int b = 0; b < d; b++) if (b != a) r -= g[a, b] * c[b];
                double next = signed != null && signed[a] ? r / g[a, a] : Math.Max(0, r / g[a, a]);
                change = Math.Max(change, Math.Abs(next - c[a]) * Math.Sqrt(g[a, a]));
                c[a] = next;
            }
            if (change < 1e-12) break;
        }
        return c;
    }
}

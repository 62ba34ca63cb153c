using System.Runtime.InteropServices;
using Lamda.Graphs;

namespace Lamda.Latency;

/// <summary>
/// Builds a calibrated device profile on the device itself: measures the kernel suite, fits one non-negative
/// linear model per kernel class (relative least squares), then measures a set of generated networks to fit
/// how kernel latencies compose into whole-model latency.
/// </summary>
public static class ProfileBuilder
{
    /// <summary>Revision of the calibration method: a cached host profile made by another revision is rebuilt.</summary>
    public const int Revision = 2; // 2: kernel models scaled to in-context timings

    public sealed record Options
    {
        public bool Quick { get; init; }
        public int Threads { get; init; } = 1;
        public string Name { get; init; } = DeviceCatalog.Host;
        public int Seed { get; init; } = 1;
    }

    public static DeviceProfile Build(Options options, IProgress<string>? progress = null)
    {
        var started = DateTime.UtcNow;
        var block = KernelSuite.DetectGranularity(options.Threads);
        progress?.Report($"convolution channel granularity: output tile {block.OutputTile}, input block {block.InputBlock}, depthwise block {block.DepthwiseBlock}");
        var samples = KernelSuite.Measure(options.Quick, options.Threads, progress, options.Seed);
        var machine = MachineDescription();
        var provenance = $"fitted to {samples.Count} kernel measurements on {machine}, Lamda {LamdaPaths.Version}, {started:yyyy-MM-dd}";
        var kernels = new Dictionary<string, KernelModel>();
        foreach (var group in samples.GroupBy(s => s.Kernel.ModelKey(block)))
        {
            var rows = group.ToList();
            var coefficients = Nnls.FitRelative(rows.Select(r => r.Kernel.Features(block)).ToArray(), rows.Select(r => r.Ms).ToArray());
            var model = new KernelModel { Coefficients = coefficients, Samples = rows.Count, Provenance = provenance };
            kernels[group.Key] = model with { FitMape = rows.Average(r => Math.Abs(model.Predict(r.Kernel.Features(block)) - r.Ms) / r.Ms) };
        }
        var profile = new DeviceProfile
        {
            Name = options.Name,
            Description = $"{machine}, ONNX Runtime CPU, {options.Threads} intra-op thread(s)",
            Calibrated = true,
            Channels = block,
            Execution = new ExecutionSettings { Provider = "CPU", Threads = options.Threads },
            Provenance = new Provenance
            {
                Method = "measured",
                LamdaVersion = LamdaPaths.Version,
                OnnxRuntimeVersion = OnnxRuntimeVersion(),
                Date = started.ToString("yyyy-MM-dd"),
                Machine = machine,
                Notes = options.Quick ? "quick kernel suite" : "full kernel suite",
            },
            Kernels = kernels,
        };
        profile = profile with { Kernels = FitContext(profile, options, progress) };
        return profile with { Composition = FitComposition(profile, options, progress) };
    }

    /// <summary>
    /// Kernels measured alone are not what they cost inside a network: a layer there finds its input in the
    /// runtime's blocked layout and its weights out of cache (a large Gemm after the convolutions costs several
    /// times its isolated time). Generated networks are profiled with ONNX Runtime's own per-node timings, and
    /// each kernel model is scaled to what its kernels cost in context, keeping the isolated fit's shape over
    /// widths, kernel sizes and resolutions (which the networks cover less widely).
    /// </summary>
    static Dictionary<string, KernelModel> FitContext(DeviceProfile profile, Options options, IProgress<string>? progress)
    {
        var predictor = new LatencyPredictor(profile);
        var nets = CompositionNetworks.Build(options.Quick ? 24 : 48, options.Seed + 101);
        var pairs = new List<(string Key, double Isolated, double Context)>();
        for (int i = 0; i < nets.Count; i++)
        {
            var measured = KernelProfiler.Profile(nets[i].Graph, nets[i].Weights, options.Threads, runs: options.Quick ? 10 : 20);
            foreach (var (kernel, ms) in measured.Kernels)
                if (kernel.Class != KernelClass.Free && ms > 0 && predictor.KernelMs(kernel) is var iso && iso > 0)
                    pairs.Add((kernel.ModelKey(profile.Channels), iso, ms));
            progress?.Report($"profiled network {i + 1}/{nets.Count} in context: {measured.Kernels.Count} kernels");
        }
        var kernels = new Dictionary<string, KernelModel>(profile.Kernels);
        foreach (var group in pairs.GroupBy(p => p.Key))
        {
            if (!kernels.TryGetValue(group.Key, out var model) || group.Count() < 5) continue;
            // Relative least squares for one factor: minimize sum((a * isolated - context) / context)^2.
            double num = group.Sum(p => p.Isolated / p.Context), den = group.Sum(p => p.Isolated / p.Context * (p.Isolated / p.Context));
            double scale = Math.Clamp(num / den, 0.2, 5);
            kernels[group.Key] = model with
            {
                Coefficients = model.Coefficients.Select(c => c * scale).ToArray(),
                Provenance = model.Provenance + $"; scaled by {scale:F3} to the in-context timings of {group.Count()} kernels in {nets.Count} generated networks",
            };
            progress?.Report($"  {group.Key,-20} in context x{scale:F3} ({group.Count()} kernels)");
        }
        return kernels;
    }

    /// <summary>
    /// Whole models are not just sums of isolated kernels (layout reorders at the boundaries, caches warm across
    /// layers). Generated networks, never the models being predicted, calibrate the composition.
    /// </summary>
    static Composition FitComposition(DeviceProfile profile, Options options, IProgress<string>? progress)
    {
        var predictor = new LatencyPredictor(profile with { Composition = new Composition() });
        var nets = CompositionNetworks.Build(options.Quick ? 24 : 48, options.Seed);
        var features = new List<double[]>();
        var measured = new List<double>();
        for (int i = 0; i < nets.Count; i++)
        {
            var b = nets[i];
            var f = predictor.CompositionFeatures(b.Graph, b.Weights);
            var stats = LatencyMeter.Measure(KernelSuite.ToBytes(b), b.Graph, new MeasureOptions { Threads = options.Threads, Warmup = 5, Runs = 15, MinSeconds = 0.3 });
            features.Add(f);
            measured.Add(stats.P50Ms);
            progress?.Report($"network {i + 1}/{nets.Count}: kernel sums {f[1]:F2} + {f[2]:F2} ms, measured {stats.P50Ms:F2} ms");
        }
        // Scales and the reorder cost are non-negative; the per-kernel correction is signed.
        var c = Nnls.FitRelative(features.ToArray(), measured.ToArray(), signed: [false, false, false, false, true]);
        return new Composition
        {
            OverheadMs = c[0],
            Scale = c[1] > 0 ? c[1] : 1,
            MisalignedScale = c[2] > 0 ? c[2] : 1,
            ReorderMsPerMElement = c[3],
            AlignedKernelMs = c[4],
            Samples = nets.Count,
            Provenance = $"fitted to {nets.Count} generated networks measured on {MachineDescription()}",
        };
    }

    public static string MachineDescription()
    {
        string cpu = RuntimeInformation.ProcessArchitecture.ToString();
        try
        {
            if (File.Exists("/proc/cpuinfo"))
                cpu = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? cpu;
        }
        catch (IOException) { }
        return $"{cpu}, {Environment.ProcessorCount} logical cores, {RuntimeInformation.OSDescription}";
    }

    public static string OnnxRuntimeVersion() =>
        typeof(Microsoft.ML.OnnxRuntime.InferenceSession).Assembly.GetName().Version?.ToString(3) ?? "unknown";
}

/// <summary>Random small CNNs (residual, inverted-residual, inception-like and shuffle blocks) used to calibrate composition.</summary>
public static class CompositionNetworks
{
    public static List<GraphBuilder> Build(int count, int seed)
    {
        var rng = new Random(seed * 7919);
        var nets = new List<GraphBuilder>();
        for (int i = 0; i < count; i++)
        {
            var b = new GraphBuilder(seed: rng.Next());
            long res = new long[] { 32, 56, 64, 96, 112, 128 }[rng.Next(6)];
            var x = b.Input("input", 1, 3, res, res);
            // Half of the networks use widths off the channel tiles, as width scaling produces.
            long width = i % 2 == 0 ? new long[] { 16, 24, 32, 48 }[rng.Next(4)] : new long[] { 18, 22, 27, 30, 37, 45 }[rng.Next(6)];
            var y = b.Relu(b.BatchNorm(b.Conv(x, width, stride: 2)));
            int blocks = rng.Next(3, 7);
            for (int k = 0; k < blocks; k++)
            {
                long c = b.Channels(y);
                switch (rng.Next(4))
                {
                    case 0: // basic residual block
                    {
                        var r = b.Relu(b.BatchNorm(b.Conv(y, c)));
                        y = b.Relu(b.Add(b.BatchNorm(b.Conv(r, c)), y));
                        break;
                    }
                    case 1: // inverted residual
                    {
                        long expand = c * (rng.Next(2) == 0 ? 4 : 6) + (rng.Next(2) == 0 ? 0 : rng.Next(1, 4));
                        var e = b.Relu(b.BatchNorm(b.Conv(y, expand, kernel: 1)));
                        e = b.Relu(b.BatchNorm(b.Conv(e, expand, kernel: 3, group: expand)));
                        y = b.Add(b.BatchNorm(b.Conv(e, c, kernel: 1)), y);
                        break;
                    }
                    case 2: // inception-like
                    {
                        var l = b.Relu(b.Conv(y, c / 2, kernel: 1));
                        var m = b.Relu(b.Conv(b.Relu(b.Conv(y, c / 2, kernel: 1)), c, kernel: 3));
                        var p = b.Relu(b.Conv(b.MaxPool(y, 3, 1), c / 2, kernel: 1));
                        y = b.Concat(l, m, p);
                        break;
                    }
                    default: // downsample
                        y = b.Relu(b.BatchNorm(b.Conv(y, Math.Min(256, c * 2), stride: 2)));
                        break;
                }
            }
            y = b.Flatten(b.GlobalAveragePool(y));
            b.Output(b.Gemm(y, 10), "output");
            nets.Add(b);
        }
        return nets;
    }
}

/// <summary>Non-negative least squares on relative error, by coordinate descent (a handful of variables).</summary>
public static class Nnls
{
    /// <summary>Minimizes sum(((x_i . c) - y_i) / y_i)^2 subject to c &gt;= 0 (except where <paramref name="signed"/> is true).</summary>
    public static double[] FitRelative(double[][] x, double[] y, bool[]? signed = null)
    {
        int n = x.Length, d = x[0].Length;
        var g = new double[d, d];
        var h = new double[d];
        for (int i = 0; i < n; i++)
        {
            double w = 1.0 / (y[i] * y[i]);
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

/// <summary>The calibrated profile of this machine, built on first use and cached per machine and Lamda version.</summary>
public static class HostProfiles
{
    public static string CachePath(int threads) =>
        Path.Combine(LamdaPaths.CacheDirectory, "profiles", $"host-{Fingerprint()}-t{threads}.json");

    static string Fingerprint()
    {
        var text = $"{ProfileBuilder.MachineDescription()}|{ProfileBuilder.OnnxRuntimeVersion()}|{LamdaPaths.Version}|{ProfileBuilder.Revision}";
        var hash = System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(text));
        return Convert.ToHexString(hash, 0, 6).ToLowerInvariant();
    }

    public static DeviceProfile GetOrCreate(IProgress<string>? progress, int threads = 1)
    {
        var path = CachePath(threads);
        if (File.Exists(path))
        {
            try { return DeviceProfile.Load(path); }
            catch (LamdaException) { progress?.Report($"cached host profile {path} is corrupt; rebuilding it"); }
        }
        progress?.Report("calibrating the host profile (quick kernel suite, about a minute; cached afterwards)");
        var profile = ProfileBuilder.Build(new ProfileBuilder.Options { Quick = true, Threads = threads }, progress);
        profile.Save(path);
        return profile;
    }
}

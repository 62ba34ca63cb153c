using System.Text.Json;
using System.Text.Json.Nodes;
using Lamda.Graphs;
using Lamda.Latency;
using Lamda.Onnx;

namespace Lamda.Cli.Commands;

/// <summary>Progress lines on stderr, so stdout stays machine-readable.</summary>
sealed class StderrProgress(TextWriter stderr) : IProgress<string>
{
    public void Report(string value) => stderr.WriteLine(value);
}

static class Json
{
    public static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };
    public static double R(double v, int digits = 4) => Math.Round(v, digits);
}

public sealed class MeasureCommand : Command
{
    public override string Name => "measure";
    public override string Summary => "measure a model's latency with ONNX Runtime on this machine";
    public override string Usage => """
        Usage: lamda measure MODEL.onnx [--threads N] [--runs N] [--warmup N] [--json]

        ONNX Runtime CPU, all graph optimizations, sequential execution, batch 1, seeded random inputs.
        Reports p50, p90, mean and the coefficient of variation (cv) of the timed runs after warm-up; runs
        continue past --runs until at least one second has been measured. Warns when cv > 0.1 (noisy machine).
          --threads N   intra-op threads (default 1, as for device 'host')
          --runs N      minimum timed runs (default 30)
          --warmup N    untimed runs first (default 10)
        """;
    public override string[] ValueOptions => ["--threads", "--runs", "--warmup"];
    public override string[] FlagOptions => ["--json"];

    public override int Run(Arguments args, TextWriter stdout, TextWriter stderr)
    {
        var path = args.Positional(0, "an ONNX model");
        args.NoMorePositionals(1);
        var options = new MeasureOptions { Threads = Math.Max(1, args.Int("--threads", 1)), Runs = Math.Max(1, args.Int("--runs", 30)), Warmup = args.Int("--warmup", 10) };
        var (graph, weights) = ModelSource.LoadOnnx(path);
        Lamda.Runtime.ResourceLimits.CheckGraph(graph, weights, path);
        var stats = LatencyMeter.Measure(File.ReadAllBytes(path), graph, options, path);
        if (stats.IsNoisy) stderr.WriteLine($"warning: the machine is noisy (cv {stats.Cv:F3} > {LatencyStats.NoisyCv}); latency figures are unreliable. Close other work or raise --runs.");
        if (args.Flag("--json"))
        {
            stdout.WriteLine(new JsonObject
            {
                ["model"] = path, ["p50Ms"] = Json.R(stats.P50Ms), ["p90Ms"] = Json.R(stats.P90Ms), ["meanMs"] = Json.R(stats.MeanMs),
                ["minMs"] = Json.R(stats.MinMs), ["cv"] = Json.R(stats.Cv), ["runs"] = stats.Runs, ["threads"] = stats.Threads, ["noisy"] = stats.IsNoisy,
            }.ToJsonString(Json.Indented));
        }
        else stdout.WriteLine($"{path}: p50 {stats.P50Ms:F3} ms, p90 {stats.P90Ms:F3} ms, mean {stats.MeanMs:F3} ms, cv {stats.Cv:F3} ({stats.Runs} runs, {stats.Threads} thread(s))");
        return 0;
    }
}

public sealed class DevicesCommand : Command
{
    public override string Name => "devices";
    public override string Summary => "list known devices and their profiles' provenance";
    public override string Usage => """
        Usage: lamda devices [--json]

        Lists the built-in devices. 'host' is this machine (measured; calibrated on first use and cached).
        The others are uncalibrated estimates from public specs: for real predictions, run
        'lamda device-profile -o FILE' on the device and pass FILE wherever a device is accepted.
        """;
    public override string[] FlagOptions => ["--json"];

    public override int Run(Arguments args, TextWriter stdout, TextWriter stderr)
    {
        args.NoMorePositionals(0);
        var hostCached = File.Exists(HostProfiles.CachePath(1));
        if (args.Flag("--json"))
        {
            var list = new JsonArray { new JsonObject { ["name"] = DeviceCatalog.Host, ["calibrated"] = true, ["description"] = "this machine, measured live", ["profileCached"] = hostCached } };
            foreach (var p in DeviceCatalog.BuiltIn)
                list.Add(new JsonObject { ["name"] = p.Name, ["calibrated"] = p.Calibrated, ["label"] = p.Label, ["description"] = p.Description, ["threads"] = p.Execution.Threads, ["source"] = p.Provenance.Reference });
            stdout.WriteLine(list.ToJsonString(Json.Indented));
            return 0;
        }
        stdout.WriteLine($"{DeviceCatalog.Host,-18} this machine, measured with ONNX Runtime (profile {(hostCached ? "cached" : "built on first use")})");
        foreach (var p in DeviceCatalog.BuiltIn)
            stdout.WriteLine($"{p.Name,-18} {p.Description}, {p.Execution.Threads} threads [{p.Label}]");
        return 0;
    }
}

public sealed class DeviceProfileCommand : Command
{
    public override string Name => "device-profile";
    public override string Summary => "calibrate a latency profile of this device (run it on the target)";
    public override string Usage => """
        Usage: lamda device-profile -o PROFILE.json [--quick] [--threads N] [--name NAME]

        Run on the target device itself (linux-x64, linux-arm64, ...). Measures the kernel suite with ONNX
        Runtime, fits one regression per kernel class, calibrates composition on generated networks and
        writes the profile. --quick takes about a minute on a 2-core machine; the full suite a few minutes.
        """;
    public override string[] ValueOptions => ["-o|--output", "--threads", "--name"];
    public override string[] FlagOptions => ["--quick"];

    public override int Run(Arguments args, TextWriter stdout, TextWriter stderr)
    {
        args.NoMorePositionals(0);
        var output = args.Required("--output");
        var options = new ProfileBuilder.Options { Quick = args.Flag("--quick"), Threads = Math.Max(1, args.Int("--threads", 1)), Name = args.Value("--name") ?? Path.GetFileNameWithoutExtension(output) };
        var sw = System.Diagnostics.Stopwatch.StartNew();
        var profile = ProfileBuilder.Build(options, new StderrProgress(stderr));
        profile.Save(output);
        stdout.WriteLine($"wrote {output}: {profile.Kernels.Values.Sum(k => k.Samples)} kernels in {profile.Kernels.Count} classes, composition x{profile.Composition.Scale:F3} + {profile.Composition.OverheadMs:F3} ms, {sw.Elapsed.TotalSeconds:F0} s");
        foreach (var (cls, m) in profile.Kernels.OrderBy(k => k.Key, StringComparer.Ordinal))
            stdout.WriteLine($"  {cls,-8} {m.Samples,4} samples, fit MAPE {m.FitMape:P1}");
        return 0;
    }
}

public sealed class PredictCommand : Command
{
    public override string Name => "predict";
    public override string Summary => "predict a model's latency on a device, with a per-kernel breakdown";
    public override string Usage => """
        Usage: lamda predict MODEL.onnx --device NAME|PROFILE.json [--json]

        Maps the (normalized) model to the kernels ONNX Runtime runs and sums their predicted latencies. For
        'host' the profile of this machine is calibrated on first use (about a minute) and cached.
        """;
    public override string[] ValueOptions => ["--device"];
    public override string[] FlagOptions => ["--json"];

    public override int Run(Arguments args, TextWriter stdout, TextWriter stderr)
    {
        var path = args.Positional(0, "an ONNX model");
        args.NoMorePositionals(1);
        var device = args.Required("--device");
        var profile = DeviceCatalog.Resolve(device, () => HostProfiles.GetOrCreate(new StderrProgress(stderr)));
        if (profile.UncalibratedWarning is { } uncalibrated) stderr.WriteLine($"warning: {uncalibrated}");
        var (raw, weights) = ModelSource.LoadOnnx(path);
        Lamda.Runtime.ResourceLimits.CheckGraph(raw, weights, path);
        var graph = Normalizer.Normalize(raw, weights).Graph;
        var prediction = new LatencyPredictor(profile).Predict(graph, weights);
        if (args.Flag("--json"))
        {
            stdout.WriteLine(new JsonObject
            {
                ["model"] = path, ["device"] = profile.Name, ["calibrated"] = profile.Calibrated, ["label"] = profile.Label,
                ["latencyMs"] = Json.R(prediction.LatencyMs),
                ["kernels"] = new JsonArray(prediction.Kernels.Select(k => (JsonNode)new JsonObject
                {
                    ["kernel"] = k.Kernel.Description, ["class"] = k.Kernel.Class, ["ms"] = Json.R(k.Ms, 5), ["mmacs"] = Json.R(k.Kernel.MMacs, 3),
                }).ToArray()),
            }.ToJsonString(Json.Indented));
            return 0;
        }
        stdout.WriteLine($"{path} on {profile.Name} [{profile.Label}]: {prediction.LatencyMs:F3} ms predicted");
        foreach (var k in prediction.Kernels.Where(k => k.Ms > 0).OrderByDescending(k => k.Ms).Take(15))
            stdout.WriteLine($"  {k.Ms,8:F3} ms  {k.Kernel.Class,-8} {k.Kernel.Description}");
        return 0;
    }
}

/// <summary>The predictor benchmark of issue 4: build a host profile, then predict and measure real models and width-scaled variants.</summary>
public sealed class BenchPredictorCommand : Command
{
    public override string Name => "bench-predictor";
    public override string Summary => "benchmark: predicted vs measured latency on the shared models and width variants";
    public override string Usage => """
        Usage: lamda bench-predictor [--profile PROFILE.json] [--full] [--widths 0.25,0.4,...] [--models DIR] [--align]

        Builds a host profile (quick suite unless --full; or uses --profile), then for every model in DIR
        (default: the shared models) and each width factor makes a width-scaled variant with Lamda's channel
        surgery, measures it (1 thread; the faster median of two passes over all variants) and predicts it.
        Prints each pair, the share within +-10% and MAPE.
          --align   round every width to the device's preferred channel multiple (as adaptation does, and as
                    width multipliers in MobileNet-style models do); without it widths are scaled exactly
        """;
    public override string[] ValueOptions => ["--profile", "--widths", "--models"];
    public override string[] FlagOptions => ["--full", "--align"];

    public override int Run(Arguments args, TextWriter stdout, TextWriter stderr)
    {
        args.NoMorePositionals(0);
        var progress = new StderrProgress(stderr);
        var sw = System.Diagnostics.Stopwatch.StartNew();
        var profile = args.Value("--profile") is { } p ? DeviceProfile.Load(p) : ProfileBuilder.Build(new ProfileBuilder.Options { Quick = !args.Flag("--full") }, progress);
        stdout.WriteLine($"profile: {profile.Description} ({profile.Kernels.Values.Sum(k => k.Samples)} kernels, {profile.Provenance.Notes}) built in {sw.Elapsed.TotalSeconds:F0} s");
        var widths = (args.Value("--widths") ?? "1.0,0.85,0.7,0.55,0.4,0.25").Split(',').Select(w => double.Parse(w, System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        var dir = args.Value("--models") ?? Path.Combine(SharedFolder.Find() ?? throw new LamdaException(ErrorCodes.FileNotFound, "no shared models folder found; pass --models DIR."), "models");
        var predictor = new LatencyPredictor(profile);
        int multiple = args.Flag("--align") ? profile.Channels.PreferredMultiple : 1;
        stdout.WriteLine($"widths rounded to multiples of {multiple}");
        var variants = new List<(string Name, double Width, Graph Graph, WeightStore Weights, byte[] Bytes)>();
        foreach (var path in Directory.GetFiles(dir, "*.onnx").OrderBy(f => f, StringComparer.Ordinal))
        {
            var (raw, rawWeights) = ModelSource.LoadOnnx(path);
            var graph = Normalizer.Normalize(raw, rawWeights).Graph;
            var analysis = ChannelAnalysis.Run(graph, rawWeights);
            foreach (var w in widths)
            {
                var (g, weights) = w >= 1 ? (graph, rawWeights) : ChannelPruner.Apply(analysis, ChannelSelection.ScaleWidth(analysis, w, multiple));
                variants.Add((Path.GetFileNameWithoutExtension(path), w, g, weights, ModelFile.ToBytes(OnnxExporter.Export(g, weights))));
            }
        }
        // Two passes over all variants, keeping each one's faster median: on a shared machine a burst of outside
        // work can slow a whole measurement down, and it rarely hits the same variant twice.
        var measured = Enumerable.Repeat(double.MaxValue, variants.Count).ToArray();
        for (int pass = 0; pass < 2; pass++)
            for (int i = 0; i < variants.Count; i++)
            {
                var v = variants[i];
                measured[i] = Math.Min(measured[i], LatencyMeter.Measure(v.Bytes, v.Graph, new MeasureOptions { Threads = profile.Execution.Threads, Runs = 20, MinSeconds = 0.5 }).P50Ms);
                progress.Report($"pass {pass + 1}/2: measured {v.Name} at width {v.Width:F2}");
            }
        var errors = new List<double>();
        var predictTimes = new List<double>();
        stdout.WriteLine($"{"model",-22} {"width",6} {"measured",9} {"predicted",9} {"error",8}");
        for (int i = 0; i < variants.Count; i++)
        {
            var v = variants[i];
            var t0 = System.Diagnostics.Stopwatch.GetTimestamp();
            var predicted = predictor.Predict(v.Graph, v.Weights).LatencyMs;
            predictTimes.Add(System.Diagnostics.Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
            double err = (predicted - measured[i]) / measured[i];
            errors.Add(err);
            stdout.WriteLine($"{v.Name,-22} {v.Width,6:F2} {measured[i],9:F3} {predicted,9:F3} {err,8:P1}");
        }
        predictTimes.Sort();
        stdout.WriteLine($"pairs: {errors.Count}; within +-10%: {errors.Count(e => Math.Abs(e) <= 0.10)}/{errors.Count} = {errors.Count(e => Math.Abs(e) <= 0.10) / (double)errors.Count:P1}; MAPE {errors.Average(Math.Abs):P2}; median predict time {predictTimes[predictTimes.Count / 2]:F2} ms; total {sw.Elapsed.TotalSeconds:F0} s");
        return 0;
    }
}

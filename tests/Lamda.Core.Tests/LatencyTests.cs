using Lamda.Graphs;
using Lamda.Latency;
using Lamda.Onnx;
using Lamda.Runtime;

namespace Lamda.Tests;

public class LatencyTests : IDisposable
{
    readonly string dir = Directory.CreateTempSubdirectory("lamda-latency-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    static DeviceProfile Nano => DeviceCatalog.Resolve("jetson-nano");

    /// <summary>ONNX Runtime's profiler timings are matched to every kernel of the network, and its file is removed.</summary>
    [Fact]
    public void KernelsAreTimedInContext()
    {
        var b = SampleModels.TinyNet();
        var kernels = KernelExtractor.Extract(b.Graph, b.Weights).Where(k => k.Class != KernelClass.Free).ToList();
        var before = Directory.GetFiles(Directory.GetCurrentDirectory(), "onnxruntime_profile*").Length;
        var profile = KernelProfiler.Profile(b.Graph, b.Weights, runs: 10);
        // Every convolution, pooling, Concat and Gemm kernel found its profiled node, whatever ORT renamed it to.
        Assert.Equal(kernels.Select(k => k.Nodes[0].Id), profile.Kernels.Where(k => k.Kernel.Class != KernelClass.Free).Select(k => k.Kernel.Nodes[0].Id));
        Assert.All(profile.Kernels, k => Assert.True(k.Ms > 0, k.Kernel.Description));
        // How the timings compare with a whole-model measurement is the benchmark's business (docs/benchmarks.md):
        // under the parallel load of the test run, timings are not comparable across two measurements.
        Assert.True(profile.OtherMs >= 0);
        Assert.Equal(before, Directory.GetFiles(Directory.GetCurrentDirectory(), "onnxruntime_profile*").Length); // nothing left behind
    }

    [Fact]
    public void ProfileFileRoundTripsExactly()
    {
        foreach (var profile in DeviceCatalog.BuiltIn)
        {
            var path = Path.Combine(dir, profile.Name + ".json");
            profile.Save(path);
            var loaded = DeviceProfile.Load(path);
            Assert.Equal(profile.ToJson(), loaded.ToJson());
            var b = SampleModels.TinyNet();
            Assert.Equal(new LatencyPredictor(profile).Predict(b.Graph, b.Weights).LatencyMs, new LatencyPredictor(loaded).Predict(b.Graph, b.Weights).LatencyMs);
            Assert.False(loaded.Calibrated);
            Assert.Equal("uncalibrated estimate", loaded.Label);
            Assert.False(string.IsNullOrWhiteSpace(loaded.Hardware!.Source));
        }
        // A profile path is accepted wherever a device name is.
        var file = Path.Combine(dir, "my-device.json");
        Nano.Save(file);
        Assert.Equal("jetson-nano", DeviceCatalog.Resolve(file).Name);
    }

    [Fact]
    public void UnknownDeviceListsKnownNames()
    {
        var e = Assert.Throws<LamdaException>(() => DeviceCatalog.Resolve("jetson-nanoo"));
        Assert.Equal(ErrorCodes.UnknownDevice, e.Code);
        foreach (var name in new[] { "host", "raspberry-pi-4", "jetson-nano", "jetson-xavier-nx", "intel-i7-laptop" })
            Assert.Contains(name, e.Message);
    }

    [Fact]
    public void CorruptTruncatedOrInvalidProfilesNameTheFile()
    {
        var json = Nano.ToJson();
        var cases = new Dictionary<string, string>
        {
            ["truncated.json"] = json[..(json.Length / 2)],
            ["garbage.json"] = "this is not json",
            ["empty.json"] = "",
            ["negative.json"] = json.Replace("\"coefficients\": [\n        0.03", "\"coefficients\": [\n        -0.03"),
            ["schema.json"] = json.Replace(DeviceProfile.CurrentSchema, "lamda-device-profile/99"),
            ["nokernels.json"] = "{\"schema\":\"lamda-device-profile/1\",\"name\":\"x\",\"kernels\":{}}",
        };
        Assert.NotEqual(json, cases["negative.json"]);
        foreach (var (name, content) in cases)
        {
            var path = Path.Combine(dir, name);
            File.WriteAllText(path, content);
            var e = Assert.Throws<LamdaException>(() => DeviceProfile.Load(path));
            Assert.Equal(ErrorCodes.BadProfile, e.Code);
            Assert.Contains(path, e.Message);
        }
        Assert.Equal(ErrorCodes.FileNotFound, Assert.Throws<LamdaException>(() => DeviceCatalog.Resolve(Path.Combine(dir, "missing.json"))).Code);
    }

    static GraphBuilder Chain(long width)
    {
        var b = new GraphBuilder(seed: 5);
        var x = b.Input("x", 1, 3, 64, 64);
        var y = b.Relu(b.BatchNorm(b.Conv(x, width, stride: 2)));
        for (int i = 0; i < 3; i++) y = b.Relu(b.BatchNorm(b.Conv(y, width)));
        y = b.Relu(b.Conv(y, width, kernel: 3, group: width));
        b.Output(b.Gemm(b.Flatten(b.GlobalAveragePool(y)), 10), "y");
        return b;
    }

    [Fact]
    public void PredictionIsMonotoneInChannelWidth()
    {
        foreach (var profile in DeviceCatalog.BuiltIn)
        {
            var predictor = new LatencyPredictor(profile);
            double previous = 0;
            for (long width = 16; width <= 256; width += 16)
            {
                var b = Chain(width);
                double ms = predictor.Predict(b.Graph, b.Weights).LatencyMs;
                Assert.True(ms >= previous, $"{profile.Name}: width {width} predicted {ms} ms < {previous} ms for the narrower chain");
                previous = ms;
            }
            Assert.True(previous > predictor.Predict(Chain(16).Graph, Chain(16).Weights).LatencyMs * 4);
        }
    }

    [Fact]
    public void KernelsFollowRuntimeFusions()
    {
        var b = SampleModels.TinyNet();
        var kernels = KernelExtractor.Extract(b.Graph, b.Weights);
        // Conv+BN+ReLU, Conv+BN+ReLU, Conv+BN+Add+ReLU (residual), MaxPool, two Conv+ReLU branches, Concat,
        // Conv+ReLU, GlobalAveragePool, Flatten (free), Gemm.
        Assert.Equal(["Conv+BatchNormalization+Relu", "Conv+BatchNormalization+Relu", "Conv+BatchNormalization+Add+Relu", "MaxPool",
            "Conv+Relu", "Conv+Relu", "Concat", "Conv+Relu", "GlobalAveragePool", "Flatten", "Gemm"],
            kernels.Select(k => string.Join("+", k.Nodes.Select(n => n.Op))));
        Assert.Equal(b.Graph.Nodes.Count, kernels.Sum(k => k.Nodes.Count));
        Assert.Equal(GraphStats.Of(b.Graph, b.Weights).Macs / 1e6, kernels.Sum(k => k.MMacs), 6);
        Assert.Equal(KernelClass.Free, kernels.Single(k => k.Nodes[0].Op == "Flatten").Class);
    }

    [Fact]
    public void ConvolutionWorkIsRoundedToTheDeviceTiles()
    {
        var g = new ChannelGranularity(OutputTile: 16, InputBlock: 8, DepthwiseBlock: 4);
        Kernel K(string cls, long cin, long cout) => new(cls, [], 10, 1, 1, 0.1, cin, cout);
        Assert.Equal(10, K(KernelClass.Conv, 64, 64).Features(g)[1], 6);
        Assert.Equal(10.0 * 64 / 56, K(KernelClass.Conv, 64, 56).Features(g)[1], 6);    // 56 outputs cost 64
        Assert.Equal(0, K(KernelClass.Conv, 63, 64).Features(g)[1]);                    // misaligned input: slow slot
        Assert.Equal(10.0 * 64 / 63, K(KernelClass.Conv, 63, 64).Features(g)[2], 6);
        Assert.Equal(KernelClass.Depthwise + Kernel.Misaligned, K(KernelClass.Depthwise, 130, 130).ModelKey(g));
        Assert.Equal(KernelClass.Depthwise, K(KernelClass.Depthwise, 132, 132).ModelKey(g));
    }

    [Fact]
    public void StatsArePercentilesOfTheSamples()
    {
        var s = LatencyStats.From([5, 1, 4, 2, 3], threads: 1);
        Assert.Equal((3, 4.6, 3, 1), (s.P50Ms, s.P90Ms, s.MeanMs, s.MinMs));
        Assert.Equal(Math.Sqrt(2.5) / 3, s.Cv, 10);
        Assert.True(s.IsNoisy);
        Assert.False(LatencyStats.From([10, 10.1, 9.9, 10], 1).IsNoisy);
    }

    [Fact]
    public void MeasuredLatencyReflectsWork()
    {
        // Real measurement: a chain 16x wider does far more work and must measure slower.
        var small = Chain(16);
        var large = Chain(256);
        var options = new MeasureOptions { Runs = 15, Warmup = 3, MinSeconds = 0.05 };
        var ts = LatencyMeter.Measure(KernelSuite.ToBytes(small), small.Graph, options);
        var tl = LatencyMeter.Measure(KernelSuite.ToBytes(large), large.Graph, options);
        Assert.True(tl.P50Ms > 3 * ts.P50Ms, $"wide {tl.P50Ms} ms vs narrow {ts.P50Ms} ms");
        Assert.InRange(ts.Runs, 15, 1000);
        Assert.True(ts.P90Ms >= ts.P50Ms && ts.P50Ms >= ts.MinMs);
    }

    /// <summary>Calibrates a quick host profile (about 20 s) and checks it against real measurements.</summary>
    [Fact]
    public void QuickHostProfilePredictsMeasuredModels()
    {
        var profile = ProfileBuilder.Build(new ProfileBuilder.Options { Quick = true });
        Assert.True(profile.Calibrated);
        Assert.Equal("measured", profile.Provenance.Method);
        Assert.Equal(LamdaPaths.Version, profile.Provenance.LamdaVersion);
        Assert.All(KernelClass.All.Where(c => c != KernelClass.ConvTranspose), c => Assert.Contains(profile.Kernels.Keys, k => k.StartsWith(c, StringComparison.Ordinal)));
        var path = Path.Combine(dir, "host.json");
        profile.Save(path);
        Assert.Equal(profile.ToJson(), DeviceProfile.Load(path).ToJson());

        var predictor = new LatencyPredictor(profile);
        foreach (var width in new long[] { 32, 128 })
        {
            var b = Chain(width);
            double measured = LatencyMeter.Measure(KernelSuite.ToBytes(b), b.Graph, new MeasureOptions { Runs = 20 }).P50Ms;
            double predicted = predictor.Predict(b.Graph, b.Weights).LatencyMs;
            Assert.InRange(predicted / measured, 0.6, 1.6);
        }
    }
}

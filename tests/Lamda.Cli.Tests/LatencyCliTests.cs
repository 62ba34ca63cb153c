using System.Globalization;
using System.Text.Json;
using Lamda.Latency;
using Lamda.Onnx;
using Lamda.Tests;

namespace Lamda.Cli.Tests;

/// <summary>
/// The CLI tests never write into the user's cache (~/.cache/lamda): 'lamda adapt --device host' and
/// 'lamda dataset --device host' calibrate and cache a host profile, and the measurement lock lives there too.
/// </summary>
static class TestCache
{
    public static readonly string Folder = Path.Combine(Path.GetTempPath(), $"lamda-test-cache-{Environment.UserName}");

    [System.Runtime.CompilerServices.ModuleInitializer]
    internal static void Isolate() => Environment.SetEnvironmentVariable("LAMDA_CACHE_DIR", Folder);
}

public class LatencyCliTests : CliTestBase
{
    [Fact]
    public void MeasureJsonHasTheProtocolFigures()
    {
        var r = Lamda("measure", TinyNet, "--runs", "12", "--warmup", "2", "--json");
        Assert.True(r.Code == 0, r.Err);
        using var json = JsonDocument.Parse(r.Out);
        var root = json.RootElement;
        double p50 = root.GetProperty("p50Ms").GetDouble(), p90 = root.GetProperty("p90Ms").GetDouble();
        Assert.True(p50 > 0 && p90 >= p50);
        Assert.True(root.GetProperty("cv").GetDouble() >= 0);
        Assert.Equal(1, root.GetProperty("threads").GetInt32());
        Assert.True(root.GetProperty("runs").GetInt32() >= 12);
        // The headline figure is the interleaved one: ratio x the reference network's figure.
        double ratio = root.GetProperty("ratio").GetDouble(), reference = root.GetProperty("referenceMs").GetDouble();
        Assert.Equal("reference network", root.GetProperty("reference").GetString());
        // Each figure is rounded in the JSON (4 decimals, the ratio 5), so compare within what rounding can move, not at a
        // fixed decimal place, which fails whenever the product sits on a rounding boundary.
        double latency = root.GetProperty("latencyMs").GetDouble(), slack = 1e-4 + 1e-4 * ratio + 1e-5 * reference;
        Assert.InRange(latency, ratio * reference - slack, ratio * reference + slack);
        Assert.True(root.GetProperty("rounds").GetInt32() >= 3);
        Assert.True(root.GetProperty("noise").GetDouble() >= 0);
        // Two sessions by default, the lowest ratio kept, and how far apart they were.
        Assert.Equal(2, root.GetProperty("sessions").GetInt32());
        Assert.True(root.GetProperty("sessionSpread").GetDouble() >= 0);
    }

    [Fact]
    public void MeasureInOneSessionHasNoSpread()
    {
        var r = Lamda("measure", TinyNet, "--runs", "5", "--warmup", "2", "--sessions", "1", "--json");
        Assert.True(r.Code == 0, r.Err);
        using var json = JsonDocument.Parse(r.Out);
        Assert.Equal(1, json.RootElement.GetProperty("sessions").GetInt32());
        Assert.Equal(0, json.RootElement.GetProperty("sessionSpread").GetDouble());
    }

    /// <summary>A model measured against itself: the interleaved ratio is one up to the noise of the rounds.</summary>
    [Fact]
    public void MeasureAgainstItselfGivesARatioOfOne()
    {
        var r = Lamda("measure", TinyNet, "--against", TinyNet, "--runs", "5", "--warmup", "2", "--json");
        Assert.True(r.Code == 0, r.Err);
        using var json = JsonDocument.Parse(r.Out);
        Assert.Equal(TinyNet, json.RootElement.GetProperty("reference").GetString());
        Assert.InRange(json.RootElement.GetProperty("ratio").GetDouble(), 0.8, 1.25);
    }

    [Fact]
    public void DevicesListsHostAndBuiltInsWithLabels()
    {
        var r = Lamda("devices");
        Assert.Equal(0, r.Code);
        foreach (var name in new[] { "host", "raspberry-pi-4", "jetson-nano", "jetson-xavier-nx", "intel-i7-laptop" }) Assert.Contains(name, r.Out);
        Assert.Contains("uncalibrated estimate", r.Out);
    }

    [Fact]
    public void PredictProfileNodesSetsEveryMatchedKernelAgainstOrtsProfile()
    {
        // Structure only (no timing constant): a class table whose kernel counts add up, then the largest errors.
        var r = Lamda("predict", TinyNet, "--device", "jetson-nano", "--profile-nodes", "--width", "0.5");
        Assert.True(r.Code == 0, r.Err);
        Assert.Contains("profiler cost taken off", r.Out);
        var lines = r.Out.Split('\n').Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries)).ToList();
        var rows = lines.Where(c => c.Length == 7 && c[5] == "vs").ToList();
        var sum = lines.Single(c => c.Length == 4 && c[0] == "sum");
        Assert.NotEmpty(rows);
        Assert.Equal(int.Parse(sum[1]), rows.Sum(c => int.Parse(c[1])));
        // Then the kernels furthest from their profiled time, above or below, the largest gap first.
        var gaps = lines.Where(c => c.Length >= 7 && c[1] == "us" && c[2] == "vs")
            .Select(c => Math.Abs(double.Parse(c[0], CultureInfo.InvariantCulture) - double.Parse(c[3], CultureInfo.InvariantCulture)))
            .ToList();
        Assert.NotEmpty(gaps);
        // Printed to 0.1 us, so two rows whose gaps differ by less than that may show them swapped.
        for (int i = 1; i < gaps.Count; i++) Assert.True(gaps[i] <= gaps[i - 1] + 0.11, $"row {i}: {gaps[i]} after {gaps[i - 1]}");
    }

    /// <summary>
    /// bench-predictor judges a profile on the profile's own yardstick: every variant's latency is its measured ratio to the
    /// reference network times the figure the profile's timings are on (here a made-up 2 ms, far from this machine's), and
    /// the same pairs on the run's own figure for the reference follow. A profile without a yardstick is judged on the run's.
    /// </summary>
    [Theory]
    [InlineData(2.0)]
    [InlineData(0.0)]
    public void BenchPredictorMeasuresOnTheProfilesYardstick(double yardstickMs)
    {
        var models = Directory.CreateDirectory(Path.Combine(dir, "models")).FullName;
        File.Copy(TinyNet, Path.Combine(models, "tinynet.onnx"));
        var profilePath = Path.Combine(dir, "profile.json");
        var nano = DeviceCatalog.Resolve("jetson-nano");
        (nano with { Check = new CalibrationCheck { ReferenceMs = 1.5, YardstickMs = yardstickMs } }).Save(profilePath);

        var r = Lamda("bench-predictor", "--profile", profilePath, "--models", models, "--widths", "1.0", "--passes", "1");
        Assert.True(r.Code == 0, r.Err);
        // stderr: "pass 1/1: measured tinynet at width 1.00: X ms = RATIO x REF ms reference (...)"
        var pass = System.Text.RegularExpressions.Regex.Match(r.Err, @"pass 1/1: measured tinynet at width 1\.00: \S+ ms = (\S+) x");
        Assert.True(pass.Success, r.Err);
        double ratio = double.Parse(pass.Groups[1].Value, CultureInfo.InvariantCulture);
        var typical = System.Text.RegularExpressions.Regex.Match(r.Out, @"reference network (\S+) ms \(median over the comparisons\)");
        Assert.True(typical.Success, r.Out);
        double referenceMs = yardstickMs > 0 ? yardstickMs : double.Parse(typical.Groups[1].Value, CultureInfo.InvariantCulture);
        var row = r.Out.Split('\n').Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Single(c => c.Length >= 6 && c[0] == "tinynet");
        // Printed to 3 decimals, from a ratio printed to 4 and (without the profile's) a reference printed to 3.
        double slack = 0.0006 + 5e-5 * referenceMs + 6e-4 * ratio;
        Assert.InRange(double.Parse(row[2], CultureInfo.InvariantCulture), ratio * referenceMs - slack, ratio * referenceMs + slack);
        Assert.Equal(yardstickMs > 0, r.Out.Contains("(the profile's yardstick)"));
        Assert.Equal(yardstickMs > 0, r.Out.Contains("on this run's own figure for the reference"));
    }

    [Fact]
    public void PredictOnSpecDeviceWarnsAndBreaksDown()
    {
        var r = Lamda("predict", TinyNet, "--device", "jetson-nano", "--json");
        Assert.True(r.Code == 0, r.Err);
        Assert.Contains("uncalibrated", r.Err);
        using var json = JsonDocument.Parse(r.Out);
        var root = json.RootElement;
        var total = root.GetProperty("latencyMs").GetDouble();
        Assert.True(total > 0);
        Assert.False(root.GetProperty("calibrated").GetBoolean());
        var kernels = root.GetProperty("kernels").EnumerateArray().ToList();
        Assert.Contains(kernels, k => k.GetProperty("kernel").GetString()!.StartsWith("Conv+BatchNormalization+Add+Relu"));
        // The breakdown accounts for the whole prediction (composition adds a fixed overhead).
        Assert.True(kernels.Sum(k => k.GetProperty("ms").GetDouble()) <= total);
    }

    [Fact]
    public void PredictRefusesDynamicInputDimsWithoutAShape()
    {
        // tinynet with its height and width made dynamic: at size 1 the prediction would be a tiny number meaning nothing.
        var model = ModelFile.Load(TinyNet);
        var dims = model.Graph.Input[0].Type.TensorType.Shape.Dim;
        var (height, width) = (dims[2].DimValue, dims[3].DimValue);
        dims[2] = new global::Onnx.TensorShapeProto.Types.Dimension { DimParam = "h" };
        dims[3] = new global::Onnx.TensorShapeProto.Types.Dimension { DimParam = "w" };
        var path = Path.Combine(dir, "dynamic.onnx");
        File.WriteAllBytes(path, ModelFile.ToBytes(model));
        string input = model.Graph.Input[0].Name;

        var refused = Lamda("predict", path, "--device", "jetson-nano");
        Assert.Equal(1, refused.Code);
        Assert.Contains("error LAMDA018", refused.Err);
        Assert.Contains($"input '{input}'", refused.Err);
        Assert.Contains("--input-shape", refused.Err);
        Assert.Equal("", refused.Out);

        var pinned = Lamda("predict", path, "--device", "jetson-nano", "--json", "--input-shape", $"1,{dims[1].DimValue},{height},{width}");
        Assert.True(pinned.Code == 0, pinned.Err);
        Assert.Equal(PredictMs(TinyNet, "jetson-nano"), JsonDocument.Parse(pinned.Out).RootElement.GetProperty("latencyMs").GetDouble());
    }

    [Fact]
    public void BadDevicesAreUserErrors()
    {
        var unknown = Lamda("predict", TinyNet, "--device", "pi5");
        Assert.Equal(1, unknown.Code);
        Assert.Contains("LAMDA009", unknown.Err);
        Assert.Contains("jetson-nano", unknown.Err);
        var corrupt = Path.Combine(dir, "broken.json");
        File.WriteAllText(corrupt, "{\"schema\": \"lamda-device-profile/1\", \"name\": ");
        var bad = Lamda("predict", TinyNet, "--device", corrupt);
        Assert.Equal(1, bad.Code);
        Assert.Contains("LAMDA010", bad.Err);
        Assert.Contains(corrupt, bad.Err);
        Assert.DoesNotContain("   at ", bad.Err);
    }
}

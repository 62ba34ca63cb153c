using System.Text.Json;
using Lamda.Tests;

namespace Lamda.Cli.Tests;

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

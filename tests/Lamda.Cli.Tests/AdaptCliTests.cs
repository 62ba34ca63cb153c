using System.Text.Json;
using Lamda.Tests;

namespace Lamda.Cli.Tests;

public class AdaptCliTests : CliTestBase
{
    [Fact]
    public void AdaptWritesModelAndReportOnAPredictedDevice()
    {
        double baseMs = PredictMs(TinyNet, "raspberry-pi-4");
        var output = Path.Combine(dir, "out.onnx");
        var report = Path.Combine(dir, "report.json");
        var target = (baseMs * 0.6).ToString("F4", System.Globalization.CultureInfo.InvariantCulture) + "ms";
        var r = Lamda("adapt", TinyNet, "--latency", target, "--device", "raspberry-pi-4", "-o", output, "--report", report);
        Assert.True(r.Code == 0, r.Err);
        Assert.Contains("raspberry-pi-4: base", r.Out);
        Assert.Contains("predicted", r.Out);
        Assert.Contains("iteration 1 (search)", r.Err);
        using var json = JsonDocument.Parse(File.ReadAllText(report));
        var root = json.RootElement;
        var iterations = root.GetProperty("iterations").EnumerateArray().ToList();
        Assert.NotEmpty(iterations);
        foreach (var key in new[] { "architectureHash", "textDiffLines", "predictedMs", "diagnostics" })
            Assert.True(iterations[0].TryGetProperty(key, out _), key);
        Assert.True(root.GetProperty("wallSeconds").GetDouble() > 0);
        double final = root.GetProperty("final").GetProperty("predictedMs").GetDouble();
        Assert.InRange(final, 0.85 * baseMs * 0.6, baseMs * 0.6);
        Assert.Equal(0, Lamda("inspect", output).Code);
    }

    [Fact]
    public void BadArgumentsAreUserErrorsAndWriteNothing()
    {
        var output = Path.Combine(dir, "never.onnx");
        foreach (var (args, code) in new (string[], string)[]
                 {
                     (["adapt", TinyNet, "--latency", "5", "--device", "jetson-nano", "-o", output], "LAMDA011"),
                     (["adapt", TinyNet, "--latency", "5ms", "--device", "jetson-nanoo", "-o", output], "LAMDA009"),
                     (["adapt", TinyNet, "--latency", "0.0001ms", "--device", "jetson-nano", "-o", output], "LAMDA012"),
                     (["adapt", TinyNet, "--latency", "5ms", "--device", "jetson-nano", "-o", output, "--generator", "llm"], "LAMDA006"),
                     (["adapt", TinyNet, "--latency", "5ms", "--device", "jetson-nano", "-o", output, "--max-accuracy-drop", "2%"], "LAMDA006"),
                     (["adapt", TinyNet, "--latency", "5ms", "--device", "jetson-nano", "-o", TinyNet], "LAMDA006"),
                 })
        {
            var r = Lamda(args);
            Assert.Equal(1, r.Code);
            Assert.Contains(code, r.Err);
            Assert.DoesNotContain("   at ", r.Err);
            Assert.False(File.Exists(output));
        }
    }
}

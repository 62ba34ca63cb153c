using Lamda.Graphs;
using Lamda.Onnx;
using Lamda.Runtime;
using Lamda.Tests;
using Onnx;

namespace Lamda.Cli.Tests;

/// <summary>
/// Trained PP-OCR models as paddle2onnx exports them (../shared/real): weights in Constant nodes, dynamic input dims.
/// </summary>
public class RealModelTests : CliTestBase
{
    static string Real(string name) => Path.Combine(Shared.Folder!, "real", name + ".onnx");

    /// <summary>A size each model accepts: the detector takes multiples of 32, the classifier height 48.</summary>
    static long[] Shape(string name) => name == "ppocr_det" ? [1, 3, 64, 96] : [1, 3, 48, 192];

    static Dictionary<string, TensorData> Input(long[] shape, int seed)
    {
        var rng = new Random(seed);
        var values = new float[shape.Aggregate(1L, (a, d) => a * d)];
        for (int i = 0; i < values.Length; i++) values[i] = rng.NextSingle() * 2 - 1;
        return new() { ["x"] = new TensorData(DataTypes.Float, shape, values) };
    }

    static Dictionary<string, TensorData> Run(string model, long[] shape)
    {
        using var runner = new ModelRunner(File.ReadAllBytes(model));
        return runner.Run(Input(shape, seed: 3));
    }

    [SharedTheory]
    [InlineData("ppocr_det")]
    [InlineData("ppocr_cls")]
    public void RawRoundTripIsTextExactAndBitIdentical(string name)
    {
        string text = Path.Combine(dir, "a.lamda"), rebuilt = Path.Combine(dir, "b.onnx"), again = Path.Combine(dir, "b.lamda");
        Assert.Equal(0, Lamda("serialize", Real(name), "-o", text).Code);
        var r = Lamda("deserialize", text, "--weights", Real(name), "-o", rebuilt);
        Assert.True(r.Code == 0, r.Err);
        Assert.Equal(0, Lamda("serialize", rebuilt, "-o", again).Code);
        Assert.Equal(File.ReadAllText(text), File.ReadAllText(again));
        // Weight names survive: the text refers to the exporter's names, not to generated ones.
        Assert.Contains("value=@batch_norm_", File.ReadAllText(again));

        var expected = Run(Real(name), Shape(name));
        var actual = Run(rebuilt, Shape(name));
        Assert.Equal(expected.Keys, actual.Keys);
        foreach (var (key, value) in expected)
        {
            Assert.Equal(value.Shape, actual[key].Shape);
            Assert.Equal((float[])value.Values, (float[])actual[key].Values); // bit for bit
        }
    }

    /// <summary>Float tensors of the model's Constant nodes above the inline limit, counted from the protobuf alone.</summary>
    static long ConstantWeights(string path) => ModelFile.Load(path).Graph.Node
        .Where(n => n.OpType == "Constant")
        .SelectMany(n => n.Attribute.Where(a => a.T != null && a.T.DataType == (int)TensorProto.Types.DataType.Float))
        .Select(a => a.T.Dims.Aggregate(1L, (x, d) => x * d))
        .Where(count => count > ConstantPolicy.MaxInlineReals)
        .Sum();

    static System.Text.Json.JsonElement Inspect(params string[] args)
    {
        var r = Lamda(["inspect", .. args, "--json"]);
        Assert.True(r.Code == 0, r.Err);
        return System.Text.Json.JsonDocument.Parse(r.Out).RootElement;
    }

    [SharedTheory]
    [InlineData("ppocr_det")]
    [InlineData("ppocr_cls")]
    public void InspectCountsConstantNodeWeightsAsParametersAndMacs(string name)
    {
        var full = Inspect(Real(name), "--input-shape", "1,3,64,192");
        Assert.Equal(ConstantWeights(Real(name)), full.GetProperty("parameters").GetInt64());
        // Convolutions read their filters from Constant nodes; their MACs grow with the area of the input.
        long macs = full.GetProperty("macs").GetInt64();
        Assert.True(macs > 0);
        var half = Inspect(Real(name), "--input-shape", "1,3,64,96").GetProperty("macs").GetInt64();
        Assert.InRange((double)macs / half, 1.8, 2.05);
    }

    [SharedFact]
    public void DynamicInputsNeedAShapeAndTheAdaptedModelKeepsThemDynamic()
    {
        var output = Path.Combine(dir, "det.onnx");
        var refused = Lamda("adapt", Real("ppocr_det"), "--latency", "50%", "--device", "raspberry-pi-4", "-o", output);
        Assert.Equal(1, refused.Code);
        Assert.Contains("error LAMDA018", refused.Err);
        Assert.Contains("--input-shape", refused.Err);
        Assert.False(File.Exists(output));

        var r = Lamda("adapt", Real("ppocr_det"), "--latency", "50%", "--device", "raspberry-pi-4",
            "--input-shape", "1,3,640,640", "-o", output);
        Assert.True(r.Code == 0, r.Err);
        Assert.Contains("target 50% of base", r.Out);

        // The interface is the base's: same names and the same symbolic dims.
        var (baseGraph, _) = OnnxImporter.Import(ModelFile.Load(Real("ppocr_det")));
        var adapted = ModelFile.Load(output);
        var (graph, _) = OnnxImporter.Import(adapted);
        Assert.Equal(baseGraph.Inputs.Select(i => i.Type.ToString()), graph.Inputs.Select(i => i.Type.ToString()));
        Assert.Equal(baseGraph.Outputs.Select(o => o.Type.ToString()), graph.Outputs.Select(o => o.Type.ToString()));
        var result = Run(output, [1, 3, 320, 480]).Single().Value;
        Assert.Equal(new long[] { 1, 1, 320, 480 }, result.Shape);

        // The budget was resolved from the base at 640x640, and the model says so.
        var provenance = ModelProvenance.Read(adapted)!;
        Assert.Equal("50%", provenance.Budget);
        Assert.Equal("1,3,640,640", provenance.InputShape);
        Assert.Equal(provenance.BaseMs * 0.5, provenance.BudgetMs, 9);
        Assert.True(provenance.AchievedMs <= provenance.BudgetMs);
        Assert.Equal("predicted", provenance.AchievedKind);
        // predict refuses the dynamic dims without a size (it used to predict them at 1); at 64x64 the model is far faster.
        Assert.Contains("error LAMDA018", Lamda("predict", Real("ppocr_det"), "--device", "raspberry-pi-4").Err);
        var small = Lamda("predict", Real("ppocr_det"), "--device", "raspberry-pi-4", "--input-shape", "1,3,64,64", "--json");
        Assert.True(small.Code == 0, small.Err);
        var atSmallSize = System.Text.Json.JsonDocument.Parse(small.Out).RootElement.GetProperty("latencyMs").GetDouble();
        Assert.True(provenance.BaseMs > 10 * atSmallSize, $"base {provenance.BaseMs} ms at 640x640, {atSmallSize} ms at 64x64");
    }

    /// <summary>
    /// Normalized at batch 1, the classifier's head reshapes to [1, C]; adapted, it must still run at the base's free batch.
    /// </summary>
    [SharedFact]
    public void AnAdaptedModelRunsAtTheBatchItsBaseLeavesFree()
    {
        var output = Path.Combine(dir, "cls.onnx");
        var r = Lamda("adapt", Real("ppocr_cls"), "--latency", "60%", "--device", "raspberry-pi-4",
            "--input-shape", "1,3,48,192", "-o", output);
        Assert.True(r.Code == 0, r.Err);
        var result = Run(output, [3, 3, 48, 160]).Single().Value;
        Assert.Equal(new long[] { 3, 2 }, result.Shape);
    }

    [Fact]
    public void BadShapesAndRelativeBudgetsAreCodedErrors()
    {
        var output = Path.Combine(dir, "out.onnx");
        foreach (var (args, code, says) in new (string[], string, string)[]
                 {
                     (["--latency", "150%"], "LAMDA011", "150%"),
                     (["--latency", "0%"], "LAMDA011", "0%"),
                     (["--latency", "50%", "--input-shape", "1,3,32"], "LAMDA006", "rank 4"),
                     (["--latency", "50%", "--input-shape", "1,4,32,32"], "LAMDA006", "size 3 in dim 1"),
                     (["--latency", "50%", "--input-shape", "y=1,3,32,32"], "LAMDA006", "'y', which is not an input"),
                     (["--latency", "50%", "--input-shape", "1,3,a,32"], "LAMDA006", "--input-shape"),
                 })
        {
            var r = Lamda(["adapt", TinyNet, "--device", "jetson-nano", "-o", output, .. args]);
            Assert.Equal(1, r.Code);
            Assert.Contains("error " + code, r.Err);
            Assert.Contains(says, r.Err);
        }
        Assert.False(File.Exists(output));
    }

    [Fact]
    public void RelativeBudgetIsResolvedFromTheBaseAndRecordedWithMessages()
    {
        string output = Path.Combine(dir, "tiny.onnx"), messages = Path.Combine(dir, "m.jsonl");
        var r = Lamda("adapt", TinyNet, "--latency", "60%", "--device", "jetson-nano", "-o", output, "--messages", messages);
        Assert.True(r.Code == 0, r.Err);
        var p = ModelProvenance.Read(ModelFile.Load(output))!;
        Assert.Equal(PredictMs(TinyNet, "jetson-nano"), p.BaseMs, 3);
        Assert.Equal(0.6 * p.BaseMs, p.BudgetMs, 9);
        Assert.InRange(p.AchievedMs, 0.9 * p.BudgetMs, p.BudgetMs);
        Assert.Equal(PredictMs(output, "jetson-nano"), p.AchievedMs, 2);
        Assert.Equal(ModelProvenance.Sha256(File.ReadAllBytes(TinyNet)), p.BaseModelHash);
        Assert.Equal("jetson-nano", p.Device);
        // jetson-nano is an uncalibrated estimate: the warning arrives with its code, once.
        var warning = Assert.Single(Adaptation.ToolMessage.ReadAll(messages));
        Assert.Equal(("warning", "LAMDA050"), (warning.Kind, warning.Code));

        var failed = Lamda("adapt", TinyNet, "--latency", "0.0001ms", "--device", "jetson-nano", "-o", output, "--messages", messages);
        Assert.Equal(1, failed.Code);
        Assert.Contains(Adaptation.ToolMessage.ReadAll(messages), m => m is { Kind: "error", Code: "LAMDA012" });
    }
}

using Lamda.Graphs;
using Lamda.Latency;
using Lamda.Onnx;
using Lamda.Runtime;

namespace Lamda.Tests;

/// <summary>
/// The held-out architectures of the predictor benchmark have the structure of the torchvision models they stand
/// for: their multiply-accumulate counts match the published figures, and each has the layers its family is
/// named for. Structure only: no timing.
/// </summary>
public class HeldOutArchitectureTests
{
    // Each architecture is built once for all the tests here (the largest has 25 million weights).
    static readonly System.Collections.Concurrent.ConcurrentDictionary<string, Lazy<GraphBuilder>> Built = new();

    static GraphBuilder Arch(string name) => Built.GetOrAdd(name, n => new Lazy<GraphBuilder>(() => HeldOutArchitectures.Build(n))).Value;

    static List<Kernel> KernelsOf(GraphBuilder b) =>
        KernelExtractor.Extract(b.Graph, b.Weights).Where(k => k.Class != KernelClass.Free).ToList();

    /// <summary>Published torchvision MAC counts (GFLOPS in the model docs are multiply-accumulates), within 10%.</summary>
    [Theory]
    [InlineData("mobilenet_v3_small", 56)]
    [InlineData("mnasnet1_0", 312)]
    [InlineData("regnet_x_400mf", 414)]
    [InlineData("efficientnet_b0", 386)]
    public void MacCountsMatchTorchvision(string name, double publishedMMacs)
    {
        double macs = KernelsOf(Arch(name)).Sum(k => k.MMacs);
        Assert.InRange(macs, 0.9 * publishedMMacs, 1.1 * publishedMMacs);
    }

    /// <summary>Each family carries the layers it is held out for.</summary>
    [Fact]
    public void FamiliesHaveTheirDefiningLayers()
    {
        var ops = HeldOutArchitectures.Names.ToDictionary(n => n, n => Arch(n).Graph.Nodes);
        Assert.Contains(ops["mobilenet_v3_small"], n => n.Op == "HardSwish");
        Assert.Contains(ops["mobilenet_v3_small"], n => n.Op == "HardSigmoid"); // the squeeze-excite gate
        Assert.Equal(9, ops["mobilenet_v3_small"].Count(n => n.Op == "GlobalAveragePool") - 1); // nine SE blocks and the head
        // RegNet-X: every 3x3 of a bottleneck has groups of 16 channels.
        var grouped = ops["regnet_x_400mf"].Where(n => n.Op == "Conv" && n.GetInt("group", 1) > 1).ToList();
        Assert.Equal(22, grouped.Count);
        Assert.Contains(ops["resnext_style"], n => n.Op == "Conv" && n.GetInt("group", 1) == 32);
        Assert.Equal(2, ops["lraspp_mobilenet_v3_large"].Count(n => n.Op == "Resize"));
        Assert.Contains(ops["efficientnet_b0"], n => n.Op == "Sigmoid");
        Assert.DoesNotContain(ops["efficientnet_b0"], n => n.Op is "HardSwish" or "Relu");
        Assert.Throws<LamdaException>(() => HeldOutArchitectures.Build("vgg"));
    }

    /// <summary>The small ones load in ONNX Runtime and give a class vector and a full-size segmentation map.</summary>
    [Fact]
    public void RunInOnnxRuntime()
    {
        foreach (var (name, shape) in new[] { ("mobilenet_v3_small", "1,1000"), ("lraspp_mobilenet_v3_large", "1,21,256,256") })
        {
            var b = Arch(name);
            using var runner = new ModelRunner(ModelFile.ToBytes(OnnxExporter.Export(b.Graph, b.Weights)));
            var output = runner.Run(TensorData.RandomInputs(b.Graph)).Values.Single();
            Assert.Equal(shape, string.Join(",", output.Shape));
        }
    }

    /// <summary>torchvision's channel rounding: to multiples of 8, never more than 10% down.</summary>
    [Fact]
    public void DivisibleRoundsAsTorchvision()
    {
        Assert.Equal(24, HeldOutArchitectures.Divisible(96 / 4));
        Assert.Equal(64, HeldOutArchitectures.Divisible(240 / 4));
        Assert.Equal(144, HeldOutArchitectures.Divisible(576 / 4));
        Assert.Equal(16, HeldOutArchitectures.Divisible(13));
    }
}

using Lamda.Graphs;
using Lamda.Latency;
using Lamda.Onnx;
using Lamda.Operators;
using Lamda.Runtime;
using Lamda.Text;

namespace Lamda.Tests;

/// <summary>
/// DepthToSpace and SpaceToDepth, added through their rule alone (Operators/DepthToSpace.cs): text round trip,
/// pruning through them against a reference computed from the ONNX definition, and latency prediction.
/// Nothing here touches the cache: the built-in jetson-nano profile needs no calibration.
/// </summary>
public class OperatorRegistryTests
{
    public static IEnumerable<object[]> Rearrangements() =>
        [["DepthToSpace", "DCR"], ["DepthToSpace", "CRD"], ["SpaceToDepth", ""]];

    const int Block = 2;

    /// <summary>Conv(3 -> 16) -> op -> Conv(-> 3): the op sits between two layers whose widths can change.</summary>
    static GraphBuilder Model(string op, string mode)
    {
        var b = new GraphBuilder(seed: 5);
        var x = b.Input("x", 1, 3, 8, 8);
        var conv = b.Conv(x, op == "DepthToSpace" ? 16 : 4);
        List<(string, AttributeValue)> attributes = [("blocksize", AttributeValue.FromInt(Block))];
        if (mode.Length > 0) attributes.Add(("mode", AttributeValue.FromString(mode)));
        var moved = b.Op(op, [conv], [.. attributes]);
        b.Output(b.Conv(moved, 3), "y");
        return b;
    }

    [Theory]
    [MemberData(nameof(Rearrangements))]
    public void TextRoundTripIsExactAndBitIdentical(string op, string mode)
    {
        var b = Model(op, mode);
        var model = OnnxExporter.Export(b.Graph, b.Weights);
        var (graph, weights) = OnnxImporter.Import(model);
        var text = LamdaTextWriter.Write(graph);
        var back = LamdaTextReader.Read(text);
        Assert.Equal(text, LamdaTextWriter.Write(back));
        var inputs = TensorData.RandomInputs(graph, seed: 11);
        Assert.True(Ort.BitIdentical(Ort.Run(model, inputs), Ort.Run(OnnxExporter.Export(back, weights), inputs)));
        // Shape inference agrees with ONNX's definition of the rearrangement.
        var moved = ShapeInference.Run(graph, weights).TypeOf(graph.Nodes[1].Output);
        long[] expected = op == "DepthToSpace" ? [1, 16 / (Block * Block), 16, 16] : [1, 4 * Block * Block, 4, 4];
        Assert.Equal(expected, moved.Dims!.Select(d => d.Value));
    }

    [Theory]
    [MemberData(nameof(Rearrangements))]
    public void PruningThroughItMatchesThePrunedChannelReference(string op, string mode)
    {
        var b = Model(op, mode);
        var analysis = ChannelAnalysis.Run(b.Graph, b.Weights);
        var first = b.Graph.Nodes[0];
        Assert.False(analysis.IsFixed(analysis.SourceOf[first.Id]));
        var kept = new Dictionary<string, int[]>();
        var (pruned, prunedWeights) = ChannelPruner.Apply(analysis, ChannelSelection.ScaleWidth(analysis, 0.5), keptOutputs: kept);
        int produced = (int)b.Channels(new EdgeOperand(first.Output));
        var removed = Enumerable.Range(0, produced).Except(kept[first.Id]).ToHashSet();
        Assert.NotEmpty(removed);

        // Reference: the base model with the last layer blind to every channel that depends on a removed one.
        var moved = ChannelsAfter(op, mode, produced);
        var reference = b.Weights.Copy();
        var last = b.Graph.Nodes[2];
        var w = FloatTensor.From(reference.Tensors[((WeightOperand)last.Inputs[1]).Name]);
        long perInput = w.Dims[2] * w.Dims[3];
        for (int o = 0; o < w.Dims[0]; o++)
            for (int c = 0; c < w.Dims[1]; c++)
                if (moved[c].Any(removed.Contains)) Array.Clear(w.Data, (int)((o * w.Dims[1] + c) * perInput), (int)perInput);
        reference.Add(((WeightOperand)last.Inputs[1]).Name, w.ToProto(((WeightOperand)last.Inputs[1]).Name));

        var inputs = TensorData.RandomInputs(b.Graph, seed: 3);
        var expected = Ort.Run(OnnxExporter.Export(b.Graph, reference), inputs);
        var actual = Ort.Run(OnnxExporter.Export(pruned, prunedWeights), inputs);
        Assert.InRange(Ort.MaxAbsDiff(expected, actual), 0, 1e-5);
        Assert.True(removed.Count % (op == "DepthToSpace" ? Block * Block : 1) == 0);
    }

    /// <summary>For every output channel of the op, the input channels it reads, from the ONNX definition.</summary>
    static int[][] ChannelsAfter(string op, string mode, int channels)
    {
        int blocks = Block * Block;
        if (op == "SpaceToDepth") return Enumerable.Range(0, channels * blocks).Select(j => new[] { j % channels }).ToArray();
        int outer = channels / blocks;
        return Enumerable.Range(0, outer)
            .Select(c => Enumerable.Range(0, blocks).Select(k => mode == "CRD" ? c * blocks + k : k * outer + c).ToArray()).ToArray();
    }

    [Theory]
    [MemberData(nameof(Rearrangements))]
    public void LatencyPredictionCostsItAsACopy(string op, string mode)
    {
        var b = Model(op, mode);
        var analysis = ChannelAnalysis.Run(b.Graph, b.Weights);
        var (pruned, prunedWeights) = ChannelPruner.Apply(analysis, ChannelSelection.ScaleWidth(analysis, 0.5), shapesOnly: true);
        var predictor = new LatencyPredictor(DeviceCatalog.Resolve("jetson-nano"));
        var before = predictor.Predict(b.Graph, b.Weights);
        var after = predictor.Predict(pruned, prunedWeights);
        foreach (var prediction in new[] { before, after })
        {
            var kernel = Assert.Single(prediction.Kernels, k => k.Kernel.Nodes.Any(n => n.Op == op));
            Assert.Equal(KernelClass.Copy, kernel.Kernel.Class);
            Assert.True(double.IsFinite(kernel.Ms) && kernel.Ms >= 0, kernel.Kernel.Description);
        }
        // The copy moves half the channels after pruning.
        double Moved(Prediction p) => p.Kernels.Single(k => k.Kernel.Class == KernelClass.Copy).Kernel.MInputs;
        Assert.Equal(Moved(before) / 2, Moved(after), 9);
    }

    /// <summary>The kernel classes KernelExtractor gave these operators before it asked the registry.</summary>
    [Theory]
    [InlineData("Transpose", KernelClass.Copy)] [InlineData("Cast", KernelClass.Copy)] [InlineData("DepthToSpace", KernelClass.Copy)]
    [InlineData("Reshape", KernelClass.Free)] [InlineData("Identity", KernelClass.Free)] [InlineData("Shape", KernelClass.Free)]
    [InlineData("ReduceMean", KernelClass.GlobalPool)] [InlineData("ReduceMin", KernelClass.Elementwise)]
    [InlineData("GlobalLpPool", KernelClass.Elementwise)] [InlineData("ConstantOfShape", KernelClass.Elementwise)]
    [InlineData("Einsum", KernelClass.Elementwise)] [InlineData("MatMul", KernelClass.Gemm)] [InlineData("LpPool", KernelClass.Pool)]
    [InlineData("BatchNormalization", KernelClass.Normalization)] [InlineData("InstanceNormalization", KernelClass.Elementwise)]
    [InlineData("Softmax", KernelClass.Softmax)] [InlineData("LogSoftmax", KernelClass.Elementwise)]
    [InlineData("Resize", KernelClass.Resize)] [InlineData("Upsample", KernelClass.Resize)] [InlineData("Mul", KernelClass.Elementwise)]
    public void KernelClassesComeFromTheRules(string op, string expected) =>
        Assert.Equal(expected, OperatorRegistry.Get(op).KernelClassOf(new Node("n0", op, "0"), new WeightStore(), new InferenceResult()));

    [Fact]
    public void EveryRuleNamesAnOnnxOperatorOnce()
    {
        Assert.All(OperatorRegistry.Operators, op => Assert.Contains(op, OperatorCatalog.OnnxOperators));
        Assert.Same(OperatorRule.Opaque, OperatorRegistry.Get("Einsum"));
        // The reader's weight slots come from the rules: a PRelu slope and a Conv bias are weights, a Reshape shape is not.
        Assert.True(OperatorCatalog.IsWeightSlot("PRelu", 1));
        Assert.True(OperatorCatalog.IsWeightSlot("Conv", 2));
        Assert.False(OperatorCatalog.IsWeightSlot("Reshape", 1));
        // A family's gradients differentiate its own operators, each once, and the registry finds them by name.
        foreach (var rule in OperatorRegistry.Operators.Select(OperatorRegistry.Get).Distinct())
        {
            var named = rule.Gradients.SelectMany(g => g.Ops).ToList();
            Assert.All(named, op => Assert.Contains(op, rule.Ops));
            Assert.Equal(named.Count, named.Distinct().Count());
            Assert.All(rule.Gradients, g => Assert.All(g.Ops, op => Assert.Same(g, OperatorRegistry.Get(op).GradientOf(op))));
        }
        Assert.Null(OperatorRegistry.Get("Einsum").GradientOf("Einsum"));
    }
}

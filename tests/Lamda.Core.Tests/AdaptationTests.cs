using Lamda.Adaptation;
using Lamda.Data;
using Lamda.Graphs;
using Lamda.Latency;
using Lamda.Onnx;
using Lamda.Runtime;
using Lamda.Text;

namespace Lamda.Tests;

public class AdaptationTests
{
    [Theory]
    [InlineData("5ms", 5)]
    [InlineData("500us", 0.5)]
    [InlineData("0.02s", 20)]
    [InlineData(" 7.5 ms ", 7.5)]
    public void BudgetsParseWithUnits(string text, double ms) => Assert.Equal(ms, LatencyBudget.ParseMs(text), 9);

    [Theory]
    [InlineData("5")]
    [InlineData("fast")]
    [InlineData("-1ms")]
    [InlineData("0ms")]
    [InlineData("5 min")]
    public void BadBudgetsAreRejected(string text)
    {
        var e = Assert.Throws<LamdaException>(() => LatencyBudget.ParseMs(text));
        Assert.Equal(ErrorCodes.BadBudget, e.Code);
        Assert.Contains("5ms", e.Message);
    }

    [Fact]
    public void DiagnosticsRenderThePaperTemplates()
    {
        Assert.Equal("Syntax Error: n3 (Conv): declares 5 output channels", Diagnostic.Syntax("LV103", "n3 (Conv)", "declares 5 output channels").Prompt);
        Assert.Equal("Task Error: The model's output is y f32[1,5] which does not match the required y f32[1,10].",
            Diagnostic.Task("LV202", "output", "y f32[1,5]", "y f32[1,10]").Prompt);
        Assert.Equal("Requirement Error: The latency budget is 5.000 ms, but the measured latency is 6.100 ms.",
            Diagnostic.Requirement("LV301", "latency budget", "5.000 ms", "measured latency", "6.100 ms").Prompt);
    }

    static (Graph Graph, WeightStore Weights, WeightTransfer Transfer) Tiny()
    {
        var b = SampleModels.TinyNet();
        return (b.Graph, b.Weights, new WeightTransfer(b.Graph, b.Weights));
    }

    /// <summary>Edits the ch= out width of one node line of a LamdaText.</summary>
    static string SetWidth(string text, string nodeId, long width) =>
        string.Join('\n', text.Split('\n').Select(l => l.StartsWith(nodeId + " ", StringComparison.Ordinal)
            ? System.Text.RegularExpressions.Regex.Replace(l, @"ch=([0-9?]+):[0-9]+", m => $"ch={m.Groups[1].Value}:{width}") : l));

    /// <summary>Edits both channel counts of one node line.</summary>
    static string SetChannels(string text, string nodeId, long input, long output) =>
        string.Join('\n', text.Split('\n').Select(l => l.StartsWith(nodeId + " ", StringComparison.Ordinal)
            ? System.Text.RegularExpressions.Regex.Replace(l, @"ch=[0-9?]+:[0-9?]+", $"ch={input}:{output}") : l));

    [Fact]
    public void WidthsWrittenInTextAreRealizedWithBaseWeights()
    {
        var (graph, weights, transfer) = Tiny();
        var text = LamdaTextWriter.Write(graph);
        // Narrow both Concat branches (n11, n13: 24 -> 16) and the last conv (n16: 64 -> 40), declaring the new
        // channels consistently along every edge, as a generator must.
        var edited = text;
        foreach (var (id, cin, cout) in new[] { ("n11", 16L, 16L), ("n12", 16L, 16L), ("n13", 16L, 16L), ("n14", 16L, 16L), ("n15", 16L, 32L), ("n16", 32L, 40L), ("n17", 40L, 40L), ("n18", 40L, 40L), ("n19", 40L, 40L), ("n20", 40L, 10L) })
            edited = SetChannels(edited, id, cin, cout);
        // Only the out width of n11 changed: its consumers still declare 24 inputs, which validation reports.
        var inconsistent = transfer.Apply(LamdaTextReader.Read(SetWidth(text, "n11", 16))).Diagnostics;
        Assert.Contains(inconsistent, d => d.Code == ValidationCodes.ChannelMismatch && d.Prompt.StartsWith("Syntax Error: n12 (Relu): declares 24 input channels, but its input %11 carries 16", StringComparison.Ordinal));
        var (g, w, diagnostics) = transfer.Apply(LamdaTextReader.Read(edited));
        Assert.Empty(diagnostics);
        Assert.Equal(32L, g!.Nodes.Single(n => n.Op == "Concat").OutChannels);
        Assert.Equal(40L, g.Nodes.Single(n => n.Id == "n16").OutChannels);
        Assert.Equal(new long[] { 40, 32, 3, 3 }, w!.ShapeOf(((WeightOperand)g.Nodes.Single(n => n.Id == "n16").Inputs[1]).Name));
        Assert.Equal(edited, LamdaTextWriter.Write(g));
        var outputs = Ort.Run(OnnxExporter.Export(g, w), TensorData.RandomInputs(g));
        Assert.Equal(new long[] { 1, 10 }, outputs["output"].Shape);

        // Kept filters are base filters: n16's kept rows are rows of the base weight.
        var baseW = FloatTensor.From(weights.Tensors["w16"]);
        var newW = FloatTensor.From(w.Tensors[((WeightOperand)g.Nodes.Single(n => n.Id == "n16").Inputs[1]).Name]);
        Assert.Contains(Enumerable.Range(0, 64), r => baseW.Data.Skip(r * 48 * 9).Take(9).SequenceEqual(newW.Data.Take(9)));
        Assert.Equal(weights.Tensors.Count, w.Tensors.Count);
    }

    [Fact]
    public void UnchangedTextReproducesTheBaseModelExactly()
    {
        var (graph, weights, transfer) = Tiny();
        var (g, w, diagnostics) = transfer.Apply(LamdaTextReader.Read(LamdaTextWriter.Write(graph)));
        Assert.Empty(diagnostics);
        var inputs = TensorData.RandomInputs(graph, 2);
        Assert.True(Ort.BitIdentical(Ort.Run(OnnxExporter.Export(graph, weights), inputs), Ort.Run(OnnxExporter.Export(g!, w!), inputs)));
    }

    [Fact]
    public void InvalidWidthsGiveCorrectivePrompts()
    {
        var (graph, _, transfer) = Tiny();
        var text = LamdaTextWriter.Write(graph);

        // n0 feeds the residual Add with n6: different widths cannot both hold.
        var coupled = transfer.Apply(LamdaTextReader.Read(SetWidth(text, "n0", 8))).Diagnostics;
        var d = Assert.Single(coupled);
        Assert.Equal(ValidationCodes.Coupling, d.Code);
        Assert.StartsWith("Syntax Error: n0 (Conv): 8 output channels cannot be realized", d.Prompt);
        Assert.Contains("n6", d.Prompt);

        var wider = Assert.Single(transfer.Apply(LamdaTextReader.Read(SetWidth(text, "n11", 99))).Diagnostics);
        Assert.Equal(ValidationCodes.Width, wider.Code);
        Assert.Contains("base model's 24", wider.Prompt);

        var head = Assert.Single(transfer.Apply(LamdaTextReader.Read(SetWidth(text, "n20", 5))).Diagnostics);
        Assert.Contains("fixed at 10", head.Prompt);

        var lines = text.Split('\n').ToList();
        lines.RemoveAt(lines.FindIndex(l => l.StartsWith("n17 ", StringComparison.Ordinal)));
        var broken = LamdaTextReader.TryRead(string.Join('\n', lines), "x", out _);
        Assert.Null(broken); // %17 is now dangling: the reader itself rejects it
    }

    [Fact]
    public void SearchOnAPredictedDeviceMeetsTheBudgetDeterministically()
    {
        var b = SampleModels.TinyNet();
        var device = DeviceCatalog.Resolve("jetson-nano");
        double baseMs = new LatencyPredictor(device).Predict(b.Graph, b.Weights).LatencyMs;
        var options = new AdaptOptions { TargetMs = baseMs * 0.5, Device = device };
        var first = Adapter.Run("tinynet", b.Graph, b.Weights, options);
        var second = Adapter.Run("tinynet", b.Graph, b.Weights, options);
        Assert.Equal(first.Text, second.Text);
        var final = first.Report.Final!;
        Assert.Null(final.MeasuredMs);
        Assert.InRange(final.PredictedMs, 0.85 * options.TargetMs, options.TargetMs);
        Assert.Contains(first.Report.Warnings, w => w.Contains("uncalibrated"));
        Assert.NotEmpty(first.Report.Iterations);
        Assert.All(first.Report.Iterations, i => Assert.Equal("search", i.Generator));
        Assert.True(first.Report.Iterations[^1].TextDiffLines > 0);
        // The result is a valid model with the base interface.
        var outputs = Ort.Run(first.Model, TensorData.RandomInputs(first.Graph));
        Assert.Equal(new long[] { 1, 10 }, outputs["output"].Shape);
        Assert.Equal(LamdaTextWriter.Write(first.Graph), first.Text);
    }

    [Fact]
    public void ImpossibleBudgetNamesTheBestReachableLatency()
    {
        var b = SampleModels.TinyNet();
        var e = Assert.Throws<LamdaException>(() => Adapter.Run("tinynet", b.Graph, b.Weights,
            new AdaptOptions { TargetMs = 1e-4, Device = DeviceCatalog.Resolve("raspberry-pi-4") }));
        Assert.Equal(ErrorCodes.ImpossibleBudget, e.Code);
        Assert.Contains("raise the budget to at least", e.Message);
        Assert.Contains("tinynet", e.Message);
    }

    /// <summary>
    /// Real measurement on this machine. resnet18 is used because its candidates are dense around any budget;
    /// small models (mnasnet, 2.5 ms) can leave gaps near the budget (docs/benchmarks.md), which is a property
    /// of the search, not what this test is about.
    /// </summary>
    [SharedFact]
    public void HostAdaptationMeetsAMeasuredBudget()
    {
        var (_, graph, weights) = Shared.Load("resnet18");
        var profile = HostProfiles.GetOrCreate(null);
        var bytes = File.ReadAllBytes(Shared.ModelPath("resnet18"));
        // A relative budget, resolved by the loop against its own interleaved figure of the base: an absolute one from a
        // plain median of the base taken here under load (37 ms for an 18 ms model) was above the base itself.
        var result = Adapter.Run("resnet18", graph, weights,
            new AdaptOptions { TargetFraction = 0.5, Device = profile, MeasureOnHost = true });
        double target = result.Report.TargetMs;
        var measured = result.Report.Final!.MeasuredMs!.Value;
        Assert.InRange(measured, 0.85 * target, target);
        // An independent check agrees within run-to-run noise. It is the interleaved protocol against the base
        // (the ratio to the base against the budget's fraction), as the issue of latency under load asks: a plain
        // median taken while other test assemblies run real dotnet builds beside this one was seen at twice the target.
        var check = LatencyMeter.MeasureAgainst(new ModelUnderTest(Adapter.Bytes(result.Model), result.Graph, "adapted"),
            new ModelUnderTest(bytes, graph, "resnet18"), new CompareOptions { Seed = 9 });
        Assert.InRange(check.Ratio, 0.8 * 0.5, 1.10 * 0.5);
        Assert.All(result.Report.Iterations, i => Assert.NotNull(i.MeasuredMs));
    }

    [SharedFact]
    public void DataReadsTheSameFromNpyAndProtobuf()
    {
        var dir = Path.Combine(Shared.Folder!, "trained");
        foreach (var stem in new[] { "val_images", "val_labels", "calib_images" })
        {
            var npy = TensorFile.Read(Path.Combine(dir, stem + ".npy"));
            var pb = TensorFile.Read(Path.Combine(dir, stem + ".pb"));
            Assert.Equal(npy.Shape, pb.Shape);
            Assert.Equal(npy.ElemType, pb.ElemType);
            Assert.True(npy.Values is float[] f ? f.SequenceEqual((float[])pb.Values) : ((long[])npy.Values).SequenceEqual((long[])pb.Values));
        }
        var data = DataSet.Load(dir);
        Assert.Equal(1000, data.ValLabels.Length);
        double accuracy = data.Accuracy(File.ReadAllBytes(Path.Combine(dir, "digits_cnn.onnx")));
        Assert.InRange(accuracy, 0.95, 1.0); // README: about 98.5%
    }

    /// <summary>A model exported with a fixed batch of 1 (TinyNet) is evaluated one image at a time, and counted right.</summary>
    [Fact]
    public void AccuracyRunsModelsWithAFixedBatch()
    {
        var b = SampleModels.TinyNet();
        var bytes = Adapter.Bytes(OnnxExporter.Export(b.Graph, b.Weights));
        var rng = new Random(5);
        var images = new TensorData(DataTypes.Float, [10, 3, 32, 32], Enumerable.Range(0, 10 * 3 * 32 * 32).Select(_ => rng.NextSingle()).ToArray());
        // Labels: the model's own answer for the first 6 images, a different class for the last 4.
        var labels = new long[10];
        for (int i = 0; i < 10; i++)
        {
            var logits = (float[])Ort.Run(OnnxExporter.Export(b.Graph, b.Weights), new Dictionary<string, TensorData> { ["input"] = images.Rows(i, 1) })["output"].Values;
            long argmax = Array.IndexOf(logits, logits.Max());
            labels[i] = i < 6 ? argmax : (argmax + 1) % 10;
        }
        Assert.Equal(0.6, new DataSet { ValImages = images, ValLabels = labels }.Accuracy(bytes), 9);
    }

    [Fact]
    public void CorruptDataFilesNameTheFile()
    {
        var dir = Directory.CreateTempSubdirectory("lamda-data-").FullName;
        try
        {
            var bad = Path.Combine(dir, "val_images.npy");
            File.WriteAllBytes(bad, [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 1, 0, 20, 0, (byte)'{']);
            var e = Assert.Throws<LamdaException>(() => TensorFile.Read(bad));
            Assert.Equal(ErrorCodes.BadData, e.Code);
            Assert.Contains(bad, e.Message);
            Assert.Equal(ErrorCodes.BadData, Assert.Throws<LamdaException>(() => DataSet.Load(Path.Combine(dir))).Code);
        }
        finally { Directory.Delete(dir, true); }
    }
}

public class ReconstructionTests
{
    /// <summary>Half the channels of a trained classifier: L1 selection alone collapses, reconstruction keeps accuracy.</summary>
    [SharedTheory]
    [InlineData("digits_cnn")]
    [InlineData("digits_resnet")]
    public void LeastSquaresReconstructionRecoversAccuracy(string name)
    {
        var data = DataSet.Load(Path.Combine(Shared.Folder!, "trained"));
        var (_, raw, weights) = Shared.Load(name);
        var graph = Normalizer.Normalize(raw, weights).Graph;
        double baseAccuracy = data.Accuracy(Adapter.Bytes(OnnxExporter.Export(graph, weights)));
        var analysis = ChannelAnalysis.Run(graph, weights);
        var kept = new Dictionary<string, int[]>();
        var (pruned, prunedWeights) = ChannelPruner.Apply(analysis, ChannelSelection.ScaleWidth(analysis, 0.5), keptOutputs: kept);
        var reconstructed = Reconstruction.Apply(graph, weights, pruned, prunedWeights, kept, data.CalibImages!);
        double plain = data.Accuracy(Adapter.Bytes(OnnxExporter.Export(pruned, prunedWeights)));
        double recovered = data.Accuracy(Adapter.Bytes(OnnxExporter.Export(pruned, reconstructed)));
        Assert.True(recovered >= 0.97 * baseAccuracy, $"{name}: reconstructed {recovered:P2} vs base {baseAccuracy:P2}");
        Assert.True(recovered > plain + 0.2, $"{name}: reconstruction {recovered:P2} should beat plain pruning {plain:P2}");
        // Same shapes as the pruned weights: only values changed.
        foreach (var (n, t) in prunedWeights.Tensors) Assert.Equal(t.Dims, reconstructed.Tensors[n].Dims);
    }

    /// <summary>
    /// A narrowed layer whose kept output channels are not known is left as transferred: refitted to all its base outputs,
    /// it no longer matched the BatchNorm or layer after it (a depth-edited ppocr_cls candidate, LAMDA008 from ORT). A
    /// layer that keeps all its outputs is still refitted.
    /// </summary>
    [Fact]
    public void A_layer_whose_kept_outputs_are_unknown_keeps_its_shape()
    {
        var b = new GraphBuilder(seed: 4);
        var x = b.Input("input", 1, 3, 16, 16);
        b.Output(b.Conv(b.Relu(b.Conv(b.Relu(b.Conv(x, 16)), 16)), 8, kernel: 1), "output");
        var analysis = ChannelAnalysis.Run(b.Graph, b.Weights);
        var (pruned, prunedWeights) = ChannelPruner.Apply(analysis, ChannelSelection.ScaleWidth(analysis, 0.5));
        var rng = new Random(1);
        var calibration = new TensorData(DataTypes.Float, [32, 3, 16, 16],
            Enumerable.Range(0, 32 * 3 * 256).Select(_ => rng.NextSingle()).ToArray());
        var reconstructed = Reconstruction.Apply(b.Graph, b.Weights, pruned, prunedWeights, new Dictionary<string, int[]>(), calibration);
        foreach (var (n, t) in prunedWeights.Tensors) Assert.Equal(t.Dims, reconstructed.Tensors[n].Dims);
        var last = (WeightOperand)pruned.Nodes.Last(n => n.Op == "Conv").Inputs[1];
        Assert.NotEqual(prunedWeights.Tensors[last.Name].RawData, reconstructed.Tensors[last.Name].RawData);
        using var runner = new ModelRunner(Adapter.Bytes(OnnxExporter.Export(pruned, reconstructed)));
        var output = runner.Run(new Dictionary<string, TensorData> { [runner.InputNames[0]] = calibration.Rows(0, 1) }).Values.Single();
        Assert.Equal([1, 8, 16, 16], output.Shape);
    }
}

public class BatchNormRecalibrationTests
{
    /// <summary>
    /// After pruning, each explicit BatchNorm of TinyNet normalizes what it now receives: on the calibration
    /// images its output has, per channel, the mean of its learned bias and the variance its scale sets.
    /// </summary>
    [Fact]
    public void StatisticsAreReEstimatedOnTheAdaptedFeatures()
    {
        var b = SampleModels.TinyNet();
        var transfer = new WeightTransfer(b.Graph, b.Weights);
        var predictor = new LatencyPredictor(DeviceCatalog.Resolve("jetson-nano"));
        double baseMs = predictor.Predict(b.Graph, b.Weights).LatencyMs;
        var text = new SearchGenerator(transfer, predictor).Generate(new GenerationRequest(baseMs * 0.5, baseMs * 0.5, [], 1)).Text;
        var (pruned, weights, diagnostics) = transfer.Apply(LamdaTextReader.Read(text));
        Assert.Empty(diagnostics);
        var rng = new Random(3);
        var calibration = new TensorData(DataTypes.Float, [96, 3, 32, 32], Enumerable.Range(0, 96 * 3 * 32 * 32).Select(_ => rng.NextSingle() * 2 - 1).ToArray());

        var norms = pruned!.Nodes.Where(n => n.Op == "BatchNormalization").ToList();
        Assert.Equal(3, norms.Count);
        string Name(Node n, int i) => ((WeightOperand)n.Inputs[i]).Name;
        var before = norms.ToDictionary(n => n.Id, n => FloatTensor.From(weights!.Tensors[Name(n, 3)]).Data);
        var recalibrated = Reconstruction.RecalibrateBatchNorm(pruned, weights!, calibration);
        var outputs = Reconstruction.Collect(pruned, recalibrated, norms.Select(n => n.Output).ToList(), calibration);
        foreach (var bn in norms)
        {
            var scale = FloatTensor.From(recalibrated.Tensors[Name(bn, 1)]).Data;
            var bias = FloatTensor.From(recalibrated.Tensors[Name(bn, 2)]).Data;
            var variance = FloatTensor.From(recalibrated.Tensors[Name(bn, 4)]).Data;
            var (mean, var) = Reconstruction.ChannelMoments(outputs[bn.Output]);
            for (int c = 0; c < mean.Length; c++)
            {
                Assert.Equal(bias[c], mean[c], 1e-3);
                double expected = scale[c] * scale[c] * variance[c] / (variance[c] + bn.GetFloat("epsilon", 1e-5f));
                Assert.InRange(var[c], expected * 0.999 - 1e-6, expected * 1.001 + 1e-6);
            }
            // The learned parameters stay, the statistics change, and the input store is not modified.
            Assert.Equal(FloatTensor.From(weights!.Tensors[Name(bn, 1)]).Data, scale);
            Assert.NotEqual(before[bn.Id], FloatTensor.From(recalibrated.Tensors[Name(bn, 3)]).Data);
            Assert.Equal(before[bn.Id], FloatTensor.From(weights!.Tensors[Name(bn, 3)]).Data);
        }
        // A model without explicit BatchNorm comes back as it was.
        var folded = new GraphBuilder(seed: 1);
        folded.Output(folded.Relu(folded.Conv(folded.Input("x", 1, 3, 8, 8), 4)), "y");
        Assert.Same(folded.Weights, Reconstruction.RecalibrateBatchNorm(folded.Graph, folded.Weights, new TensorData(DataTypes.Float, [1, 3, 8, 8], new float[192])));
    }
}

public class DepthEditTests
{
    [Fact]
    public void ResidualBlockOfTinyNetIsFoundAndDropped()
    {
        var b = SampleModels.TinyNet();
        var block = Assert.Single(DroppableBlocks.Find(b.Graph, b.Weights));
        Assert.Equal("n8", block.Exit.Id);
        Assert.Equal(["n3", "n4", "n5", "n6", "n7"], block.Body.Select(n => n.Id).Order(StringComparer.Ordinal));
        var shallow = DroppableBlocks.Drop(b.Graph, [block]);
        Assert.Equal(b.Graph.Nodes.Count - 6, shallow.Nodes.Count);
        Assert.Equal(new EdgeOperand("2"), shallow.Nodes.Single(n => n.Id == "n9").Inputs[0]); // Relu reads the skip edge
        var outputs = Ort.Run(OnnxExporter.Export(shallow, b.Weights), TensorData.RandomInputs(shallow));
        Assert.Equal(new long[] { 1, 10 }, outputs["output"].Shape);
    }

    /// <summary>
    /// A model without residual blocks still has depth to give: ShuffleNet's stride-1 units (split, branch, concat and channel
    /// shuffle) and SqueezeNet's fire modules that keep their width. Each is found whole, and the model runs without them.
    /// </summary>
    [SharedTheory]
    [InlineData("shufflenet_v2_x0_5", 13, "Reshape", 3)]
    [InlineData("squeezenet1_1", 4, "Concat", 3)]
    public void UnitsOfAModelWithoutResidualBlocksAreFoundWhole(string name, int units, string exitOp, int convsPerUnit)
    {
        var (_, raw, weights) = Shared.Load(name);
        var graph = Normalizer.Normalize(raw, weights).Graph;
        Assert.DoesNotContain(graph.Nodes, n => n.Op == "Add");
        var blocks = DroppableBlocks.Find(graph, weights);
        Assert.Equal(units, blocks.Count);
        var types = ShapeInference.Run(graph, weights, batchOne: true);
        var index = graph.Nodes.Select((n, i) => (n, i)).ToDictionary(x => x.n.Id, x => x.i);
        foreach (var b in blocks)
        {
            Assert.Equal(exitOp, b.Exit.Op);
            Assert.Equal(convsPerUnit, b.Body.Count(n => n.Op == "Conv"));
            Assert.Equal(types.TypeOf(b.Entry.Key), types.TypeOf(b.Exit.Output));
            // The body is the nodes between the entry and the exit, nothing else.
            int first = b.Body.Min(n => index[n.Id]);
            Assert.Equal(Enumerable.Range(first, index[b.Exit.Id] - first), b.Body.Select(n => index[n.Id]).Order());
            Assert.True(first == 0 || graph.Nodes[first - 1].Output == b.Entry.Edge, $"{b.Exit.Id}: the body starts after its entry");
        }
        Assert.Equal(blocks.Count, blocks.Select(b => b.Exit.Id).Distinct().Count());
        var shallow = DroppableBlocks.Drop(graph, blocks);
        Assert.Equal(graph.Nodes.Count - blocks.Sum(b => b.Body.Count + 1), shallow.Nodes.Count);
        var inputs = TensorData.RandomInputs(shallow);
        Assert.Equal(new long[] { 1, 1000 }, Ort.Run(OnnxExporter.Export(shallow, weights), inputs)["output"].Shape);
    }

    /// <summary>
    /// Below the smallest width-only ShuffleNet the search drops units, and the result is realized from its text like any other.
    /// </summary>
    [SharedFact]
    public void ShuffleNetBudgetsBelowEveryWidthAreMetByDroppingUnits()
    {
        var (_, raw, weights) = Shared.Load("shufflenet_v2_x0_5");
        var graph = Normalizer.Normalize(raw, weights).Graph;
        var device = DeviceCatalog.Resolve("raspberry-pi-4");
        var transfer = new WeightTransfer(graph, weights);
        var widthOnly = new SearchGenerator(transfer, new LatencyPredictor(device), depthEdits: false).Smallest().PredictedMs;
        var result = Adapter.Run("shufflenet", graph, weights, new AdaptOptions { TargetMs = widthOnly * 0.9, Device = device });
        Assert.True(result.Report.Final!.PredictedMs <= widthOnly * 0.9);
        Assert.True(result.Graph.Nodes.Count(n => n.Op == "Concat") < graph.Nodes.Count(n => n.Op == "Concat"));
        Assert.Equal(new long[] { 1, 1000 }, Ort.Run(result.Model, TensorData.RandomInputs(result.Graph))["output"].Shape);
        var again = new WeightTransfer(graph, weights).Apply(LamdaTextReader.Read(result.Text));
        Assert.Empty(again.Diagnostics);
    }

    [Fact]
    public void BudgetsBelowEveryWidthAreMetByDroppingBlocks()
    {
        var b = SampleModels.TinyNet();
        var device = DeviceCatalog.Resolve("raspberry-pi-4");
        var predictor = new LatencyPredictor(device);
        var transfer = new WeightTransfer(b.Graph, b.Weights);
        // The smallest width-only architecture, and a budget below it.
        var widthOnly = new SearchGenerator(transfer, predictor, depthEdits: false).Smallest().PredictedMs;
        var result = Adapter.Run("tinynet", b.Graph, b.Weights, new AdaptOptions { TargetMs = widthOnly * 0.97, Device = device });
        Assert.True(result.Report.Final!.PredictedMs <= widthOnly * 0.97);
        Assert.DoesNotContain(result.Graph.Nodes, n => n.Op == "Add"); // the residual block was dropped
        Assert.DoesNotContain("n8 Add", result.Text);
        var outputs = Ort.Run(result.Model, TensorData.RandomInputs(result.Graph));
        Assert.Equal(new long[] { 1, 10 }, outputs["output"].Shape);
        // The depth edit is realized from the text like any candidate: the same text gives the same model.
        var again = new WeightTransfer(Normalizer.Normalize(b.Graph, b.Weights).Graph, b.Weights).Apply(LamdaTextReader.Read(result.Text));
        Assert.Empty(again.Diagnostics);
    }
}

public class CholeskyTests
{
    [Theory]
    [InlineData(1, 1)]
    [InlineData(7, 3)]
    [InlineData(120, 17)]
    public void SolvesSymmetricPositiveDefiniteSystems(int n, int m)
    {
        // A = M M^T + n I is symmetric positive definite; B = A X for a known X.
        var rng = new Random(n * 31 + m);
        var g = new double[n, n];
        for (int i = 0; i < n; i++) for (int j = 0; j < n; j++) g[i, j] = rng.NextDouble() * 2 - 1;
        var a = new double[n, n];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
            {
                double sum = i == j ? n : 0;
                for (int k = 0; k < n; k++) sum += g[i, k] * g[j, k];
                a[i, j] = sum;
            }
        var x = new double[n, m];
        for (int i = 0; i < n; i++) for (int c = 0; c < m; c++) x[i, c] = rng.NextDouble() * 2 - 1;
        var b = new double[n, m];
        for (int i = 0; i < n; i++)
            for (int c = 0; c < m; c++)
                for (int k = 0; k < n; k++) b[i, c] += a[i, k] * x[k, c];

        var solved = Cholesky.Solve(a, b);

        for (int i = 0; i < n; i++) for (int c = 0; c < m; c++) Assert.Equal(x[i, c], solved[i, c], 1e-9);
    }
}

public class LayerFeaturesTests
{
    /// <summary>
    /// Refitting layers front to back, the features each layer is refitted on are the ones a whole run of the changed model
    /// gives (a residual Add, a two-output Split and a Reshape to a computed shape cross the frontier), and the model runs
    /// about once over: a whole run per layer would execute every node upstream of each layer again.
    /// </summary>
    [Fact]
    public void Features_match_whole_runs_and_the_model_runs_once_over()
    {
        var b = new GraphBuilder(seed: 5);
        var x = b.Input("input", 1, 3, 12, 12);
        var c1 = b.Relu(b.BatchNorm(b.Conv(x, 8)));
        var r = b.Relu(b.Add(b.Conv(c1, 8), c1));
        var split = b.Op("Split", [r], ("axis", AttributeValue.FromInt(1)));
        b.Graph.Nodes[^1].OutputCount = 2;
        var swapped = b.Concat(new EdgeOperand(split.Edge, 1), split);
        var reshaped = b.Op("Reshape", [swapped, b.Op("Shape", [c1])]);
        var c3 = b.Relu(b.BatchNorm(b.Conv(reshaped, 8)));
        b.Output(b.Conv(c3, 4, kernel: 1), "output");
        var graph = b.Graph;
        var rng = new Random(2);
        var calibration = new TensorData(DataTypes.Float, [6, 3, 12, 12],
            Enumerable.Range(0, 6 * 3 * 144).Select(_ => rng.NextSingle()).ToArray());

        var weights = b.Weights.Copy();
        var features = new LayerFeatures(graph, calibration);
        void Check(string key)
        {
            var whole = Reconstruction.Collect(graph, weights, [key], calibration)[key];
            var piecewise = features.Get(weights, key);
            Assert.Equal(whole.Shape, piecewise.Shape);
            var (a, c) = ((float[])whole.Values, (float[])piecewise.Values);
            for (int i = 0; i < a.Length; i++)
                Assert.True(Math.Abs(a[i] - c[i]) <= 1e-5f * (1 + Math.Abs(a[i])), $"{key}[{i}]: {a[i]} vs {c[i]}");
        }
        void Change(Node layer)
        {
            // As a refit changes a layer's weights; what follows must see the change.
            var name = ((WeightOperand)layer.Inputs[1]).Name;
            var changed = FloatTensor.From(weights.Tensors[name]);
            weights.Add(name, new FloatTensor(changed.Dims, changed.Data.Select(v => v * 1.5f + 0.01f).ToArray()).ToProto(name));
            features.Changed(layer);
        }
        // The first convolution reads the graph input, which is never refitted (its channels are the input's).
        var refitted = graph.Nodes.Where(n => n.Op is "Conv" or "BatchNormalization").Skip(1).ToList();
        foreach (var layer in refitted)
        {
            Check(((EdgeOperand)layer.Inputs[0]).Key);
            Change(layer);
        }
        var upstream = refitted.Sum(layer => graph.Nodes.IndexOf(layer));
        Assert.True(features.NodesRun <= graph.Nodes.Count,
            $"{features.NodesRun} node runs for {graph.Nodes.Count} nodes ({upstream} run whole)");
        // Out of order: a layer early in the graph changes again, and the last layer's input is computed anew.
        Change(refitted[1]);
        Check(((EdgeOperand)refitted[^1].Inputs[0]).Key);
    }
}

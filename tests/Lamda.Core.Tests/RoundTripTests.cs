using Lamda.Graphs;
using Lamda.Onnx;
using Lamda.Runtime;
using Lamda.Text;

namespace Lamda.Tests;

/// <summary>The exactness contract of LamdaText on real torchvision exports and trained models.</summary>
public class RoundTripTests
{
    [SharedTheory]
    [MemberData(nameof(Shared.AllModels), MemberType = typeof(Shared))]
    public void TextIsIdempotent(string name)
    {
        var (_, graph, _) = Shared.Load(name);
        var text = LamdaTextWriter.Write(graph);
        var again = LamdaTextWriter.Write(LamdaTextReader.Read(text, name + ".lamda"));
        Assert.Equal(text, again);
        Assert.Equal(graph.Nodes.Count, text.Split('\n').Count(l => l.StartsWith('n')));
    }

    [SharedTheory]
    [MemberData(nameof(Shared.AllModels), MemberType = typeof(Shared))]
    public void TextToOnnxGivesBitIdenticalOutputs(string name)
    {
        var (model, graph, weights) = Shared.Load(name);
        var text = LamdaTextWriter.Write(graph);
        var rebuilt = OnnxExporter.Export(LamdaTextReader.Read(text), weights);
        var inputs = TensorData.RandomInputs(graph, seed: 42);
        var expected = Ort.Run(model, inputs);
        var actual = Ort.Run(rebuilt, inputs);
        Assert.Equal(0.0, Ort.MaxAbsDiff(expected, actual));
        Assert.True(Ort.BitIdentical(expected, actual));
    }

    [SharedTheory]
    [MemberData(nameof(Shared.AllModels), MemberType = typeof(Shared))]
    public void NormalizeKeepsOutputsAndRoundTrips(string name)
    {
        var (model, graph, weights) = Shared.Load(name);
        var (normalized, report) = Normalizer.Normalize(graph, weights);
        Assert.DoesNotContain(normalized.Nodes, n => n.Op is "Identity" or "Dropout" or "Constant");
        var text = LamdaTextWriter.Write(normalized);
        Assert.Equal(text, LamdaTextWriter.Write(LamdaTextReader.Read(text)));

        var inputs = TensorData.RandomInputs(graph, seed: 7);
        var expected = Ort.Run(model, inputs);
        var viaText = Ort.Run(OnnxExporter.Export(LamdaTextReader.Read(text), weights), inputs);
        Assert.InRange(Ort.MaxAbsDiff(expected, viaText), 0, 1e-5);
        Assert.Equal(report.NodesAfter, normalized.Nodes.Count);
    }

    [SharedFact]
    public void NormalizeFoldsShuffleNetShapeArithmetic()
    {
        var (_, graph, weights) = Shared.Load("shufflenet_v2_x0_5");
        Assert.Contains(graph.Nodes, n => n.Op is "Shape" or "Gather");
        var (normalized, report) = Normalizer.Normalize(graph, weights);
        Assert.DoesNotContain(normalized.Nodes, n => n.Op is "Shape" or "Gather" or "Div" or "Mul");
        // Channel split offsets are now visible constants, as adaptation needs.
        var slices = normalized.Nodes.Where(n => n.Op == "Slice").ToList();
        Assert.NotEmpty(slices);
        Assert.All(slices, s => Assert.All(s.Inputs.Skip(1), o => Assert.IsType<LiteralOperand>(o)));
        Assert.True(report.Removed["Shape"] > 0);
    }

    [SharedTheory]
    [MemberData(nameof(Shared.TorchvisionModels), MemberType = typeof(Shared))]
    public void InferredShapesMatchOnnxRuntime(string name)
    {
        var (_, graph, weights) = Shared.Load(name);
        var normalized = Normalizer.Normalize(graph, weights).Graph;
        var inference = ShapeInference.Run(normalized, weights);
        // Expose every edge as a graph output and compare the shapes ORT produces with the inferred ones.
        var probe = normalized.Clone();
        foreach (var n in probe.Nodes.Where(n => !probe.Outputs.Any(o => o.Edge == n.Output)))
            probe.Outputs.Add(new GraphValue(n.Output, "probe_" + n.Output, new TensorType(inference.TypeOf(n.Output).ElemType, null)));
        var outputs = Ort.Run(OnnxExporter.Export(probe, weights), TensorData.RandomInputs(probe));
        foreach (var n in normalized.Nodes)
        {
            var inferred = inference.TypeOf(n.Output);
            Assert.True(inferred.IsStatic, $"{name}: shape of {n.Id} ({n.Op}) was not inferred");
            var actual = outputs[probe.Outputs.First(o => o.Edge == n.Output).Name].Shape;
            Assert.True(actual.SequenceEqual(inferred.Dims!.Select(d => d.Value)), $"{name}: {n.Id} {n.Op} inferred {inferred}, ORT gives [{string.Join(",", actual)}]");
            if (actual.Length >= 2) Assert.Equal(actual[1], n.OutChannels);
        }
    }

    [Fact]
    public void BuiltGraphRoundTripsThroughOnnxAndText()
    {
        var b = SampleModels.TinyNet();
        var model = OnnxExporter.Export(b.Graph, b.Weights);
        var (imported, weights) = OnnxImporter.Import(model);
        var text = LamdaTextWriter.Write(imported);
        Assert.Equal(LamdaTextWriter.Write(b.Graph), text);
        var inputs = TensorData.RandomInputs(imported, 3);
        Assert.True(Ort.BitIdentical(Ort.Run(model, inputs), Ort.Run(OnnxExporter.Export(LamdaTextReader.Read(text), weights), inputs)));
    }

    [Fact]
    public void SampleModelInRepoIsMadeByLamda()
    {
        var path = Path.Combine(Shared.RepoRoot, "samples", "models", "tinynet.onnx");
        var expected = Ort.ToBytes(OnnxExporter.Export(SampleModels.TinyNet().Graph, SampleModels.TinyNet().Weights));
        if (Environment.GetEnvironmentVariable("LAMDA_REGENERATE_SAMPLES") == "1") File.WriteAllBytes(path, expected);
        Assert.Equal(expected, File.ReadAllBytes(path));
    }
}

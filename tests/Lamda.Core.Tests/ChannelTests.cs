using Lamda.Graphs;
using Lamda.Onnx;
using Lamda.Runtime;

namespace Lamda.Tests;

public class ChannelTests
{
    [SharedTheory]
    [MemberData(nameof(Shared.TorchvisionModels), MemberType = typeof(Shared))]
    public void WidthScaledModelsRunWithUnchangedInterface(string name)
    {
        var (_, raw, rawWeights) = Shared.Load(name);
        var (graph, weights) = Normalizer.Normalize(raw, rawWeights) is var (g, _) ? (g, rawWeights) : default;
        var baseMacs = GraphStats.Of(graph, weights).Macs;
        var analysis = ChannelAnalysis.Run(graph, weights);
        foreach (var factor in new[] { 0.25, 0.5, 0.75 })
        {
            var keep = ChannelSelection.ScaleWidth(analysis, factor);
            var (scaled, scaledWeights) = ChannelPruner.Apply(analysis, keep);
            var model = OnnxExporter.Export(scaled, scaledWeights);
            var outputs = Ort.Run(model, TensorData.RandomInputs(scaled));
            Assert.Equal(new long[] { 1, 1000 }, outputs["output"].Shape);
            Assert.All((float[])outputs["output"].Values, v => Assert.True(float.IsFinite(v)));
            var macs = GraphStats.Of(scaled, scaledWeights).Macs;
            // MACs shrink roughly with the square of the width (the stem input and the head stay).
            Assert.InRange(macs, baseMacs * factor * factor * 0.5, baseMacs * (factor + 0.15));
            // Channel annotations agree with the weights after surgery.
            var inference = ShapeInference.Run(scaled, scaledWeights);
            foreach (var n in scaled.Nodes.Where(n => n.Op == "Conv"))
                Assert.Equal(scaledWeights.ShapeOf(((WeightOperand)n.Inputs[1]).Name)![0], inference.TypeOf(n.Output).Channels);
        }
    }

    [Fact]
    public void ResidualAddAndConcatCouplingIsRespected()
    {
        var b = SampleModels.TinyNet();
        var analysis = ChannelAnalysis.Run(b.Graph, b.Weights);
        var keep = ChannelSelection.ScaleWidth(analysis, 0.5);
        var (g, w) = ChannelPruner.Apply(analysis, keep);
        var add = g.Nodes.Single(n => n.Op == "Add");
        Assert.Equal(8L, add.OutChannels);
        var concat = g.Nodes.Single(n => n.Op == "Concat");
        Assert.Equal(24L, concat.OutChannels);
        Assert.Equal(new long[] { 1, 10 }, Ort.Run(OnnxExporter.Export(g, w), TensorData.RandomInputs(g))["output"].Shape);
        // With everything kept the model is unchanged, bit for bit.
        var all = Enumerable.Repeat(true, analysis.RefCount).ToArray();
        var (same, sameWeights) = ChannelPruner.Apply(analysis, all);
        var inputs = TensorData.RandomInputs(b.Graph, 1);
        Assert.True(Ort.BitIdentical(Ort.Run(OnnxExporter.Export(b.Graph, b.Weights), inputs), Ort.Run(OnnxExporter.Export(same, sameWeights), inputs)));
    }
}

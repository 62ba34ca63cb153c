using Google.Protobuf;
using Lamda.Adaptation;
using Lamda.Evaluation;
using Lamda.Graphs;
using Lamda.Latency;
using Lamda.Onnx;
using Lamda.Runtime;
using Lamda.Text;

namespace Lamda.Tests;

/// <summary>
/// With calibration data the search narrows each layer group by the latency it saves over the damage it does, not
/// by one uniform factor. Deterministic: the budget is on a predicted device, the damage is measured by ONNX Runtime.
/// </summary>
public class SensitivityTests
{
    /// <summary>
    /// Two branches of the same cost added at the output; the second's last convolution is scaled by 0.01, so its
    /// first layer's channels barely reach the output and may be narrowed far more than the first branch's.
    /// </summary>
    static (GraphBuilder Builder, string Loud, string Quiet) TwoBranches()
    {
        var (b, firsts) = Branches(1, 0.01f);
        return (b, firsts[0], firsts[1]);
    }

    /// <summary>Branches of the same cost added at the output, each one's last convolution scaled; their first layers' ids.</summary>
    /// <remarks>Loud, middle and quiet (1, 0.1, 0.01): at 60% of the latency, each spreading gives another answer.</remarks>
    static (GraphBuilder Builder, string[] Firsts) Branches(params float[] scales)
    {
        var b = new GraphBuilder(seed: 5);
        var x = b.Input("input", 1, 3, 64, 64);
        var firsts = scales.Select(_ => b.Conv(x, 64)).ToList();
        var lasts = firsts.Select(f => b.Conv(b.Relu(f), 8, kernel: 1)).ToList();
        b.Output(lasts.Skip(1).Aggregate(lasts[0], b.Add), "output");
        var producers = b.Graph.Producers();
        for (int i = 0; i < scales.Length; i++)
            foreach (var w in producers[lasts[i].Edge].Inputs.OfType<WeightOperand>())
            {
                b.Weights.TryGet(w.Name, out var proto);
                var t = FloatTensor.From(proto);
                for (int j = 0; j < t.Data.Length; j++) t.Data[j] *= scales[i];
                b.Weights.Add(w.Name, t.ToProto(w.Name));
            }
        return (b, firsts.Select(f => producers[f.Edge].Id).ToArray());
    }

    static AdaptData RandomData()
    {
        var rng = new Random(2);
        TensorData Images(int n) =>
            new(DataTypes.Float, [n, 3, 64, 64], Enumerable.Range(0, n * 3 * 64 * 64).Select(_ => rng.NextSingle()).ToArray());
        return new AdaptData { Calibration = Images(16), Validation = Images(16), Split = "random test inputs" };
    }

    static (AdaptationResult Result, double Fidelity) Adapt(bool spread)
    {
        var (b, _, _) = TwoBranches();
        var data = RandomData();
        var result = Adapter.Run("two-branches", b.Graph, b.Weights, new AdaptOptions
        {
            TargetFraction = 0.7, Device = DeviceCatalog.Resolve("jetson-nano"), Data = data, Reconstruct = false, SpreadWidths = spread,
        });
        var baseBytes = ModelFile.ToBytes(OnnxExporter.Export(b.Graph, b.Weights));
        double fidelity = Fidelity.Measure(baseBytes, result.Model.ToByteArray(), b.Graph, data.Validation).Single().Agreement;
        return (result, fidelity);
    }

    static long Width(AdaptationResult r, string id) => r.Graph.Nodes.Single(n => n.Id == id).OutChannels!.Value;

    [Fact]
    public void TheLayerThatBarelyReachesTheOutputIsNarrowedMoreAndTheOutputsAgreeBetter()
    {
        var (_, loud, quiet) = TwoBranches();
        var (uniform, uniformFidelity) = Adapt(spread: false);
        var (spread, spreadFidelity) = Adapt(spread: true);
        // Uniform, the two differ at most by the last fill step; spread, the quiet branch gives up far more.
        long uniformGap = Math.Abs(Width(uniform, loud) - Width(uniform, quiet)), spreadGap = Width(spread, loud) - Width(spread, quiet);
        Assert.True(spreadGap > uniformGap, $"loud - quiet: {spreadGap} channels spread, {uniformGap} uniform");
        // The same budget, met either way.
        Assert.Equal("met", spread.Report.Outcome);
        Assert.True(spreadFidelity > uniformFidelity + 0.05, $"fidelity spread {spreadFidelity:P1}, uniform {uniformFidelity:P1}");
    }

    /// <summary>
    /// A stronger spreading is kept only when its reconstructed first answer agrees better than every milder one's by more
    /// than the margin: the mildest answer within the margin of the best is kept (0.75, then 0.5, then 0.5 with a least share).
    /// </summary>
    [Theory]
    [InlineData(0.9, 0.5, 0.5, 0, "0.75 kept")]
    [InlineData(0.5, 0.9, 0.5, 1, "0.5 kept")]
    [InlineData(0.9331, 0.9300, 0.9000, 1, "0.5 kept")]
    [InlineData(0.9400, 0.9100, 0.9100, 0, "0.75 kept")]
    [InlineData(0.9000, 0.9100, 0.8950, 2, "0.5 keeping 30% kept")]
    public void TheSpreadingIsTheMildestWhoseFirstAnswerAgreesAsWellOnceReconstructed(double strong, double mild, double least,
        int kept, string verdict)
    {
        var (b, _) = Branches(1, 0.1f, 0.01f);
        var predictor = new LatencyPredictor(DeviceCatalog.Resolve("jetson-nano"));
        var sensitivity = new PruningSensitivity(new Candidate(b.Graph, b.Weights), RandomData().Calibration!);
        var judged = new List<string>();
        var messages = new List<string>();
        double[] agreements = [strong, mild, least];
        var generator = new SearchGenerator(new WeightTransfer(b.Graph, b.Weights), predictor, sensitivity: sensitivity,
            progress: new ProgressLines(messages), judge: text => { judged.Add(text); return agreements[judged.Count - 1]; });
        double baseMs = predictor.Predict(b.Graph, b.Weights).LatencyMs;
        var request = new GenerationRequest(baseMs * 0.6, baseMs * 0.6, [], 1);
        var first = generator.Generate(request);
        // One answer per spreading, judged at the first request only; the kept spreading's answer is the one given.
        Assert.Equal(3, judged.Count);
        Assert.Equal(judged[kept], first.Text);
        Assert.Contains(messages, m => m.StartsWith("spreading power: 0.75 agrees on") && m.EndsWith(verdict));
        generator.Generate(request with { Iteration = 2 });
        Assert.Equal(3, judged.Count);
    }

    /// <summary>
    /// Spread by the power alone, the quiet branch keeps less than 30% of its channels at this budget; with the least share,
    /// it keeps 30% (rounded to the answer's channel multiple), and the other branches give up channels to pay for it.
    /// </summary>
    [Fact]
    public void TheSpreadingWithALeastShareKeepsThatShareOfTheQuietBranch()
    {
        var (b, firsts) = Branches(1, 0.1f, 0.01f);
        var predictor = new LatencyPredictor(DeviceCatalog.Resolve("jetson-nano"));
        var sensitivity = new PruningSensitivity(new Candidate(b.Graph, b.Weights), RandomData().Calibration!);
        var judged = new List<string>();
        var generator = new SearchGenerator(new WeightTransfer(b.Graph, b.Weights), predictor, sensitivity: sensitivity,
            judge: text => { judged.Add(text); return 0.5; });
        double baseMs = predictor.Predict(b.Graph, b.Weights).LatencyMs;
        generator.Generate(new GenerationRequest(baseMs * 0.6, baseMs * 0.6, [], 1));
        long[] Widths(string text) =>
            firsts.Select(id => LamdaTextReader.Read(text).Nodes.Single(n => n.Id == id).OutChannels!.Value).ToArray();
        var (byPower, withLeast) = (Widths(judged[1]), Widths(judged[2]));
        Assert.True(byPower[2] < 0.3 * 64, $"the quiet branch keeps {byPower[2]} of 64 by the power alone");
        Assert.InRange(withLeast[2], ChannelSelection.Target(64, 0.3, 16), 64);
        Assert.True(withLeast[0] + withLeast[1] < byPower[0] + byPower[1], "the other branches pay for the quiet one's channels");
    }

    [Fact]
    public void DamageIsZeroForTheBaseAndGrowsWithTheChannelsRemoved()
    {
        var (b, loud, _) = TwoBranches();
        var baseModel = new Candidate(b.Graph, b.Weights);
        var probe = new PruningSensitivity(baseModel, RandomData().Calibration!);
        Assert.Equal(0, probe.Of(baseModel), 6);
        var transfer = new WeightTransfer(b.Graph, b.Weights);
        double Damage(int width)
        {
            var widths = new Dictionary<string, int> { [loud] = width };
            var (keep, _) = ChannelSelection.ToWidths(transfer.Analysis, widths, transfer.Importance);
            var (g, w) = ChannelPruner.Apply(transfer.Analysis, keep);
            return probe.Of(new Candidate(g, w));
        }
        double d24 = Damage(48), d8 = Damage(16);
        Assert.True(d24 > 0 && d8 > d24, $"damage at 48 channels {d24}, at 16 {d8}");
    }
}

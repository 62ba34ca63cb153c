using Lamda.Adaptation;
using Lamda.Latency;

namespace Lamda.Tests;

/// <summary>
/// The loop's last step between two near misses: a device the predictor misjudges in a way it cannot resolve, stood in
/// for by another device's predictor (deterministic: no runtime, no timing figure).
/// </summary>
public class BracketTests
{
    /// <summary>"Measures" with another device's predictor: alignment and costs the generator's predictor does not know.</summary>
    sealed class OtherDevice(LatencyPredictor predictor, LatencyPredictor device) : ILatencyMetric
    {
        public string Kind => "measured";
        public double UpperShare => 0.98;
        public Figures Evaluate(Candidate c) =>
            new(predictor.Predict(c.Graph, c.Weights).LatencyMs, device.Predict(c.Graph, c.Weights).LatencyMs, null);
        public Figures Confirm(Candidate c, Figures first) => first;
        public double Of(Figures f) => f.MeasuredMs!.Value;
    }

    /// <summary>The search generator as it was before brackets: every request without one.</summary>
    sealed class WithoutBracket(IArchitectureGenerator inner) : IArchitectureGenerator
    {
        public string Name => inner.Name;
        public Proposal Generate(GenerationRequest r) => inner.Generate(r with { Bracket = null });
    }

    static AdaptationResult Adapt(bool bracket)
    {
        var (_, graph, weights) = Shared.Load("squeezenet1_1");
        var truth = new LatencyPredictor(DeviceCatalog.Resolve("intel-i7-laptop"));
        return Adapter.Run("squeezenet1_1", graph, weights, new AdaptOptions
        {
            TargetFraction = 0.5, Device = DeviceCatalog.Resolve("jetson-nano"),
            Metric = (predictor, _) => new OtherDevice(predictor, truth),
            Generator = bracket ? null : (_, _, transfer, predictor) => new WithoutBracket(new SearchGenerator(transfer, predictor)),
        });
    }

    /// <summary>
    /// squeezenet1_1 at 50% on a device that is not the predictor's: aimed by the prediction alone, the search repeats
    /// candidates on either side of the band and returns the best under budget after all 12 iterations; with an
    /// architecture between the latest miss on each side it lands in the band (95-98% of the budget).
    /// </summary>
    [SharedFact]
    public void TheLoopLandsBetweenTwoNearMissesWhereThePredictionAloneFellBack()
    {
        var before = Adapt(bracket: false);
        Assert.Equal("best-under-budget", before.Report.Outcome);
        Assert.Equal(12, before.Report.Iterations.Count);

        var after = Adapt(bracket: true);
        Assert.Equal("met", after.Report.Outcome);
        Assert.InRange(after.Report.Final!.MeasuredMs!.Value, 0.95 * after.Report.TargetMs, 0.98 * after.Report.TargetMs);
        Assert.True(after.Report.Iterations.Count < 12);
        Assert.Contains(after.Report.Iterations, i => i.Note?.StartsWith("between the candidates at") == true);
        Assert.Equal(after.Text, Adapt(bracket: true).Text);
    }

    [Fact]
    public void TheBracketIsTheLatestMissOnEachSide()
    {
        var t = new BracketTracker();
        t.Observe("a", 0.80);
        Assert.Null(t.Around(0.965, 0.98));
        t.Observe("b", 1.10);
        t.Observe("c", 0.90);
        t.Observe("d", 1.20); // beyond b, yet the latest over: the next answer lies between c and d
        var b = t.Around(0.965, 0.98)!;
        Assert.Equal(("c", "d"), (b.Under.Text, b.Over.Text));
        Assert.Equal((0.965 - 0.90) / (1.20 - 0.90), b.Fraction, 12);
        t.Observe("c", 0.99); // measured again, now over
        Assert.Equal(("a", "c"), (t.Around(0.965, 0.98)!.Under.Text, t.Around(0.965, 0.98)!.Over.Text));
    }
}

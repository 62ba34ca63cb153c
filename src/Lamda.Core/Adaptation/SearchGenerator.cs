using Lamda.Graphs;
using Lamda.Latency;
using Lamda.Text;

namespace Lamda.Adaptation;

/// <summary>What the loop asks a generator for: a target, the predicted latency to aim at, and the feedback so far.</summary>
public sealed record GenerationRequest(double TargetMs, double AimPredictedMs, IReadOnlyList<Diagnostic> Feedback, int Iteration);

/// <summary>Turns a base architecture plus constraints into a new architecture, in LamdaText.</summary>
public interface IArchitectureGenerator
{
    string Name { get; }
    string Generate(GenerationRequest request);
}

/// <summary>
/// The default generator: a deterministic search over layer widths. For each channel multiple that suits the
/// device (its convolution tile first, then finer ones), it bisects a width factor so that predicted latency
/// is as high as possible without exceeding the aim, and returns the largest such architecture. Widths come
/// from L1 importance under every channel coupling; the result is written as LamdaText like any generator's.
/// </summary>
public sealed class SearchGenerator : IArchitectureGenerator
{
    readonly WeightTransfer transfer;
    readonly LatencyPredictor predictor;
    readonly int[] multiples;
    readonly Dictionary<(int, int), (double Ms, Graph Graph)> cache = [];

    public SearchGenerator(WeightTransfer transfer, LatencyPredictor predictor)
    {
        this.transfer = transfer;
        this.predictor = predictor;
        var g = predictor.Profile.Channels;
        multiples = new[] { g.PreferredMultiple, Math.Max(g.InputBlock, g.DepthwiseBlock), 4, 1 }.Where(m => m >= 1).Distinct().ToArray();
    }

    public string Name => "search";

    /// <summary>Predicted latency and graph of the uniform width factor (in thousandths) at a channel multiple.</summary>
    (double Ms, Graph Graph) Evaluate(int permille, int multiple)
    {
        if (cache.TryGetValue((permille, multiple), out var hit)) return hit;
        var a = transfer.Analysis;
        var widths = ChannelSelection.UniformWidths(a, permille / 1000.0, multiple);
        var (keep, _) = ChannelSelection.ToWidths(a, widths, transfer.Importance);
        var (graph, weights) = ChannelPruner.Apply(a, keep, shapesOnly: true);
        var result = (predictor.Predict(graph, weights).LatencyMs, graph);
        cache[(permille, multiple)] = result;
        return result;
    }

    /// <summary>The smallest architecture this generator can produce, with its predicted latency.</summary>
    public (double PredictedMs, string Text) Smallest()
    {
        var (ms, graph) = multiples.Select(m => Evaluate(0, m)).MinBy(r => r.Ms);
        return (ms, LamdaTextWriter.Write(graph));
    }

    public string Generate(GenerationRequest request)
    {
        (double Ms, Graph Graph)? best = null;
        foreach (var multiple in multiples)
        {
            int lo = 0, hi = 1000;
            if (Evaluate(lo, multiple).Ms > request.AimPredictedMs) continue;
            if (Evaluate(hi, multiple).Ms <= request.AimPredictedMs) lo = hi;
            while (hi - lo > 2)
            {
                int mid = (lo + hi) / 2;
                if (Evaluate(mid, multiple).Ms <= request.AimPredictedMs) lo = mid; else hi = mid;
            }
            var candidate = Evaluate(lo, multiple);
            // Coarser multiples come first and win ties: aligned widths run on the fast path.
            if (best == null || candidate.Ms > best.Value.Ms * 1.01) best = candidate;
        }
        var chosen = best ?? multiples.Select(m => Evaluate(0, m)).MinBy(r => r.Ms);
        return LamdaTextWriter.Write(chosen.Graph);
    }
}

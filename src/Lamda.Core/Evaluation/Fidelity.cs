using Lamda.Graphs;
using Lamda.Runtime;

namespace Lamda.Evaluation;

/// <summary>How an adapted model's output is compared with the base model's.</summary>
public enum FidelityKind
{
    /// <summary>[N, K] classes: share of inputs with the same top-1 class.</summary>
    TopOne,
    /// <summary>[N, T, K] sequences: share of positions with the same argmax.</summary>
    SequenceArgmax,
    /// <summary>A probability map (Sigmoid output): IoU of the masks above a threshold, over all validation inputs.</summary>
    MaskIoU,
    /// <summary>Any other dense output: 1 - ||a - b|| / ||b||, floored at 0.</summary>
    RelativeL2,
}

/// <summary>Agreement of one output with the base model, in [0, 1] (1 = the same).</summary>
public sealed record FidelityResult(string Output, FidelityKind Kind, double Agreement);

/// <summary>
/// Fidelity for any model: how well an adapted model agrees with its base on validation inputs, chosen from each
/// output's shape and producer. Needs no labels, so it applies to detectors and sequence models alike.
/// </summary>
public static class Fidelity
{
    /// <summary>
    /// How agreement is scored for <paramref name="output"/> of shape <paramref name="shape"/>: chosen from its shape and the operator
    /// producing it.
    /// </summary>
    public static FidelityKind KindOf(Graph graph, GraphValue output, long[] shape)
    {
        var producer = graph.Producers().GetValueOrDefault(output.Edge)?.Op;
        if (producer == "Sigmoid" && shape.Length >= 3) return FidelityKind.MaskIoU;
        if (shape.Length == 2 && shape[1] > 1) return FidelityKind.TopOne;
        if (shape.Length == 3 && shape[2] > 1) return FidelityKind.SequenceArgmax;
        return FidelityKind.RelativeL2;
    }

    /// <summary>Runs both models on <paramref name="inputs"/> (the first input of each) in batches and compares every output.</summary>
    public static List<FidelityResult> Measure(byte[] baseModel, byte[] adapted, Graph graph, TensorData inputs,
        double maskThreshold = 0.3, int batch = 16)
    {
        using var reference = new ModelRunner(baseModel, displayName: "base model");
        using var candidate = new ModelRunner(adapted, displayName: "adapted model");
        batch = (int)(reference.FixedBatch ?? batch);
        var tallies = graph.Outputs.Select(_ => new Tally()).ToArray();
        var kinds = new FidelityKind?[graph.Outputs.Count];
        long n = inputs.Shape[0];
        for (long start = 0; start < n; start += batch)
        {
            var rows = inputs.Rows(start, Math.Min(batch, n - start));
            var a = reference.Run(new Dictionary<string, TensorData> { [reference.InputNames[0]] = rows });
            var b = candidate.Run(new Dictionary<string, TensorData> { [candidate.InputNames[0]] = rows });
            for (int i = 0; i < graph.Outputs.Count; i++)
            {
                var o = graph.Outputs[i];
                var expected = a[o.Name];
                kinds[i] ??= KindOf(graph, o, expected.Shape);
                tallies[i].Add(kinds[i]!.Value, expected, b[o.Name], maskThreshold);
            }
        }
        return graph.Outputs.Select((o, i) => new FidelityResult(o.Name, kinds[i]!.Value, tallies[i].Agreement(kinds[i]!.Value))).ToList();
    }

    /// <summary>Running sums across batches, so the measure is over the whole validation set, not a mean of batch means.</summary>
    sealed class Tally
    {
        double agree, total, errorSq, referenceSq;

        public void Add(FidelityKind kind, TensorData expected, TensorData actual, double threshold)
        {
            var e = (float[])expected.Values;
            var a = (float[])actual.Values;
            switch (kind)
            {
                case FidelityKind.TopOne or FidelityKind.SequenceArgmax:
                    int classes = (int)expected.Shape[^1];
                    for (int row = 0; row < e.Length / classes; row++, total++)
                        if (ArgMax(e, row, classes) == ArgMax(a, row, classes)) agree++;
                    break;
                case FidelityKind.MaskIoU:
                    for (int i = 0; i < e.Length; i++)
                    {
                        bool x = e[i] > threshold, y = a[i] > threshold;
                        if (x && y) agree++;
                        if (x || y) total++;
                    }
                    break;
                default:
                    for (int i = 0; i < e.Length; i++)
                    {
                        errorSq += (a[i] - (double)e[i]) * (a[i] - e[i]);
                        referenceSq += (double)e[i] * e[i];
                    }
                    break;
            }
        }

        public double Agreement(FidelityKind kind) => kind switch
        {
            FidelityKind.RelativeL2 => referenceSq == 0 ? (errorSq == 0 ? 1 : 0) : Math.Max(0, 1 - Math.Sqrt(errorSq / referenceSq)),
            _ => total == 0 ? 1 : agree / total,
        };

        static int ArgMax(float[] v, int row, int classes)
        {
            int best = 0;
            for (int k = 1; k < classes; k++) if (v[row * classes + k] > v[row * classes + best]) best = k;
            return best;
        }
    }
}

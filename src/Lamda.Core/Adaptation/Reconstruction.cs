using Lamda.Graphs;
using Lamda.Onnx;
using Lamda.Operators;
using Lamda.Runtime;

namespace Lamda.Adaptation;

/// <summary>
/// Recovers accuracy after channel pruning without retraining, from calibration inputs: every convolution
/// (group 1) and Gemm whose input channels were pruned gets new weights and bias by ridge least squares, so
/// that on the calibration set its output, computed from the pruned model's features, matches the base
/// model's output of the same layer (for the channels it kept). Layers are solved in order, each on the
/// features of the already reconstructed model, so errors upstream are compensated (as in ThiNet/CP).
/// Targets are pre-normalization outputs, so a following BatchNormalization stays valid.
/// </summary>
internal static class Reconstruction
{
    /// <summary>Returns a weight store with the reconstructed layers; the inputs are not modified.</summary>
    public static WeightStore Apply(Graph baseGraph, WeightStore baseWeights, Graph pruned, WeightStore prunedWeights,
        IReadOnlyDictionary<string, int[]> keptOutputs, TensorData calibration, int maxRows = 12000, int seed = 0)
    {
        var weights = prunedWeights.Copy();
        var baseNodes = baseGraph.Nodes.ToDictionary(n => n.Id);
        var layers = pruned.Nodes.Where(n => baseNodes.TryGetValue(n.Id, out var b) && n.InChannels < b.InChannels && n.Inputs.Count > 1
            && n.Inputs[1] is WeightOperand && OperatorRegistry.Get(n.Op).CanRefit(n) && Columns(n) <= MaxColumns
            && (keptOutputs.ContainsKey(n.Id) || n.OutChannels == b.OutChannels)).ToList();
        if (layers.Count == 0) return weights;
        calibration = Affordable(calibration);

        // Targets one layer at a time too: all of them at once held a gigabyte for the recognizer.
        var targets = new LayerFeatures(baseGraph, calibration);
        var rng = new Random(seed);
        var features = new LayerFeatures(pruned, calibration);
        foreach (var layer in layers)
        {
            var input = (EdgeOperand)layer.Inputs[0];
            var x = features.Get(weights, input.Key);
            var target = targets.Get(baseWeights, baseNodes[layer.Id].Output);
            var kept = keptOutputs.GetValueOrDefault(layer.Id) ?? Enumerable.Range(0, (int)target.Shape[1]).ToArray();
            var (w, b) = Solve(layer, x, target, kept, maxRows, rng);
            var wName = ((WeightOperand)layer.Inputs[1]).Name;
            weights.Add(wName, w.ToProto(wName));
            if (layer.Inputs.Count > 2 && layer.Inputs[2] is WeightOperand bias) weights.Add(bias.Name, b.ToProto(bias.Name));
            features.Changed(layer);
        }
        return weights;
    }

    /// <summary>Images used to re-estimate BatchNorm statistics: enough for per-channel moments, cheap per layer.</summary>
    public const int BatchNormImages = 256;

    /// <summary>
    /// The widest least-squares system solved (receptive field plus bias). Its cost grows with the square of the columns
    /// (A^T A over 12,000 rows) and the cube (Cholesky): ppocr_rec's neck has 3x3 convolutions over 304 and 688 pruned
    /// channels (2,737 and 6,193 columns), minutes each on one core. Wider layers keep their transferred weights; the
    /// fine-tuning that follows trains them.
    /// </summary>
    public const int MaxColumns = 2304;

    /// <summary>
    /// Input values a reconstruction runs the model on (64 lines of 3x48x320): it ran the model once per layer before
    /// <see cref="LayerFeatures"/>, so a large input with many calibration images made it the longest part of an iteration.
    /// </summary>
    public const long MaxInputValues = 64 * 3 * 48 * 320;

    /// <summary>
    /// The calibration images the least-squares pass runs on: all of small inputs, at least <see cref="BatchNormImages"/> of
    /// large ones. At least 16 (the first bound) started ppocr_cls's fine-tuning from 106 lines and its adapted model read
    /// 83-89% of lines-val; from 256 it read 93.3% (one run each at 60%; 97.3% before the bound, another architecture).
    /// </summary>
    static TensorData Affordable(TensorData calibration)
    {
        long perImage = calibration.Count / Math.Max(1, calibration.Shape[0]);
        long images = Math.Clamp(MaxInputValues / Math.Max(1, perImage), BatchNormImages, Math.Max(BatchNormImages, calibration.Shape[0]));
        return images < calibration.Shape[0] ? calibration.Rows(0, images) : calibration;
    }

    static long Columns(Node layer) => layer.Op == "Conv" && layer.InChannels is { } c
        ? c * (layer.GetInts("kernel_shape") ?? [1, 1]).Aggregate(1L, (a, k) => a * k) + 1
        : (layer.InChannels ?? 0) + 1;

    /// <summary>
    /// Re-estimates the statistics of every explicit BatchNormalization (mean and variance inputs) on the calibration
    /// inputs, as the adapted model computes its features, layer by layer in graph order so each sees the statistics
    /// already fixed before it (what a training-mode forward pass does; "adaptive BN" of EagleEye). Pruning and
    /// reconstruction shift the distributions a BatchNorm normalizes; its learned scale and bias are kept.
    /// Models whose exporter folded BatchNorm into convolutions have none, and are returned unchanged.
    /// </summary>
    public static WeightStore RecalibrateBatchNorm(Graph graph, WeightStore weights, TensorData calibration)
    {
        var norms = graph.Nodes.Where(n => n.Op == "BatchNormalization" && n.Inputs.Count == 5 && n.Inputs[0] is EdgeOperand
            && n.Inputs[3] is WeightOperand && n.Inputs[4] is WeightOperand).ToList();
        if (norms.Count == 0) return weights;
        var result = weights.Copy();
        // All of BatchNormImages, not the least-squares pass's affordable share: ppocr_cls's statistics from 106 lines
        // instead of 256 started fine-tuning lower and ended at 92.7% on lines-val instead of 95.0% (bench-distill, width 0.6).
        var images = calibration.Shape[0] <= BatchNormImages ? calibration : calibration.Rows(0, BatchNormImages);
        var features = new LayerFeatures(graph, images);
        foreach (var bn in norms)
        {
            var input = (EdgeOperand)bn.Inputs[0];
            var (mean, variance) = ChannelMoments(features.Get(result, input.Key));
            foreach (var (operand, values) in new[] { (bn.Inputs[3], mean), (bn.Inputs[4], variance) })
            {
                var name = ((WeightOperand)operand).Name;
                result.Add(name, new FloatTensor([values.Length], values).ToProto(name));
            }
            features.Changed(bn);
        }
        return result;
    }

    /// <summary>Per-channel mean and (population) variance of an NC... tensor, accumulated in double.</summary>
    public static (float[] Mean, float[] Variance) ChannelMoments(TensorData t)
    {
        var v = (float[])t.Values;
        long n = t.Shape[0], c = t.Shape[1], per = t.Count / (n * c);
        var mean = new float[c];
        var variance = new float[c];
        for (long ch = 0; ch < c; ch++)
        {
            double sum = 0, squares = 0;
            for (long i = 0; i < n; i++)
            {
                var span = v.AsSpan((int)((i * c + ch) * per), (int)per);
                foreach (var x in span) { sum += x; squares += (double)x * x; }
            }
            double count = n * per, m = sum / count;
            mean[ch] = (float)m;
            variance[ch] = (float)Math.Max(0, squares / count - m * m);
        }
        return (mean, variance);
    }

    /// <summary>Runs the graph on the calibration set and returns the requested edges, concatenated over batches.</summary>
    public static Dictionary<string, TensorData> Collect(Graph graph, WeightStore weights, List<string> keys, TensorData calibration)
    {
        var probe = graph.Clone();
        var names = new Dictionary<string, string>();
        foreach (var key in keys.Distinct())
        {
            var existing = probe.Outputs.FirstOrDefault(o => o.Key == key);
            if (existing != null) { names[key] = existing.Name; continue; }
            int dot = key.IndexOf('.');
            names[key] = "lamda_probe_" + key;
            var output = new GraphValue(dot < 0 ? key : key[..dot], names[key], new TensorType(DataTypes.Float, null));
            probe.Outputs.Add(output with { Index = dot < 0 ? 0 : int.Parse(key[(dot + 1)..]) });
        }
        using var runner = new ModelRunner(Adapter.Bytes(OnnxExporter.Export(Upstream(probe, names.Values.ToHashSet()), weights)));
        long n = calibration.Shape[0];
        var parts = keys.Distinct().ToDictionary(k => k, _ => new List<TensorData>());
        // Batches of 50, or what a model with a fixed batch dimension takes.
        long batch = runner.FixedBatch ?? 50;
        for (long start = 0; start < n; start += batch)
        {
            var rows = calibration.Rows(start, Math.Min(batch, n - start));
            var outputs = runner.Run(new Dictionary<string, TensorData> { [runner.InputNames[0]] = rows });
            foreach (var key in parts.Keys) parts[key].Add(outputs[names[key]]);
        }
        return parts.ToDictionary(kv => kv.Key, kv => TensorData.Stack(kv.Value));
    }

    /// <summary>
    /// The graph cut to what computes <paramref name="outputs"/>: an edge's values need only the nodes before it.
    /// </summary>
    static Graph Upstream(Graph probe, HashSet<string> outputs)
    {
        if (probe.Captures.Count > 0) return probe;
        probe.Outputs.RemoveAll(o => !outputs.Contains(o.Name));
        var needed = probe.Outputs.Select(o => o.Edge).ToHashSet(StringComparer.Ordinal);
        for (int i = probe.Nodes.Count - 1; i >= 0; i--)
        {
            var node = probe.Nodes[i];
            if (!needed.Contains(node.Output)) { probe.Nodes.RemoveAt(i); continue; }
            foreach (var e in node.EdgeInputs) needed.Add(e.Edge);
        }
        return probe;
    }

    /// <summary>Ridge least squares for one layer: rows are sampled output positions, columns the receptive field plus a bias.</summary>
    static (FloatTensor W, FloatTensor B) Solve(Node layer, TensorData x, TensorData y, int[] kept, int maxRows, Random rng)
    {
        bool conv = layer.Op == "Conv";
        var xs = (float[])x.Values;
        var ys = (float[])y.Values;
        long n = x.Shape[0], cin = x.Shape[1];
        long ih = conv ? x.Shape[2] : 1, iw = conv ? x.Shape[3] : 1;
        long oh = conv ? y.Shape[2] : 1, ow = conv ? y.Shape[3] : 1, cout = y.Shape[1];
        var k = conv ? layer.GetInts("kernel_shape") ?? [1, 1] : [1L, 1L];
        var s = conv ? layer.GetInts("strides") ?? [1, 1] : [1L, 1L];
        var p = conv ? layer.GetInts("pads") ?? [0, 0, 0, 0] : [0L, 0, 0, 0];
        var d = conv ? layer.GetInts("dilations") ?? [1, 1] : [1L, 1L];
        int cols = (int)(cin * k[0] * k[1]) + 1;
        long positions = n * oh * ow;
        int rows = (int)Math.Min(positions, maxRows);
        // Column-major design matrix (one contiguous array per column) so that A^T A is a set of vectorized
        // dot products, computed in parallel.
        var at = new double[cols][];
        for (int i = 0; i < cols; i++) at[i] = new double[rows];
        var yt = new double[kept.Length][];
        for (int o = 0; o < kept.Length; o++) yt[o] = new double[rows];
        for (int r = 0; r < rows; r++)
        {
            long pos = positions <= maxRows ? r : (long)(rng.NextDouble() * positions);
            long img = pos / (oh * ow), oy = pos / ow % oh, ox = pos % ow;
            int c = 0;
            for (long ch = 0; ch < cin; ch++)
                for (long ky = 0; ky < k[0]; ky++)
                    for (long kx = 0; kx < k[1]; kx++)
                    {
                        long iy = oy * s[0] - p[0] + ky * d[0], ix = ox * s[1] - p[1] + kx * d[1];
                        at[c++][r] = iy < 0 || iy >= ih || ix < 0 || ix >= iw ? 0 : xs[((img * cin + ch) * ih + iy) * iw + ix];
                    }
            at[c][r] = 1;
            for (int o = 0; o < kept.Length; o++) yt[o][r] = ys[((img * cout + kept[o]) * oh + oy) * ow + ox];
        }
        var ata = new double[cols, cols];
        var aty = new double[cols, kept.Length];
        Parallel.For(0, cols, i =>
        {
            for (int j = i; j < cols; j++) ata[i, j] = System.Numerics.Tensors.TensorPrimitives.Dot<double>(at[i], at[j]);
            for (int o = 0; o < kept.Length; o++) aty[i, o] = System.Numerics.Tensors.TensorPrimitives.Dot<double>(at[i], yt[o]);
        });
        double trace = 0;
        for (int i = 0; i < cols; i++) { for (int j = 0; j < i; j++) ata[i, j] = ata[j, i]; trace += ata[i, i]; }
        double ridge = 1e-3 * trace / cols + 1e-9;
        for (int i = 0; i < cols - 1; i++) ata[i, i] += ridge; // the bias column is not regularized
        var solution = Cholesky.Solve(ata, aty);
        var w = new float[kept.Length * (cols - 1)];
        var b = new float[kept.Length];
        for (int o = 0; o < kept.Length; o++)
        {
            for (int i = 0; i < cols - 1; i++) w[o * (cols - 1) + i] = (float)solution[i, o];
            b[o] = (float)solution[cols - 1, o];
        }
        long[] dims = conv ? [kept.Length, cin, k[0], k[1]] : [kept.Length, cin];
        return (new FloatTensor(dims, w), new FloatTensor([kept.Length], b));
    }
}

/// <summary>
/// Solves symmetric positive definite systems by Cholesky factorization. Rows of the factor are kept as arrays of their own so
/// that every inner sum is a vectorized dot product of two contiguous spans, and the right-hand sides are solved in parallel.
/// (It did not shorten the recognizer's reconstructions, 33-43 s before and after: their time was in running the model per layer,
/// which <see cref="LayerFeatures"/> now runs about once over.)
/// </summary>
internal static class Cholesky
{
    public static double[,] Solve(double[,] a, double[,] b)
    {
        int n = a.GetLength(0), m = b.GetLength(1);
        var l = Factor(a);
        // Column i of the factor below its diagonal, for the backward substitution's sums.
        var below = new double[n][];
        for (int i = 0; i < n; i++)
        {
            below[i] = new double[n - 1 - i];
            for (int k = i + 1; k < n; k++) below[i][k - i - 1] = l[k][i];
        }
        var x = new double[n, m];
        Parallel.For(0, m, c =>
        {
            var y = new double[n];
            for (int i = 0; i < n; i++) y[i] = (b[i, c] - Dot(l[i].AsSpan(0, i), y.AsSpan(0, i))) / l[i][i];
            var solution = new double[n];
            for (int i = n - 1; i >= 0; i--) solution[i] = (y[i] - Dot(below[i], solution.AsSpan(i + 1))) / l[i][i];
            for (int i = 0; i < n; i++) x[i, c] = solution[i];
        });
        return x;
    }

    /// <summary>The lower factor L of A = L L^T, row by row (row i holds its i + 1 entries up to the diagonal).</summary>
    static double[][] Factor(double[,] a)
    {
        int n = a.GetLength(0);
        var l = new double[n][];
        for (int i = 0; i < n; i++)
        {
            var row = l[i] = new double[i + 1];
            for (int j = 0; j < i; j++) row[j] = (a[i, j] - Dot(row.AsSpan(0, j), l[j].AsSpan(0, j))) / l[j][j];
            double diagonal = a[i, i] - Dot(row.AsSpan(0, i), row.AsSpan(0, i));
            row[i] = Math.Sqrt(diagonal <= 0 ? 1e-12 : diagonal);
        }
        return l;
    }

    static double Dot(ReadOnlySpan<double> x, ReadOnlySpan<double> y) => System.Numerics.Tensors.TensorPrimitives.Dot(x, y);
}

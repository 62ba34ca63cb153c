using System.Text.Json;
using System.Text.Json.Serialization;

namespace Lamda.Latency;

/// <summary>
/// One regression tree, stored flat so that it serializes into a device profile: node i splits on
/// <c>Feature[i]</c> at <c>Threshold[i]</c> (go to <c>Left[i]</c> when the value is below it, else
/// <c>Right[i]</c>); a node with <c>Feature[i] &lt; 0</c> is a leaf worth <c>Value[i]</c>.
/// </summary>
public sealed record RegressionTree
{
    /// <summary>Per node: the descriptor it splits on (negative for a leaf).</summary>
    public int[] Feature { get; init; } = [];
    /// <summary>Per node: the split threshold (values below it go left).</summary>
    public double[] Threshold { get; init; } = [];
    /// <summary>Per node: the index of its left child.</summary>
    public int[] Left { get; init; } = [];
    /// <summary>Per node: the index of its right child.</summary>
    public int[] Right { get; init; } = [];
    /// <summary>Per node: the value a leaf predicts.</summary>
    public double[] Value { get; init; } = [];

    /// <summary>The value of the leaf that descriptors <paramref name="x"/> fall into.</summary>
    public double Predict(double[] x)
    {
        int i = 0;
        while (Feature[i] >= 0) i = x[Feature[i]] < Threshold[i] ? Left[i] : Right[i];
        return Value[i];
    }

    /// <summary>Whether the arrays describe a tree whose every path ends in a leaf (checked when a profile is read).</summary>
    public bool IsWellFormed(int featureCount)
    {
        int n = Feature.Length;
        if (n == 0 || Threshold.Length != n || Left.Length != n || Right.Length != n || Value.Length != n) return false;
        for (int i = 0; i < n; i++)
        {
            if (Feature[i] < 0) { if (!double.IsFinite(Value[i])) return false; continue; }
            // Children come after their parent, so every walk terminates.
            if (Feature[i] >= featureCount || !double.IsFinite(Threshold[i]) || Left[i] <= i || Right[i] <= i || Left[i] >= n
                || Right[i] >= n) return false;
        }
        return true;
    }
}

/// <summary>
/// Gradient-boosted regression trees (squared loss, shrinkage, row subsampling), as nn-Meter uses tree
/// ensembles for kernel latency: they capture the steps and cache cliffs that a linear cost model over MACs and
/// memory traffic cannot (a depthwise layer whose planes stop fitting in cache, a narrow pointwise layer that
/// wastes most of a tile). Small on purpose: a few hundred samples per kernel class, a few hundred trees.
/// </summary>
public sealed record BoostedTrees
{
    /// <summary>Shrinkage applied to every tree's prediction.</summary>
    public double LearningRate { get; init; }
    /// <summary>The starting prediction (the mean target of the fit).</summary>
    public double Bias { get; init; }
    /// <summary>The trees, in the order they were fitted.</summary>
    [JsonConverter(typeof(OneLinePerTree))]
    public RegressionTree[] Trees { get; init; } = [];

    /// <summary>The bias plus the shrunk sum of every tree's prediction for descriptors <paramref name="x"/>.</summary>
    public double Predict(double[] x)
    {
        double y = Bias;
        foreach (var t in Trees) y += LearningRate * t.Predict(x);
        return y;
    }

    internal sealed record Options
    {
        public int Rounds { get; init; } = 250;
        public int Depth { get; init; } = 4;
        public int MinLeaf { get; init; } = 6;
        public double LearningRate { get; init; } = 0.1;
        public double Subsample { get; init; } = 0.8;
        public int Seed { get; init; } = 1;
    }

    internal static BoostedTrees Fit(double[][] x, double[] y, Options? options = null)
    {
        options ??= new Options();
        int n = x.Length;
        double bias = y.Average();
        var residual = y.Select(v => v - bias).ToArray();
        var rng = new Random(options.Seed);
        var trees = new List<RegressionTree>(options.Rounds);
        for (int round = 0; round < options.Rounds; round++)
        {
            var rows = Enumerable.Range(0, n).Where(_ => rng.NextDouble() < options.Subsample).ToArray();
            if (rows.Length < 2 * options.MinLeaf) continue;
            var tree = Rounded(new TreeBuilder(x, residual, options).Build(rows));
            trees.Add(tree);
            for (int i = 0; i < n; i++) residual[i] -= options.LearningRate * tree.Predict(x[i]);
        }
        return new BoostedTrees { LearningRate = options.LearningRate, Bias = bias, Trees = [.. trees] };
    }

    /// <summary>
    /// How many rounds to fit: the count at which trees fitted without each fold of <paramref name="groups"/> predict that
    /// fold best (the squared error summed over every held-out sample; the fewer rounds on a tie). Samples of one group go
    /// into one fold together: a calibration network repeats a layer several times and the same shapes' timings move
    /// together, so held-out samples of a network the trees saw would reward learning its noise. 250 rounds fitted the 88
    /// plain depthwise layers of a quick calibration to 0.4% while their linear model alone (10.6%) predicted the held-out
    /// families' plain depthwise layers better (10% mean error against 16%; twenty-fifth session).
    /// </summary>
    /// <param name="x">the descriptors of each sample</param>
    /// <param name="y">what the trees are to fit</param>
    /// <param name="groups">the group of each sample (its calibration network)</param>
    /// <param name="options">the options every fit uses; its rounds are the most that are tried</param>
    /// <param name="folds">into how many folds the groups are dealt</param>
    internal static int CrossValidatedRounds(double[][] x, double[] y, int[] groups, Options options, int folds = 5)
    {
        var rng = new Random(options.Seed);
        var fold = groups.Distinct().Order().OrderBy(_ => rng.Next()).Select((g, i) => (g, i % folds)).ToDictionary();
        var error = new double[options.Rounds + 1];
        for (int f = 0; f < folds; f++)
        {
            var train = Enumerable.Range(0, x.Length).Where(i => fold[groups[i]] != f).ToArray();
            var test = Enumerable.Range(0, x.Length).Where(i => fold[groups[i]] == f).ToArray();
            if (test.Length == 0 || train.Length < 2 * options.MinLeaf) continue;
            var model = Fit(train.Select(i => x[i]).ToArray(), train.Select(i => y[i]).ToArray(), options);
            var predicted = test.Select(_ => model.Bias).ToArray();
            for (int round = 0; round <= options.Rounds; round++)
            {
                // A fit that skipped rounds (too few rows drawn) has fewer trees: its later rounds change nothing.
                if (round > 0 && round <= model.Trees.Length)
                    for (int j = 0; j < test.Length; j++) predicted[j] += model.LearningRate * model.Trees[round - 1].Predict(x[test[j]]);
                for (int j = 0; j < test.Length; j++) error[round] += (y[test[j]] - predicted[j]) * (y[test[j]] - predicted[j]);
            }
        }
        int best = 0;
        for (int round = 1; round <= options.Rounds; round++) if (error[round] < error[best]) best = round;
        return best;
    }

    /// <summary>
    /// Thresholds and leaf values to 6 significant digits, far below the timing noise, so that a profile stays a
    /// file of a few hundred kilobytes; the residuals of later rounds are computed from the rounded tree.
    /// </summary>
    static RegressionTree Rounded(RegressionTree t) => t with { Threshold = t.Threshold.Select(Round6).ToArray(),
        Value = t.Value.Select(Round6).ToArray() };

    static double Round6(double v) => v == 0 || !double.IsFinite(v) ? v
        : double.Parse(v.ToString("G6", System.Globalization.CultureInfo.InvariantCulture),
        System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Writes each tree on one line of the (indented) profile: thousands of nodes stay readable and small.</summary>
    sealed class OneLinePerTree : JsonConverter<RegressionTree[]>
    {
        static readonly JsonSerializerOptions Compact = new() { PropertyNamingPolicy = JsonNamingPolicy.CamelCase };

        public override RegressionTree[]? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
            JsonSerializer.Deserialize<RegressionTree[]>(ref reader, Compact);

        public override void Write(Utf8JsonWriter writer, RegressionTree[] value, JsonSerializerOptions options)
        {
            writer.WriteStartArray();
            // Whitespace before a raw value is valid JSON: it puts each tree on its own line.
            string indent = options.WriteIndented ? "\n" + new string(' ', 2 * writer.CurrentDepth) : "";
            foreach (var tree in value) writer.WriteRawValue(indent + JsonSerializer.Serialize(tree, Compact));
            writer.WriteEndArray();
        }
    }

    sealed class TreeBuilder(double[][] x, double[] target, Options options)
    {
        readonly List<int> feature = [], left = [], right = [];
        readonly List<double> threshold = [], value = [];

        public RegressionTree Build(int[] rows)
        {
            Grow(rows, 0);
            return new RegressionTree { Feature = [.. feature], Threshold = [.. threshold], Left = [.. left], Right = [.. right],
                Value = [.. value] };
        }

        int Grow(int[] rows, int depth)
        {
            int node = feature.Count;
            feature.Add(-1); threshold.Add(0); left.Add(0); right.Add(0);
            value.Add(rows.Average(r => target[r]));
            if (depth >= options.Depth || rows.Length < 2 * options.MinLeaf) return node;
            var (f, t) = BestSplit(rows);
            if (f < 0) return node;
            var below = rows.Where(r => x[r][f] < t).ToArray();
            var above = rows.Where(r => x[r][f] >= t).ToArray();
            feature[node] = f;
            threshold[node] = t;
            left[node] = Grow(below, depth + 1);
            right[node] = Grow(above, depth + 1);
            return node;
        }

        /// <summary>The split that most reduces the squared error, with at least MinLeaf rows on each side.</summary>
        (int Feature, double Threshold) BestSplit(int[] rows)
        {
            int n = rows.Length, best = -1;
            double bestGain = 1e-12, bestThreshold = 0;
            double total = rows.Sum(r => target[r]);
            var order = new int[n];
            for (int f = 0; f < x[rows[0]].Length; f++)
            {
                rows.CopyTo(order, 0);
                Array.Sort(order, (a, c) => x[a][f].CompareTo(x[c][f]));
                double sumLeft = 0;
                for (int i = 0; i < n - 1; i++)
                {
                    sumLeft += target[order[i]];
                    int nl = i + 1, nr = n - nl;
                    if (nl < options.MinLeaf || nr < options.MinLeaf) continue;
                    double a = x[order[i]][f], c = x[order[i + 1]][f];
                    if (a == c) continue;
                    double sumRight = total - sumLeft;
                    // Reduction of the squared error relative to one leaf: sl^2/nl + sr^2/nr - total^2/n.
                    double gain = sumLeft * sumLeft / nl + sumRight * sumRight / nr - total * total / n;
                    if (gain > bestGain)
                    {
                        // The midpoint of two adjacent doubles can round onto the lower one; then split at the upper.
                        double mid = a + (c - a) / 2;
                        (bestGain, best, bestThreshold) = (gain, f, mid > a ? mid : c);
                    }
                }
            }
            return (best, bestThreshold);
        }
    }
}

using Lamda.Graphs;

namespace Lamda.Latency;

/// <summary>
/// Random whole networks in the styles of the CNN families Lamda adapts (inverted-residual mobile networks,
/// residual networks, fire modules, inception blocks, channel-shuffle units), at random width multipliers with
/// per-layer jitter and random channel rounding, so that aligned and misaligned widths, every resolution from
/// 224 pixels down, and the fusions and layout changes ONNX Runtime makes all occur in context. Calibration
/// profiles them layer by layer (<see cref="KernelProfiler"/>). They are generated from a seed, never taken
/// from the models being predicted: the benchmark stays an honest test of generalization.
/// </summary>
public static class CalibrationNetworks
{
    public const int Families = 5;

    public static List<GraphBuilder> Build(int count, int seed)
    {
        var nets = new List<GraphBuilder>(count);
        var rng = new Random(seed * 7919 + 17);
        for (int i = 0; i < count; i++)
            nets.Add(new Generator(new Random(rng.Next()), i % Families).Build());
        return nets;
    }

    sealed class Generator(Random rng, int family)
    {
        readonly GraphBuilder b = new(seed: rng.Next());
        // Width multiplier of the whole network and the multiple its widths are rounded to (1 = exact scaling).
        readonly double width = 0.15 + 0.95 * rng.NextDouble();
        readonly int multiple = new[] { 1, 1, 2, 4, 8, 16, 16 }[rng.Next(7)];

        /// <summary>A layer width: the family's nominal width scaled, jittered per layer, rounded.</summary>
        long W(double nominal, bool jitter = true)
        {
            double c = nominal * width * (jitter ? 0.8 + 0.4 * rng.NextDouble() : 1);
            return Math.Max(4, (long)Math.Round(c / multiple) * multiple);
        }

        // ReLU6 (Clip) as in MobileNets, or ReLU: the runtime fuses both into convolutions, at different costs.
        readonly bool clip = rng.Next(family == 0 ? 2 : 5) == 0;

        int Pick(params int[] xs) => xs[rng.Next(xs.Length)];

        EdgeOperand Act(EdgeOperand x) => clip
            ? b.Op("Clip", [x, new LiteralOperand(new TensorLiteral(DataTypes.Float, [], null, [0.0])), new LiteralOperand(new TensorLiteral(DataTypes.Float, [], null, [6.0]))])
            : b.Relu(x);

        public GraphBuilder Build()
        {
            long res = new long[] { 224, 224, 224, 192, 160, 128 }[rng.Next(6)];
            var x = b.Input("input", 1, 3, res, res);
            var y = family switch
            {
                0 => Mobile(x),
                1 => Residual(x),
                2 => Fire(x),
                3 => Inception(x),
                _ => Shuffle(x),
            };
            y = b.Flatten(b.GlobalAveragePool(y));
            b.Output(b.Gemm(y, Pick(10, 100, 1000)), "output");
            return b;
        }

        EdgeOperand Mobile(EdgeOperand x)
        {
            var y = Act(b.Conv(x, W(32), stride: 2));
            y = b.Conv(Act(b.Conv(y, b.Channels(y), group: b.Channels(y))), W(16, jitter: false), kernel: 1);
            (int T, double C, int N, int S)[] stages = [(6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)];
            foreach (var (t, c, n, s) in stages)
            {
                long outC = W(c, jitter: false);
                int k = Pick(3, 3, 5), expansion = Pick(3, 6, 6, t);
                for (int r = 0, blocks = rng.Next(1, n + 1); r < blocks; r++)
                {
                    long hidden = W(b.Channels(y) / width * expansion);
                    var e = Act(b.Conv(y, hidden, kernel: 1));
                    e = Act(b.Conv(e, hidden, kernel: k, stride: r == 0 ? s : 1, group: hidden));
                    var p = b.Conv(e, outC, kernel: 1);
                    y = r > 0 || (s == 1 && b.Channels(y) == outC) ? b.Add(p, y) : p;
                }
            }
            return Act(b.Conv(y, W(1280, jitter: false), kernel: 1));
        }

        EdgeOperand Residual(EdgeOperand x)
        {
            var y = b.MaxPool(Act(b.Conv(x, W(64, jitter: false), kernel: 7, stride: 2)), 3, 2);
            foreach (var (c, s) in new[] { (64.0, 1), (128.0, 2), (256.0, 2), (512.0, 2) })
            {
                long outC = W(c, jitter: false);
                for (int r = 0, blocks = rng.Next(1, 3); r < blocks; r++)
                {
                    int stride = r == 0 ? s : 1;
                    var shortcut = stride == 1 && b.Channels(y) == outC ? y : b.Conv(y, outC, kernel: 1, stride: stride);
                    var h = Act(b.Conv(y, W(c), stride: stride));
                    y = Act(b.Add(b.Conv(h, outC), shortcut));
                }
            }
            return y;
        }

        EdgeOperand Fire(EdgeOperand x)
        {
            var y = b.MaxPool(Act(b.Conv(x, W(64), stride: 2)), 3, 2);
            double[] squeezes = [16, 16, 32, 32, 48, 48, 64, 64];
            for (int i = 0; i < squeezes.Length; i++)
            {
                if (i is 2 or 4) y = b.MaxPool(y, 3, 2);
                var s = Act(b.Conv(y, W(squeezes[i]), kernel: 1));
                y = b.Concat(Act(b.Conv(s, W(squeezes[i] * 4), kernel: 1)), Act(b.Conv(s, W(squeezes[i] * 4))));
            }
            return Act(b.Conv(y, Pick(10, 100, 1000), kernel: 1));
        }

        EdgeOperand Inception(EdgeOperand x)
        {
            var y = b.MaxPool(Act(b.Conv(x, W(64), kernel: 7, stride: 2)), 3, 2);
            y = b.MaxPool(Act(b.Conv(Act(b.Conv(y, W(64), kernel: 1)), W(192))), 3, 2);
            double[] scales = [1, 1.5, 2, 2, 2.5, 2.5, 3, 4];
            for (int i = 0; i < scales.Length; i++)
            {
                if (i is 2 or 6) y = b.MaxPool(y, 3, 2);
                double s = scales[i];
                var one = Act(b.Conv(y, W(64 * s), kernel: 1));
                var three = Act(b.Conv(Act(b.Conv(y, W(96 * s), kernel: 1)), W(128 * s)));
                var five = Act(b.Conv(Act(b.Conv(y, W(16 * s), kernel: 1)), W(32 * s)));
                var pool = Act(b.Conv(b.MaxPool(y, 3, 1), W(32 * s), kernel: 1));
                y = b.Concat(one, three, five, pool);
            }
            return y;
        }

        EdgeOperand Shuffle(EdgeOperand x)
        {
            var y = b.MaxPool(Act(b.Conv(x, W(24, jitter: false), stride: 2)), 3, 2);
            foreach (var (c, n) in new[] { (48.0, 4), (96.0, 8), (192.0, 4) })
            {
                long half = Math.Max(2, W(c, jitter: false) / 2);
                // Downsampling unit: both branches see the whole input.
                var left = Act(b.Conv(b.Conv(y, b.Channels(y), stride: 2, group: b.Channels(y)), half, kernel: 1));
                var right = Act(b.Conv(y, half, kernel: 1));
                right = Act(b.Conv(b.Conv(right, half, stride: 2, group: half), half, kernel: 1));
                y = ChannelShuffle(b.Concat(left, right));
                for (int r = 1, blocks = rng.Next(1, n); r < blocks; r++)
                {
                    var keep = Slice(y, 0, half);
                    var branch = Act(b.Conv(Slice(y, half, 2 * half), half, kernel: 1));
                    branch = Act(b.Conv(b.Conv(branch, half, group: half), half, kernel: 1));
                    y = ChannelShuffle(b.Concat(keep, branch));
                }
            }
            return Act(b.Conv(y, W(1024, jitter: false), kernel: 1));
        }

        EdgeOperand Slice(EdgeOperand x, long from, long to) =>
            b.Op("Slice", [x, new LiteralOperand(TensorLiteral.Int64([from])), new LiteralOperand(TensorLiteral.Int64([to])), new LiteralOperand(TensorLiteral.Int64([1]))]);

        EdgeOperand ChannelShuffle(EdgeOperand x)
        {
            var dims = b.Shape(x).Dims!;
            long c = dims[1].Value, h = dims[2].Value, w = dims[3].Value;
            var r = b.Op("Reshape", [x, new LiteralOperand(TensorLiteral.Int64([1, 2, c / 2, h, w]))]);
            var t = b.Op("Transpose", [r], ("perm", AttributeValue.FromInts([0, 2, 1, 3, 4])));
            return b.Op("Reshape", [t, new LiteralOperand(TensorLiteral.Int64([1, c, h, w]))]);
        }
    }
}

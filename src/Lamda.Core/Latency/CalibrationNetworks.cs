using Lamda.Graphs;

namespace Lamda.Latency;

/// <summary>
/// Random whole networks in the styles of the CNN families Lamda adapts (inverted-residual mobile networks,
/// residual networks, fire modules, inception blocks, channel-shuffle units, MobileNetV3-style blocks with
/// squeeze-excite and hard-swish, EfficientNet-style blocks with SiLU, grouped-convolution residual networks
/// (RegNet, ResNeXt), segmentation decoders with explicit BatchNormalization, Resize and ConvTranspose, small
/// attention networks (MatMul, Softmax), and tiny CNNs of a few kernels, where the runtime's per-node cost
/// dominates), at random width multipliers with per-layer jitter and random channel rounding, so that aligned and
/// misaligned widths, every resolution from 224 pixels down, and the fusions and layout changes ONNX Runtime makes
/// all occur in context. Calibration profiles them layer by layer (<see cref="KernelProfiler"/>). They are
/// generated from a seed, never taken from the models being predicted: the benchmark stays an honest test of
/// generalization.
/// </summary>
internal static class CalibrationNetworks
{
    // Grouped convolutions come twice (families 6 and 10): they are two models (in and out of the blocked layout). So do
    // decoders (7 and 12): their Resizes are four models (bilinear or nearest, blocked or plain), each with few samples.
    public const int Families = 13;

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
        // Opset 14 for the family that uses HardSwish (as torchvision exports MobileNetV3).
        readonly GraphBuilder b = new(seed: rng.Next(), opset: family == 5 ? 14 : 13);
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
            ? b.Op("Clip",
                [x, new LiteralOperand(new TensorLiteral(DataTypes.Float, [], null, [0.0])),
                new LiteralOperand(new TensorLiteral(DataTypes.Float, [], null, [6.0]))])
            : b.Relu(x);

        public GraphBuilder Build()
        {
            var (h, w) = InputSize();
            var x = b.Input("input", 1, family == 9 ? Pick(1, 3) : 3, h, w);
            var y = family switch
            {
                0 => Mobile(x),
                1 => Residual(x),
                2 => Fire(x),
                3 => Inception(x),
                4 => Shuffle(x),
                5 => MobileV3(x),
                6 or 10 => Grouped(x),
                11 => Efficient(x),
                7 or 12 => Decoder(x),
                8 => Attention(x),
                _ => Tiny(x),
            };
            if (family is 7 or 12) { b.Output(y, "output"); return b; } // a segmentation map, not a classifier
            if (family != 8) y = b.Flatten(b.GlobalAveragePool(y));
            b.Output(b.Gemm(y, Pick(10, 100, 1000)), "output");
            return b;
        }

        /// <summary>
        /// The input's height and width: square images from 224 pixels down, and one network in four a text strip or
        /// another non-square input (48x192 as text classifiers take, 32x320, 64x256, 96x160), where maps end a few
        /// pixels high and a kernel's cost per element is not what it is on square maps of the same size.
        /// </summary>
        (long H, long W) InputSize()
        {
            if (family == 9) { long r = Pick(28, 32, 48); return (r, r); }
            if (rng.Next(4) == 0) return new (long, long)[] { (48, 192), (32, 320), (64, 256), (96, 160), (48, 160) }[rng.Next(5)];
            long res = new long[] { 224, 224, 224, 192, 160, 128 }[rng.Next(6)];
            return (res, res);
        }

        EdgeOperand Mobile(EdgeOperand x)
        {
            var y = Act(b.Conv(x, W(32), stride: 2));
            y = b.Conv(Act(b.Conv(y, b.Channels(y), group: b.Channels(y))), W(16, jitter: false), kernel: 1);
            (int T, double C, int N, int S)[] stages =
                [(6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)];
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

        EdgeOperand Residual(EdgeOperand x) => rng.Next(2) == 0 ? Basic(x) : Bottleneck(x);

        /// <summary>
        /// ResNet-50-style bottlenecks (1x1 down, 3x3, 1x1 up four times wider): the wide pointwise layers with
        /// megabytes of weights each that ResNeXt-sized models have (they were predicted 30% above their time).
        /// </summary>
        EdgeOperand Bottleneck(EdgeOperand x)
        {
            var y = b.MaxPool(b.Relu(b.BatchNorm(b.Conv(x, W(64, jitter: false), kernel: 7, stride: 2))), 3, 2);
            foreach (var (c, s) in new[] { (64.0, 1), (128.0, 2), (256.0, 2), (512.0, 2) })
            {
                long inner = W(c), outC = W(4 * c, jitter: false);
                for (int r = 0, blocks = rng.Next(1, 3); r < blocks; r++)
                {
                    int stride = r == 0 ? s : 1;
                    var shortcut = stride == 1 && b.Channels(y) == outC ? y : b.BatchNorm(b.Conv(y, outC, kernel: 1, stride: stride));
                    var h = b.Relu(b.BatchNorm(b.Conv(y, inner, kernel: 1)));
                    h = b.Relu(b.BatchNorm(b.Conv(h, inner, stride: stride)));
                    y = b.Relu(b.Add(b.BatchNorm(b.Conv(h, outC, kernel: 1)), shortcut));
                }
            }
            return y;
        }

        EdgeOperand Basic(EdgeOperand x)
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

        static Operand Literal(params double[] values) =>
            new LiteralOperand(new TensorLiteral(DataTypes.Float, [values.Length], null, values));

        EdgeOperand HardSigmoid(EdgeOperand x) =>
            b.Op("HardSigmoid", [x], ("alpha", AttributeValue.FromFloat(1f / 6)), ("beta", AttributeValue.FromFloat(0.5f)));

        static Operand Scalar(double value) => new LiteralOperand(new TensorLiteral(DataTypes.Float, [], null, [value]));

        /// <summary>
        /// Hard-swish as torchvision exports it (HardSwish), as older exporters do (x * HardSigmoid(x)), or spelled out
        /// at opset 9 as Paddle's exporter writes it (x * Clip(x + 3, 0, 6) / 6: four elementwise nodes).
        /// </summary>
        EdgeOperand HardSwish(EdgeOperand x) => rng.Next(3) switch
        {
            0 => b.Op("HardSwish", [x]),
            1 => b.Op("Mul", [x, HardSigmoid(x)]),
            _ => b.Op("Div", [b.Op("Mul", [x, b.Op("Clip", [b.Op("Add", [x, Scalar(3)]), Scalar(0), Scalar(6)])]), Scalar(6)]),
        };

        /// <summary>
        /// Squeeze-excite: GlobalAveragePool, a narrow 1x1 convolution, a wide one, a sigmoid gate, and the gate times the input.
        /// </summary>
        EdgeOperand SqueezeExcite(EdgeOperand x, bool hard, long? squeezeTo = null, bool silu = false)
        {
            long c = b.Channels(x), squeeze = squeezeTo ?? Math.Max(8, (c / 4 + 4) / 8 * 8);
            var s = b.Conv(b.GlobalAveragePool(x), squeeze, kernel: 1);
            s = silu ? Silu(s) : b.Relu(s);
            s = b.Conv(s, c, kernel: 1);
            s = hard ? HardSigmoid(s) : b.Op("Sigmoid", [s]);
            return b.Op("Mul", [x, s]);
        }

        EdgeOperand Silu(EdgeOperand e) => b.Op("Mul", [e, b.Op("Sigmoid", [e])]);

        /// <summary>
        /// EfficientNet-B0's MBConv blocks: SiLU after every BatchNorm (a separate pass over the map, where ReLU is fused
        /// into the convolution), a depthwise convolution whose own kernel has no activation, and squeeze-excite with a
        /// SiLU inside, squeezed to a quarter of the block's input. Once one MobileNetV3 network in three, the SiLU maps
        /// of 112x112 and 56x56 were rare in calibration and EfficientNet's were predicted at 70% of their time.
        /// </summary>
        EdgeOperand Efficient(EdgeOperand x)
        {
            var y = Silu(b.BatchNorm(b.Conv(x, W(32, jitter: false), stride: 2)));
            (int Exp, int K, int S, double C, int N)[] stages =
            [
                (1, 3, 1, 16, 1), (6, 3, 2, 24, 2), (6, 5, 2, 40, 2), (6, 3, 2, 80, 3), (6, 5, 1, 112, 3), (6, 5, 2, 192, 4),
                (6, 3, 1, 320, 1),
            ];
            foreach (var (exp, k, s, c, n) in stages)
            {
                long outC = W(c, jitter: false);
                for (int r = 0, blocks = rng.Next(1, n + 1); r < blocks; r++)
                {
                    long cin = b.Channels(y), hidden = exp == 1 ? cin : W(cin / width * exp);
                    var e = exp == 1 ? y : Silu(b.BatchNorm(b.Conv(y, hidden, kernel: 1)));
                    e = Silu(b.BatchNorm(b.Conv(e, hidden, kernel: k, stride: r == 0 ? s : 1, group: hidden)));
                    e = SqueezeExcite(e, hard: false, squeezeTo: Math.Max(4, cin / 4), silu: true);
                    var p = b.BatchNorm(b.Conv(e, outC, kernel: 1));
                    y = r > 0 || (s == 1 && cin == outC) ? b.Add(p, y) : p;
                }
            }
            return Silu(b.BatchNorm(b.Conv(y, W(1280, jitter: false), kernel: 1)));
        }

        EdgeOperand MobileV3(EdgeOperand x)
        {
            var y = HardSwish(b.BatchNorm(b.Conv(x, W(16, jitter: false), stride: 2)));
            (int K, double Exp, double C, bool Se, bool Hs, int S)[] blocks =
            [
                (3, 1, 16, true, false, 2), (3, 4.5, 24, false, false, 2), (3, 3.7, 24, false, false, 1), (5, 4, 40, true, true, 2),
                (5, 6, 40, true, true, 1), (5, 3, 48, true, true, 1), (5, 6, 96, true, true, 2), (5, 6, 96, true, true, 1),
            ];
            bool silu = rng.Next(3) == 0; // EfficientNet's SiLU, x * Sigmoid(x), which ORT fuses into one node
            foreach (var (k, exp, c, se, hs, st) in blocks)
            {
                if (rng.Next(4) == 0 && st == 1) continue; // some networks are shallower
                long cin = b.Channels(y), hidden = W(cin / width * exp), outC = W(c, jitter: false);
                EdgeOperand A(EdgeOperand e) => silu ? Silu(e) : hs ? HardSwish(e) : b.Relu(e);
                var e = exp > 1 ? A(b.BatchNorm(b.Conv(y, hidden, kernel: 1))) : y;
                e = A(b.BatchNorm(b.Conv(e, b.Channels(e), kernel: k, stride: st, group: b.Channels(e))));
                if (se && rng.Next(5) != 0) e = SqueezeExcite(e, hard: rng.Next(3) != 0);
                var p = b.BatchNorm(b.Conv(e, outC, kernel: 1));
                y = st == 1 && cin == outC ? b.Add(p, y) : p;
            }
            return HardSwish(b.BatchNorm(b.Conv(y, W(576, jitter: false), kernel: 1)));
        }

        /// <summary>
        /// RegNet-X / ResNeXt bottlenecks: 1x1, a 3x3 grouped convolution, 1x1, residual. Half the networks fix the group
        /// width (RegNet: 8-64 channels a group), half the number of groups (ResNeXt: 8-32 groups of 2-32 channels), so
        /// that grouped convolutions inside and outside ORT's blocked layout (whole tiles a group or not) both occur
        /// often enough in context to get a model of their own (one factor on the isolated fit missed RegNet by 25%).
        /// </summary>
        EdgeOperand Grouped(EdgeOperand x)
        {
            bool cardinality = rng.Next(2) == 0;
            long groups = Pick(8, 16, 32), groupWidth = Pick(8, 16, 16, 24, 32, 32, 48, 64);
            long Round(double c) => cardinality
                ? groups * Math.Max(2, (long)Math.Round(c / groups))
                : Math.Max(groupWidth, (long)Math.Round(c / groupWidth) * groupWidth);
            long GroupsOf(long c) => cardinality ? groups : c / groupWidth;
            var y = b.Relu(b.BatchNorm(b.Conv(x, W(32, jitter: false), stride: 2)));
            foreach (var (c, depth) in new[] { (32.0, 2), (64.0, 3), (160.0, 4), (400.0, 3) })
            {
                long inner = Round(c * width * (rng.Next(2) == 0 ? 1 : 2)), outC = cardinality ? W(c * 2, jitter: false) : inner;
                for (int r = 0, n = rng.Next(1, depth + 1); r < n; r++)
                {
                    int stride = r == 0 ? 2 : 1;
                    var shortcut = stride == 1 && b.Channels(y) == outC ? y : b.BatchNorm(b.Conv(y, outC, kernel: 1, stride: stride));
                    var h = b.Relu(b.BatchNorm(b.Conv(y, inner, kernel: 1)));
                    h = b.Relu(b.BatchNorm(b.Conv(h, inner, stride: stride, group: GroupsOf(inner))));
                    y = b.Relu(b.Add(b.BatchNorm(b.Conv(h, outC, kernel: 1)), shortcut));
                }
            }
            return y;
        }

        /// <summary>
        /// A segmentation network: a strided encoder, a head with a sigmoid gate from global context (LR-ASPP), then
        /// upsampling by Resize or ConvTranspose, with BatchNormalization after a Concat or an Add (not fusable into a
        /// convolution), back to a class map at a quarter of the input resolution.
        /// </summary>
        EdgeOperand Decoder(EdgeOperand x)
        {
            var y = Act(b.Conv(x, W(32), stride: 2));
            var skips = new List<EdgeOperand>();
            foreach (var c in new double[] { 48, 96, 160 })
            {
                y = Act(b.Conv(Act(b.Conv(y, W(c), stride: 2)), W(c)));
                skips.Add(y);
            }
            var head = Act(b.BatchNorm(b.Conv(y, W(128), kernel: 1)));
            var gate = b.Op("Sigmoid", [b.Conv(b.GlobalAveragePool(y), b.Channels(head), kernel: 1)]);
            y = b.Op("Mul", [head, gate]);
            // Half the decoders end on a width that fills whole tiles, so that the class map's convolution reads a blocked input, as
            // LR-ASPP's does (its last Resize, to 21x256x256, blocked, is predicted about 30% under its time).
            bool aligned = rng.Next(2) == 0;
            for (int i = skips.Count - 2; i >= 0; i--)
            {
                long c = b.Channels(skips[i]);
                y = rng.Next(2) == 0
                    ? b.Op("Resize", [y, EmptyOperand.Instance, Literal(1, 1, 2, 2)],
                        ("mode", AttributeValue.FromString(rng.Next(2) == 0 ? "linear" : "nearest")))
                    : ConvTranspose(y, c);
                y = rng.Next(2) == 0 ? b.Concat(y, skips[i]) : b.Add(b.Conv(y, c, kernel: 1), skips[i]);
                y = b.Relu(b.BatchNorm(y));
                y = Act(b.Conv(y, i == 0 && aligned ? Math.Max(16, W(64) / 16 * 16) : W(64)));
            }
            long classes = Pick(2, 6, 16, 21, 32);
            // LR-ASPP adds class maps of deeper features, upsampled, then upsamples the sum: these Resizes run blocked or
            // plain as the channels they read allow (a plain one costs about twice as much), so each deep branch
            // reads a width that fills whole tiles or one off every input block (18, 26...: a plain convolution), to give
            // both layouts their own fit. The
            // branches come before the class map's convolution, which the first Add is fused into.
            var deeps = new List<EdgeOperand>();
            for (int i = 1; i < skips.Count; i++)
            {
                var deep = Act(b.Conv(skips[i], rng.Next(2) == 0 ? 16 * Pick(2, 3, 4) : Pick(18, 26, 42, 54), kernel: 1));
                deeps.Add(Upsample(b.Conv(deep, classes, kernel: 1), 1 << i));
            }
            y = b.Conv(y, classes, kernel: 1);
            foreach (var deep in deeps) y = b.Add(y, deep);
            // The summed class map back up by 2, 4 or 8 (LR-ASPP: 8), a large map resized and returned; bilinear three times in four,
            // as segmentation heads do.
            return Upsample(y, Pick(2, 4, 4, 8), linear: rng.Next(4) != 0);
        }

        EdgeOperand Upsample(EdgeOperand x, double factor, bool? linear = null) =>
            b.Op("Resize", [x, EmptyOperand.Instance, Literal(1, 1, factor, factor)],
            ("mode", AttributeValue.FromString((linear ?? rng.Next(2) == 0) ? "linear" : "nearest")));

        EdgeOperand ConvTranspose(EdgeOperand x, long outChannels)
        {
            long cin = b.Channels(x), k = Pick(2, 4);
            var w = b.Weight($"ct_w{b.Graph.Nodes.Count}", [cin, outChannels, k, k], Math.Sqrt(3.0 / (cin * k * k)));
            long pad = (k - 2) / 2;
            return b.Op("ConvTranspose", [x, w, b.Weight($"ct_b{b.Graph.Nodes.Count}", [outChannels], 0.05)],
                ("kernel_shape", AttributeValue.FromInts([k, k])), ("pads", AttributeValue.FromInts([pad, pad, pad, pad])),
                ("strides", AttributeValue.FromInts([2, 2])));
        }

        /// <summary>
        /// A small vision transformer: a convolutional stem, patch tokens, attention blocks (MatMul, Softmax), mean pooling.
        /// </summary>
        EdgeOperand Attention(EdgeOperand x)
        {
            var y = Act(b.Conv(Act(b.Conv(x, W(32), stride: 2)), W(64), stride: 2));
            long dim = Math.Max(16, W(96, jitter: false) / 8 * 8), patch = Pick(4, 8);
            y = b.Conv(y, dim, kernel: patch, stride: patch, pad: 0);
            var dims = b.Shape(y).Dims!;
            long tokens = dims[2].Value * dims[3].Value;
            var flat = b.Op("Reshape", [y, new LiteralOperand(TensorLiteral.Int64([1, dim, tokens]))]);
            var t = b.Op("Transpose", [flat], ("perm", AttributeValue.FromInts([0, 2, 1])));
            for (int block = 0, n = rng.Next(1, 4); block < n; block++)
            {
                EdgeOperand Project(EdgeOperand e, long to) =>
                    b.Op("MatMul", [e, b.Weight($"proj{b.Graph.Nodes.Count}", [b.Shape(e).Dims![^1].Value, to], Math.Sqrt(3.0 / dim))]);
                var q = Project(t, dim);
                var k = b.Op("Transpose", [Project(t, dim)], ("perm", AttributeValue.FromInts([0, 2, 1])));
                var v = Project(t, dim);
                var scores = b.Op("Mul", [b.Op("MatMul", [q, k]), Scalar(1 / Math.Sqrt(dim))]);
                var attended = b.Op("MatMul", [b.Op("Softmax", [scores], ("axis", AttributeValue.FromInt(-1))), v]);
                t = b.Add(Project(attended, dim), t);
                var mlp = Project(b.Relu(Project(t, dim * 2)), dim);
                t = b.Add(mlp, t);
            }
            return b.Op("ReduceMean", [t], ("axes", AttributeValue.FromInts([1])), ("keepdims", AttributeValue.FromInt(0)));
        }

        /// <summary>A tiny CNN (digits-sized): two or three narrow convolutions and pools, where per-node costs dominate.</summary>
        EdgeOperand Tiny(EdgeOperand x)
        {
            var y = x;
            for (int i = 0, n = rng.Next(2, 4); i < n; i++)
                y = b.MaxPool(b.Relu(b.Conv(y, Pick(4, 8, 12, 16, 24, 32))), 2, 2);
            return y;
        }

        EdgeOperand Slice(EdgeOperand x, long from, long to) =>
            b.Op("Slice",
                [x, new LiteralOperand(TensorLiteral.Int64([from])), new LiteralOperand(TensorLiteral.Int64([to])),
                new LiteralOperand(TensorLiteral.Int64([1]))]);

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

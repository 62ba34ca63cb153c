using Lamda.Graphs;

namespace Lamda.Latency;

/// <summary>
/// Held-out architectures for the predictor benchmark (issue 14): the torchvision families the predictor missed,
/// built in code with the layer configurations of the torchvision models (channels, kernel sizes, strides,
/// expansions, squeeze-excite widths, groups) and seeded random weights. They are never used by calibration
/// (<see cref="CalibrationNetworks"/> generates its own networks), so predicting them tests generalization.
/// Convolutions are followed by explicit BatchNormalization as in the PyTorch modules; the runtime folds them.
/// </summary>
internal static class HeldOutArchitectures
{
    /// <summary>The names <see cref="Build"/> accepts, in the order <c>lamda bench-models</c> writes them.</summary>
    public static readonly IReadOnlyList<string> Names =
        ["mobilenet_v3_small", "mnasnet1_0", "regnet_x_400mf", "resnext_style", "lraspp_mobilenet_v3_large", "efficientnet_b0"];

    /// <summary>
    /// One architecture by name, at 224x224 (the segmentation network at 256x256), with weights from <paramref name="seed"/>.
    /// </summary>
    public static GraphBuilder Build(string name, int seed = 14)
    {
        var n = new Net(new GraphBuilder(seed, opset: 14));
        return name switch
        {
            "mobilenet_v3_small" => n.MobileNetV3Small(),
            "mnasnet1_0" => n.MnasNet(),
            "regnet_x_400mf" => n.RegNetX400MF(),
            "resnext_style" => n.ResNeXt(),
            "lraspp_mobilenet_v3_large" => n.LrAspp(),
            "efficientnet_b0" => n.EfficientNetB0(),
            _ => throw new LamdaException(ErrorCodes.BadArgument,
                $"unknown held-out architecture '{name}'; known: {string.Join(", ", Names)}."),
        };
    }

    /// <summary>torchvision's <c>_make_divisible</c>: the nearest multiple of 8, never more than 10% below the value.</summary>
    internal static long Divisible(double v, long divisor = 8)
    {
        long n = Math.Max(divisor, (long)(v + divisor / 2.0) / divisor * divisor);
        return n < 0.9 * v ? n + divisor : n;
    }

    sealed class Net(GraphBuilder b)
    {
        enum Act { None, Relu, HardSwish, Silu }

        EdgeOperand Apply(EdgeOperand x, Act act) => act switch
        {
            Act.Relu => b.Relu(x),
            Act.HardSwish => b.Op("HardSwish", [x]),
            Act.Silu => b.Op("Mul", [x, b.Op("Sigmoid", [x])]), // SiLU as torch.onnx exports it before opset 22
            _ => x,
        };

        /// <summary>Conv (no bias, as in torchvision) + BatchNormalization + activation.</summary>
        EdgeOperand Cba(EdgeOperand x, long outC, long k, long s, Act act, long group = 1) =>
            Apply(b.BatchNorm(b.Conv(x, outC, kernel: k, stride: s, group: group, bias: false)), act);

        /// <summary>Squeeze-excite as torchvision's SqueezeExcitation: pool, 1x1 down, activation, 1x1 up, gate, scale.</summary>
        EdgeOperand SqueezeExcite(EdgeOperand x, long squeeze, Act inner, bool hardGate)
        {
            long c = b.Channels(x);
            var s = Apply(b.Conv(b.GlobalAveragePool(x), squeeze, kernel: 1), inner);
            s = b.Conv(s, c, kernel: 1);
            s = hardGate
                ? b.Op("HardSigmoid", [s], ("alpha", AttributeValue.FromFloat(1f / 6)), ("beta", AttributeValue.FromFloat(0.5f)))
                : b.Op("Sigmoid", [s]);
            return b.Op("Mul", [x, s]);
        }

        GraphBuilder Classifier(EdgeOperand y, params long[] hidden)
        {
            y = b.Flatten(b.GlobalAveragePool(y));
            foreach (var h in hidden) y = b.Op("HardSwish", [b.Gemm(y, h)]);
            b.Output(b.Gemm(y, 1000), "logits");
            return b;
        }

        // torchvision mobilenetv3.py: (kernel, expanded, out, SE, hard-swish, stride)
        static readonly (int K, long Exp, long Out, bool Se, bool Hs, int S)[] V3Small =
        [
            (3, 16, 16, true, false, 2), (3, 72, 24, false, false, 2), (3, 88, 24, false, false, 1),
            (5, 96, 40, true, true, 2), (5, 240, 40, true, true, 1), (5, 240, 40, true, true, 1),
            (5, 120, 48, true, true, 1), (5, 144, 48, true, true, 1), (5, 288, 96, true, true, 2),
            (5, 576, 96, true, true, 1), (5, 576, 96, true, true, 1),
        ];

        // The large variant; the segmentation model runs its last stage at stride 16 (dilated in torchvision).
        static readonly (int K, long Exp, long Out, bool Se, bool Hs, int S)[] V3Large =
        [
            (3, 16, 16, false, false, 1), (3, 64, 24, false, false, 2), (3, 72, 24, false, false, 1),
            (5, 72, 40, true, false, 2), (5, 120, 40, true, false, 1), (5, 120, 40, true, false, 1),
            (3, 240, 80, false, true, 2), (3, 200, 80, false, true, 1), (3, 184, 80, false, true, 1),
            (3, 184, 80, false, true, 1), (3, 480, 112, true, true, 1), (3, 672, 112, true, true, 1),
            (5, 672, 160, true, true, 1), (5, 960, 160, true, true, 1), (5, 960, 160, true, true, 1),
        ];

        EdgeOperand V3Block(EdgeOperand y, (int K, long Exp, long Out, bool Se, bool Hs, int S) c)
        {
            var act = c.Hs ? Act.HardSwish : Act.Relu;
            long cin = b.Channels(y);
            var e = c.Exp != cin ? Cba(y, c.Exp, 1, 1, act) : y;
            e = Cba(e, c.Exp, c.K, c.S, act, group: c.Exp);
            if (c.Se) e = SqueezeExcite(e, Divisible(c.Exp / 4), Act.Relu, hardGate: true);
            var p = Cba(e, c.Out, 1, 1, Act.None);
            return c.S == 1 && cin == c.Out ? b.Add(p, y) : p;
        }

        public GraphBuilder MobileNetV3Small()
        {
            var y = Cba(b.Input("input", 1, 3, 224, 224), 16, 3, 2, Act.HardSwish);
            foreach (var c in V3Small) y = V3Block(y, c);
            return Classifier(Cba(y, 576, 1, 1, Act.HardSwish), 1024);
        }

        /// <summary>LR-ASPP on MobileNetV3-Large (torchvision lraspp_mobilenet_v3_large): 21 classes, bilinear Resize back up.</summary>
        public GraphBuilder LrAspp()
        {
            var y = Cba(b.Input("input", 1, 3, 256, 256), 16, 3, 2, Act.HardSwish);
            EdgeOperand low = y;
            for (int i = 0; i < V3Large.Length; i++)
            {
                y = V3Block(y, V3Large[i]);
                if (i == 5) low = y; // stride 8, 40 channels
            }
            var high = Cba(y, 960, 1, 1, Act.HardSwish);
            var head = Cba(high, 128, 1, 1, Act.Relu);
            var gate = b.Op("Sigmoid", [b.Conv(b.GlobalAveragePool(high), 128, kernel: 1, bias: false)]);
            var x = Upsample(b.Op("Mul", [head, gate]), 2);
            x = b.Add(b.Conv(low, 21, kernel: 1), b.Conv(x, 21, kernel: 1));
            b.Output(Upsample(x, 8), "out");
            return b;
        }

        EdgeOperand Upsample(EdgeOperand x, double factor) =>
            b.Op("Resize",
                [x, EmptyOperand.Instance, new LiteralOperand(new TensorLiteral(DataTypes.Float, [4], null, [1, 1, factor, factor]))],
                ("mode", AttributeValue.FromString("linear")));

        /// <summary>torchvision mnasnet1_0: stem, then stacks of inverted residuals (out, kernel, stride, expansion, repeats).</summary>
        public GraphBuilder MnasNet()
        {
            var y = Cba(b.Input("input", 1, 3, 224, 224), 32, 3, 2, Act.Relu);
            y = Cba(y, 32, 3, 1, Act.Relu, group: 32);
            y = Cba(y, 16, 1, 1, Act.None);
            foreach (var (outC, k, s, exp, repeats) in new (long, int, int, long, int)[]
                { (24, 3, 2, 3, 3), (40, 5, 2, 3, 3), (80, 5, 2, 6, 3), (96, 3, 1, 6, 2), (192, 5, 2, 6, 4), (320, 3, 1, 6, 1) })
                for (int r = 0; r < repeats; r++)
                {
                    long cin = b.Channels(y);
                    int stride = r == 0 ? s : 1;
                    var e = Cba(y, cin * exp, 1, 1, Act.Relu);
                    e = Cba(e, cin * exp, k, stride, Act.Relu, group: cin * exp);
                    var p = Cba(e, outC, 1, 1, Act.None);
                    y = stride == 1 && cin == outC ? b.Add(p, y) : p;
                }
            return Classifier(Cba(y, 1280, 1, 1, Act.Relu));
        }

        /// <summary>Residual bottlenecks with a grouped 3x3 convolution (RegNet's ResBottleneckBlock, ResNeXt's Bottleneck).</summary>
        EdgeOperand GroupedBottleneck(EdgeOperand y, long inner, long outC, long groups, int stride)
        {
            long cin = b.Channels(y);
            var shortcut = stride == 1 && cin == outC ? y : Cba(y, outC, 1, stride, Act.None);
            var h = Cba(y, inner, 1, 1, Act.Relu);
            h = Cba(h, inner, 3, stride, Act.Relu, group: groups);
            return b.Relu(b.Add(Cba(h, outC, 1, 1, Act.None), shortcut));
        }

        /// <summary>torchvision regnet_x_400mf: depths 1, 2, 7, 12; widths 32, 64, 160, 400; group width 16; bottleneck ratio 1.</summary>
        public GraphBuilder RegNetX400MF()
        {
            var y = Cba(b.Input("input", 1, 3, 224, 224), 32, 3, 2, Act.Relu);
            foreach (var (depth, width) in new (int, long)[] { (1, 32), (2, 64), (7, 160), (12, 400) })
                for (int r = 0; r < depth; r++) y = GroupedBottleneck(y, width, width, width / 16, r == 0 ? 2 : 1);
            return Classifier(y);
        }

        /// <summary>
        /// ResNeXt in the layout of torchvision resnext50_32x4d (32 groups of 4 channels in the first stage, bottleneck
        /// widths 128-1024, outputs 256-2048), one block per stage fewer (2, 3, 5, 2) to keep a benchmark pass short.
        /// </summary>
        public GraphBuilder ResNeXt()
        {
            var y = b.MaxPool(Cba(b.Input("input", 1, 3, 224, 224), 64, 7, 2, Act.Relu), 3, 2);
            foreach (var (depth, inner, outC, stride) in new (int, long, long, int)[]
                { (2, 128, 256, 1), (3, 256, 512, 2), (5, 512, 1024, 2), (2, 1024, 2048, 2) })
                for (int r = 0; r < depth; r++) y = GroupedBottleneck(y, inner, outC, 32, r == 0 ? stride : 1);
            return Classifier(y);
        }

        /// <summary>torchvision efficientnet_b0: MBConv stages (expansion, kernel, stride, out, layers), SiLU, squeeze-excite.</summary>
        public GraphBuilder EfficientNetB0()
        {
            var y = Cba(b.Input("input", 1, 3, 224, 224), 32, 3, 2, Act.Silu);
            foreach (var (exp, k, s, outC, layers) in new (long, int, int, long, int)[]
                {
                    (1, 3, 1, 16, 1), (6, 3, 2, 24, 2), (6, 5, 2, 40, 2), (6, 3, 2, 80, 3), (6, 5, 1, 112, 3), (6, 5, 2, 192, 4),
                    (6, 3, 1, 320, 1),
                })
                for (int r = 0; r < layers; r++)
                {
                    long cin = b.Channels(y), hidden = cin * exp;
                    int stride = r == 0 ? s : 1;
                    var e = exp != 1 ? Cba(y, hidden, 1, 1, Act.Silu) : y;
                    e = Cba(e, hidden, k, stride, Act.Silu, group: hidden);
                    e = SqueezeExcite(e, Math.Max(1, cin / 4), Act.Silu, hardGate: false); // squeeze from the block's input width
                    var p = Cba(e, outC, 1, 1, Act.None);
                    y = stride == 1 && cin == outC ? b.Add(p, y) : p;
                }
            return Classifier(Cba(y, 1280, 1, 1, Act.Silu));
        }
    }
}

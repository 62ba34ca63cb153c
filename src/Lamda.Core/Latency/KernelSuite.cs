using Lamda.Graphs;
using Lamda.Onnx;

namespace Lamda.Latency;

/// <summary>One measured kernel: its class, features (as the predictor computes them) and latency.</summary>
internal sealed record KernelSample(string Class, Kernel Kernel, double Ms, string Description);

/// <summary>
/// The kernel suite run on a device to calibrate its profile: regular, pointwise, depthwise and grouped
/// convolutions over widths, kernel sizes, strides and resolutions (with the BatchNorm, residual Add and
/// activation fusions ONNX Runtime forms), Gemm/MatMul, pooling, elementwise, Concat and data movement.
/// Each kernel is a one-kernel ONNX model measured with the same protocol as whole models.
/// </summary>
internal static class KernelSuite
{
    static readonly long[] Resolutions = [7, 14, 28, 56, 112];
    // Block-aligned widths and the misaligned ones that width scaling produces (the runtime treats them very differently).
    static readonly long[] Widths =
        [8, 16, 24, 32, 48, 64, 96, 128, 160, 192, 256, 320, 384, 512, 12, 20, 27, 36, 54, 75, 100, 140, 217, 300, 450];

    /// <summary>Models to measure: (class, description, builder).</summary>
    public static List<(string Class, string Description, GraphBuilder Model)> Build(bool quick, int seed = 1)
    {
        var rng = new Random(seed);
        int scale = quick ? 3 : 12;
        var list = new List<(string, string, GraphBuilder)>();
        long Pick(long[] xs) => xs[rng.Next(xs.Length)];
        const double MaxMacs = 250e6;

        void Add(string cls, string desc, Action<GraphBuilder> body, params long[] inputShape)
        {
            var b = new GraphBuilder(seed: rng.Next());
            b.Input("x", inputShape);
            body(b);
            list.Add((cls, desc, b));
        }

        void Convs(string cls, int count, Func<long> kernel, bool depthwise)
        {
            for (int made = 0, tries = 0; made < count && tries < count * 50; tries++)
            {
                long hw = Pick(Resolutions), cin = Pick(Widths), k = kernel(), stride = rng.Next(3) == 0 ? 2 : 1;
                long cout = depthwise ? cin : Pick(Widths);
                if (depthwise) cin = cout =
                    Pick([16, 32, 64, 96, 144, 192, 240, 384, 480, 576, 960, 20, 44, 81, 122, 163, 204, 326, 490, 816]);
                double macs = (double)hw / stride * hw / stride * cout * (depthwise ? 1 : cin) * k * k;
                if (macs > MaxMacs || macs < 2e4) continue;
                bool bn = rng.Next(2) == 0, act = rng.Next(4) != 0, residual = !depthwise && stride == 1 && cin == cout && rng.Next(3) == 0;
                Add(cls, $"{cls} {cin}->{cout} k{k} s{stride} " +
                    $"{hw}x{hw}{(bn ? " +bn" : "")}{(residual ? " +add" : "")}{(act ? " +relu" : "")}", b =>
                {
                    var x = new EdgeOperand("in0");
                    var y = b.Conv(x, cout, kernel: k, stride: stride, group: depthwise ? cin : 1);
                    if (bn) y = b.BatchNorm(y);
                    if (residual) y = b.Add(y, x);
                    if (act) y = b.Relu(y);
                    b.Output(y, "y");
                }, 1, cin, hw, hw);
                made++;
            }
        }

        Convs(KernelClass.Conv, 30 * scale, () => rng.Next(6) switch { 0 => 5, 1 => 7, _ => 3 }, false);
        Convs(KernelClass.Pointwise, 25 * scale, () => 1, false);
        Convs(KernelClass.Depthwise, 18 * scale, () => rng.Next(3) == 0 ? 5 : 3, true);
        AddOperatorKernels(Add, Pick, rng, scale);
        AddLayoutKernels(Add, Pick, rng, scale);
        AddFamilyKernels(Add, Pick, rng, scale);
        return list;
    }

    /// <summary>Grouped Conv, Gemm, pooling and global pooling kernels.</summary>
    static void AddOperatorKernels(Action<string, string, Action<GraphBuilder>, long[]> add, Func<long[], long> pick, Random rng,
        int scale)
    {
        for (int i = 0; i < 4 * scale; i++)
        {
            long hw = pick([14, 28, 56]), c = pick([32, 64, 128]), groups = pick([2, 4, 8]);
            add(KernelClass.GroupConv, $"gconv {c} g{groups} {hw}x{hw}",
                b => b.Output(b.Relu(b.Conv(new EdgeOperand("in0"), c, kernel: 3, group: groups)), "y"), [1, c, hw, hw]);
        }
        for (int i = 0; i < 10 * scale; i++)
        {
            long cin = pick([64, 128, 256, 512, 576, 1024, 1280, 2048]), cout = pick([10, 100, 256, 1000]);
            bool act = rng.Next(2) == 0;
            add(KernelClass.Gemm, $"gemm {cin}->{cout}{(act ? " +relu" : "")}",
                b => { var y = b.Gemm(new EdgeOperand("in0"), cout); b.Output(act ? b.Relu(y) : y, "y"); }, [1, cin]);
        }
        for (int i = 0; i < 8 * scale; i++)
        {
            long hw = pick([14, 28, 56, 112]), c = pick([16, 32, 64, 128, 256]), k = rng.Next(2) == 0 ? 2 : 3;
            string op = rng.Next(3) == 0 ? "AveragePool" : "MaxPool";
            add(KernelClass.Pool, $"{op} {c} k{k} {hw}x{hw}", b => b.Output(b.Op(op, [new EdgeOperand("in0")],
                ("kernel_shape", AttributeValue.FromInts([k, k])), ("pads", AttributeValue.FromInts(k == 3 ? [1, 1, 1, 1] : [0, 0, 0, 0])),
                    ("strides", AttributeValue.FromInts([2, 2]))), "y"), [1, c, hw, hw]);
        }
        for (int i = 0; i < 6 * scale; i++)
        {
            long hw = pick([7, 14, 28, 56]), c = pick([64, 256, 512, 1024, 1280]);
            add(KernelClass.GlobalPool, $"gap {c} {hw}x{hw}",
                b => b.Output(b.GlobalAveragePool(new EdgeOperand("in0")), "y"), [1, c, hw, hw]);
        }
    }

    /// <summary>Elementwise, Concat and copy (channel shuffle or slice) kernels.</summary>
    static void AddLayoutKernels(Action<string, string, Action<GraphBuilder>, long[]> add, Func<long[], long> pick, Random rng,
        int scale)
    {
        for (int i = 0; i < 12 * scale; i++)
        {
            long hw = pick([7, 14, 28, 56, 112]), c = pick([16, 32, 64, 128, 256]);
            int kind = rng.Next(4);
            add(KernelClass.Elementwise, $"eltwise {(kind switch { 0 => "add", 1 => "mul", 2 => "relu", _ => "sigmoid" })} {c} {hw}x{hw}",
                b =>
            {
                var x = new EdgeOperand("in0");
                var y = kind switch { 0 => b.Add(x, x), 1 => b.Op("Mul", [x, x]), 2 => b.Relu(x), _ => b.Op("Sigmoid", [x]) };
                b.Output(y, "y");
            }, [1, c, hw, hw]);
        }
        for (int i = 0; i < 6 * scale; i++)
        {
            long hw = pick([7, 14, 28, 56]), c = pick([16, 32, 64, 128]);
            int parts = rng.Next(2, 5);
            add(KernelClass.Concat, $"concat {parts}x{c} {hw}x{hw}", b =>
            {
                var x = new EdgeOperand("in0");
                b.Output(b.Concat(Enumerable.Range(0, parts).Select(_ => x).ToArray()), "y");
            }, [1, c, hw, hw]);
        }
        for (int i = 0; i < 6 * scale; i++)
        {
            long hw = pick([14, 28, 56]), c = pick([32, 64, 128, 232]);
            bool transpose = rng.Next(2) == 0;
            add(KernelClass.Copy, $"{(transpose ? "shuffle" : "slice")} {c} {hw}x{hw}", b =>
            {
                var x = new EdgeOperand("in0");
                if (transpose)
                {
                    var r = b.Op("Reshape", [x, new LiteralOperand(TensorLiteral.Int64([1, 2, c / 2, hw, hw]))]);
                    b.Output(b.Op("Transpose", [r], ("perm", AttributeValue.FromInts([0, 2, 1, 3, 4]))), "y");
                }
                else b.Output(b.Op("Slice",
                    [x, new LiteralOperand(TensorLiteral.Int64([0])), new LiteralOperand(TensorLiteral.Int64([c / 2])),
                    new LiteralOperand(TensorLiteral.Int64([1]))]), "y");
            }, [1, c, hw, hw]);
        }
    }

    /// <summary>
    /// Kernels of the families that predictions missed (issue 14): grouped convolutions with a group width,
    /// ConvTranspose, BatchNormalization alone, Resize, Softmax, MatMul of two activations and a per-channel scale.
    /// </summary>
    static void AddFamilyKernels(Action<string, string, Action<GraphBuilder>, long[]> add, Func<long[], long> pick, Random rng, int scale)
    {
        for (int i = 0; i < 4 * scale; i++)
        {
            long hw = pick([7, 14, 28]), width = pick([8, 16, 24, 32, 48]), c = width * pick([2, 4, 8]);
            add(KernelClass.GroupConv, $"gconv {c} width {width} {hw}x{hw}",
                b => b.Output(b.Relu(b.Conv(new EdgeOperand("in0"), c, kernel: 3, group: c / width)), "y"), [1, c, hw, hw]);
        }
        for (int i = 0; i < 3 * scale; i++)
        {
            long hw = pick([7, 14, 28]), cin = pick([32, 64, 128, 256]), cout = pick([16, 32, 64, 128]), k = pick([2, 4]);
            add(KernelClass.ConvTranspose, $"convT {cin}->{cout} k{k} {hw}x{hw}", b =>
            {
                var w = b.Weight("ct_w", [cin, cout, k, k], 0.05);
                long pad = (k - 2) / 2;
                b.Output(b.Op("ConvTranspose", [new EdgeOperand("in0"), w], ("kernel_shape", AttributeValue.FromInts([k, k])),
                    ("pads", AttributeValue.FromInts([pad, pad, pad, pad])), ("strides", AttributeValue.FromInts([2, 2]))), "y");
            }, [1, cin, hw, hw]);
        }
        for (int i = 0; i < 3 * scale; i++)
        {
            long hw = pick([14, 28, 56, 112, 224]), c = pick([16, 32, 64, 128]);
            add(KernelClass.Normalization, $"bn {c} {hw}x{hw}", b => b.Output(b.BatchNorm(new EdgeOperand("in0")), "y"), [1, c, hw, hw]);
            // Resize by 2, 4 or 8, bilinear and nearest (separate models), up to a 224-pixel map.
            for (int mode = 0; mode < 2; mode++)
            {
                long factor = pick([2, 4, 8]), from = Math.Max(4, hw / factor), channels = pick([16, 21, 32, 64]);
                var scales = new LiteralOperand(new TensorLiteral(DataTypes.Float, [4], null, [1, 1, factor, factor]));
                string name = mode == 0 ? "linear" : "nearest";
                add(KernelClass.Resize, $"resize {name} x{factor} {channels} {from}x{from}", b => b.Output(b.Op("Resize",
                    [new EdgeOperand("in0"), EmptyOperand.Instance, scales], ("mode", AttributeValue.FromString(name))), "y"),
                        [1, channels, from, from]);
            }
            add(KernelClass.Scale, $"scale {c} {hw}x{hw}", b =>
            {
                var x = new EdgeOperand("in0");
                b.Output(b.Op("Mul", [x, b.Op("Sigmoid", [b.GlobalAveragePool(x)])]), "y");
            }, [1, c, hw, hw]);
        }
        for (int i = 0; i < 3 * scale; i++)
        {
            long tokens = pick([49, 64, 196, 256]), dim = pick([32, 64, 96, 128]);
            add(KernelClass.MatMul, $"matmul {tokens}x{dim} by {dim}x{tokens}", b =>
            {
                var x = new EdgeOperand("in0");
                b.Output(b.Op("MatMul", [x, b.Op("Transpose", [x], ("perm", AttributeValue.FromInts([0, 2, 1])))]), "y");
            }, [1, tokens, dim]);
            add(KernelClass.Softmax, $"softmax {tokens}x{tokens}",
                b => b.Output(b.Op("Softmax", [new EdgeOperand("in0")], ("axis", AttributeValue.FromInt(-1))), "y"), [1, tokens, tokens]);
        }
    }

    public static byte[] ToBytes(GraphBuilder b) => ModelFile.ToBytes(OnnxExporter.Export(b.Graph, b.Weights));

    /// <summary>Measures every kernel of the suite; latency is the median minus the session's fixed overhead.</summary>
    public static List<KernelSample> Measure(bool quick, int threads, IProgress<string>? progress = null, int seed = 1)
    {
        var models = Build(quick, seed);
        var options = new MeasureOptions { Threads = threads, Warmup = 3, Runs = quick ? 12 : 25, MinSeconds = quick ? 0.05 : 0.2 };
        double overhead = RunOverheadMs(threads);
        var samples = new List<KernelSample>(models.Count);
        for (int i = 0; i < models.Count; i++)
        {
            var (cls, desc, b) = models[i];
            var kernels = KernelExtractor.Extract(b.Graph, b.Weights).Where(k => k.Class != KernelClass.Free).ToList();
            var kernel = kernels.Single(k => k.Class == cls || cls == KernelClass.Copy);
            var stats = LatencyMeter.Measure(ToBytes(b), b.Graph, options, desc);
            samples.Add(new KernelSample(kernel.Class, kernel, Math.Max(0.001, stats.P50Ms - overhead), desc));
            progress?.Report($"kernel {i + 1}/{models.Count}: {desc}: {stats.P50Ms:F3} ms");
        }
        return samples;
    }

    /// <summary>Latency of a model that does almost nothing: the fixed cost of one session run.</summary>
    public static double RunOverheadMs(int threads)
    {
        var b = new GraphBuilder();
        b.Output(b.Relu(b.Input("x", 1, 1)), "y");
        return LatencyMeter.Measure(ToBytes(b), b.Graph, new MeasureOptions { Threads = threads, Warmup = 20, Runs = 200,
            MinSeconds = 0.05 }).P50Ms;
    }
}

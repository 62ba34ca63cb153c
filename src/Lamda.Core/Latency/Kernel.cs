using Lamda.Graphs;
using Lamda.Operators;

namespace Lamda.Latency;

/// <summary>
/// Channel granularities of the runtime's convolution kernels on a device: output channels are padded to
/// tiles, input channels are read in blocks, depthwise channels in groups. On a host they all come from
/// ONNX Runtime's blocked (NCHWc) layout, asked of ORT itself (<see cref="RuntimeLayout"/>); spec profiles
/// assume them. Width choices aligned to them avoid paying for padding or a slow path.
/// </summary>
public sealed record ChannelGranularity(int OutputTile = 1, int InputBlock = 1, int DepthwiseBlock = 1)
{
    /// <summary>No channel granularity (every width is as fast as its size says).</summary>
    public static readonly ChannelGranularity None = new();

    /// <summary>The multiple that widths should be rounded to on this device.</summary>
    public int PreferredMultiple => Math.Max(OutputTile, Math.Max(InputBlock, DepthwiseBlock));
}

/// <summary>Kernel classes the predictor models separately (docs/latency.md).</summary>
public static class KernelClass
{
    /// <summary>
    /// The coarse classes: convolutions by kind, fully connected layers, pooling, elementwise passes, concatenations, copies, and free
    /// (relabelling) operators.
    /// </summary>
    public const string Conv = "conv", Pointwise = "conv1x1", Depthwise = "dwconv", GroupConv = "gconv", ConvTranspose = "convT",
        Gemm = "gemm", Pool = "pool", GlobalPool = "gpool", Elementwise = "eltwise", Concat = "concat", Copy = "copy", Free = "free";

    /// <summary>
    /// Classes split off elementwise, copy and gemm work because they cost differently per element (issue 14):
    /// BatchNormalization that no convolution absorbs, Resize, Softmax, MatMul of two activations (attention),
    /// and a per-channel scale (the gate of a squeeze-excite block).
    /// </summary>
    public const string Normalization = "bn", Resize = "resize", Softmax = "softmax", MatMul = "matmul", Scale = "scale";

    /// <summary>Every class, the order profiles list them in.</summary>
    public static readonly string[] All =
    [
        Conv, Pointwise, Depthwise, GroupConv, ConvTranspose, Gemm, Pool, GlobalPool, Elementwise, Concat, Copy,
        Normalization, Resize, Softmax, MatMul, Scale,
    ];

    /// <summary>Classes that ONNX Runtime may run in its blocked layout.</summary>
    public static bool IsConvolution(string cls) => cls is Conv or Pointwise or Depthwise or GroupConv;
}

/// <summary>
/// What the linear model of a kernel class sees (millions). Work is MACs with channel counts rounded up to the
/// device's tiles (the blocked layout pads output channels to a tile and input channels to a block); it is
/// <see cref="MisalignedWork"/> when the convolution misses the runtime's blocked layout and runs on the plain,
/// slower path. Memory-bound kernels use their traffic as work. <see cref="SlowDepthwiseChannels"/> counts
/// the groups of a plain-layout grouped convolution (a depthwise one's channels), which the runtime loops over
/// (a fixed cost each) instead of running one vectorized kernel. <see cref="BeyondCache"/> counts the elements of the
/// kernel's input and of its output beyond what a core's cache holds (<see cref="DeviceProfile.CacheBytes"/>): a map of
/// megabytes is read from the shared cache or memory at a higher cost per element than a cached one, which one cost per
/// element fitted mostly on small maps cannot express (fitted in context on this machine's calibration: 0.06-0.13 ms per
/// million elements for the memory-bound classes, near zero for convolutions). <see cref="PlainRows"/> counts the rows a
/// convolution off the blocked layout copies into columns before its matrix product (<see cref="Kernel.PlainRows"/>).
/// <see cref="PaddedWork"/> is the part of a blocked convolution's work whose kernel rows fall on padding
/// (<see cref="Kernel.ValidRowShare"/>): the runtime skips those rows, and <see cref="AlignedWork"/> counts only the rest.
/// <see cref="ColumnsBeyondL1"/> is the part of a plain convolution's columns, one group at a time, that no longer fits a
/// core's first-level cache (<see cref="Kernel.ColumnsBeyondL1"/>). A
/// profile's coefficients follow <see cref="ToVector"/>'s order: changing a feature changes the profile schema
/// (<see cref="DeviceProfile.CurrentSchema"/>).
/// </summary>
public readonly record struct KernelFeatures(double AlignedWork, double MisalignedWork, double Inputs, double Outputs, double Weights,
    double SlowDepthwiseChannels, double BeyondCache, double PlainRows, double PaddedWork = 0, double ColumnsBeyondL1 = 0)
{
    /// <summary>Coefficients per kernel model: a constant, then one per feature.</summary>
    public const int Count = 11;

    /// <summary>The names of the coefficients, in <see cref="ToVector"/>'s order.</summary>
    public static readonly string[] Names =
    [
        "constant", "alignedWork", "misalignedWork", "inputs", "outputs", "weights", "slowDepthwiseChannels", "beyondCache",
        "plainRows", "paddedWork", "columnsBeyondL1",
    ];

    /// <summary>The features in the order of a profile's coefficients (a constant first).</summary>
    public double[] ToVector() =>
        [1, AlignedWork, MisalignedWork, Inputs, Outputs, Weights, SlowDepthwiseChannels, BeyondCache, PlainRows, PaddedWork,
            ColumnsBeyondL1];

    /// <summary>Milliseconds under a linear model with <paramref name="c"/> in <see cref="ToVector"/>'s order.</summary>
    public double Dot(double[] c) =>
        c[0] + c[1] * AlignedWork + c[2] * MisalignedWork + c[3] * Inputs + c[4] * Outputs + c[5] * Weights + c[6] * SlowDepthwiseChannels
        + c[7] * BeyondCache + c[8] * PlainRows + c[9] * PaddedWork + c[10] * ColumnsBeyondL1;
}

/// <summary>
/// One unit of work as the runtime executes it: an operator plus what ONNX Runtime fuses into it (Conv with
/// its BatchNorm, residual Add and activation; Gemm with its activation). Sizes are in millions.
/// </summary>
public sealed record Kernel(string Class, IReadOnlyList<Node> Nodes, double MMacs, double MInputs, double MOutputs, double MWeights,
    long InChannels, long OutChannels)
{
    /// <summary>Coefficients of a kernel model (<see cref="KernelFeatures.Count"/>).</summary>
    public const int FeatureCount = KernelFeatures.Count;

    /// <summary>Whether ONNX Runtime may run this kernel in its blocked layout (<see cref="BlockedLayout"/>).</summary>
    public LayoutRule Layout { get; init; } = LayoutRule.Plain;

    /// <summary>Whether the kernel runs blocked in its model (<see cref="BlockedLayout.Mark"/>; false until marked).</summary>
    public bool Blocked { get; init; }

    /// <summary>The kernel's operators and its first node's id, for reports.</summary>
    public string Description => string.Join("+", Nodes.Select(n => n.Op)) + $" ({Nodes[0].Id})";

    long Group => Nodes.Count > 0 ? Nodes[0].GetInt("group", 1) : 1;

    /// <summary>
    /// ONNX Runtime's rule for its blocked layout (its NCHWc transformer; checked against ORT's optimized graphs
    /// by a test, with the granularity <paramref name="g"/> asked of ORT): a regular convolution runs blocked when
    /// its input channels are a multiple of the input block, or at most one tile (it then reads the plain input
    /// directly, as a first layer does); a depthwise one when its channels are a multiple of the depthwise block;
    /// a grouped one when each group's input and output channels fill whole tiles.
    /// </summary>
    public bool RunsOnFastPath(ChannelGranularity g)
    {
        if (!KernelClass.IsConvolution(Class) || InChannels <= 0 || OutChannels <= 0) return true;
        return Class switch
        {
            KernelClass.Depthwise => OutChannels % g.DepthwiseBlock == 0,
            KernelClass.GroupConv => InChannels / Group % g.OutputTile == 0 && OutChannels / Group % g.OutputTile == 0,
            _ => InChannels % g.InputBlock == 0 || InChannels <= g.OutputTile,
        };
    }

    /// <summary>
    /// The features of this kernel's linear model on a device with granularity <paramref name="g"/> whose cores each
    /// cache what <paramref name="cache"/> says.
    /// </summary>
    public KernelFeatures Features(ChannelGranularity g, CoreCache cache)
    {
        // A kernel that follows a blocked convolution (an activation, an Add, a Resize) works on the blocked tensor, whose
        // channels are padded to the tile: LR-ASPP's 21 class maps are 32 there, and a 2-class map is 16.
        double padded = Blocked && !KernelClass.IsConvolution(Class) ? OutputPadding(g) : 1;
        double inputs = MInputs * padded, outputs = MOutputs * padded;
        double work = MMacs > 0 ? MMacs : inputs + outputs;
        if (Class is KernelClass.Conv or KernelClass.Pointwise or KernelClass.GroupConv && InChannels > 0 && OutChannels > 0)
            work *= OutputPadding(g) * RoundUp(InChannels, g.InputBlock) / InChannels;
        bool fast = RunsOnFastPath(g);
        // Off the blocked layout ORT convolves one group at a time (an image-to-columns pass and a small matrix
        // product each): a fixed cost per group, which for a depthwise layer is one per channel.
        double slowChannels = fast ? 0 : Class switch
        {
            KernelClass.Depthwise => OutChannels / 1e6,
            KernelClass.GroupConv => Group / 1e6,
            _ => 0,
        };
        double beyond = Math.Max(0, inputs - cache.MElements) + Math.Max(0, outputs - cache.MElements);
        double rows = fast ? 0 : PlainRows();
        // Off the blocked layout the image-to-columns pass writes the padding and the matrix product multiplies it: all of the
        // work is done there.
        double valid = fast ? work * ValidRowShare() : 0;
        return new KernelFeatures(valid, fast ? 0 : work, inputs, outputs, MWeights, slowChannels, beyond, rows, fast ? work - valid : 0,
            fast ? 0 : ColumnsBeyondL1(cache.L1MElements));
    }

    /// <summary>The kernel's output height (0 when unknown: the map is then taken as square).</summary>
    public long OutHeight { get; init; }

    /// <summary>The kernel's input height (0 when unknown).</summary>
    public long InHeight { get; init; }

    /// <summary>
    /// The share of a convolution's kernel rows, over its output rows, that fall inside its input and not on padding (1 for
    /// a kernel one row high, or when the heights are unknown). ONNX Runtime's blocked convolutions skip the rows that fall
    /// on padding (MLAS narrows the kernel to the input's rows for each output row), so on a map a few rows high most of a
    /// 5x5 kernel's work is never done: a 2-row map reads 4 of the 10 rows two output rows' kernels cover. PP-LCNet's 5x5
    /// depthwise layers on ppocr_cls's 2- and 3-row maps were predicted at twice their time (131% over, in sum); counting the
    /// work of the rows inside only took that to 50-55% over (two profiles, refitted offline), and the held-out families did
    /// not move.
    /// </summary>
    public double ValidRowShare()
    {
        if (!KernelClass.IsConvolution(Class) || Nodes.Count == 0 || InHeight <= 0 || OutHeight <= 0) return 1;
        var n = Nodes[0];
        long k = n.GetInts("kernel_shape") is { Length: > 0 } ks ? ks[0] : 1;
        if (k <= 1) return 1;
        long stride = n.GetInts("strides") is { Length: > 0 } st ? st[0] : 1;
        long dilation = n.GetInts("dilations") is { Length: > 0 } dl ? dl[0] : 1;
        long missing = Math.Max(0, (OutHeight - 1) * stride + (k - 1) * dilation + 1 - InHeight);
        long top = n.GetInts("pads") is { Length: > 0 } p ? p[0]
            : n.GetString("auto_pad") switch { "SAME_UPPER" => missing / 2, "SAME_LOWER" => (missing + 1) / 2, _ => 0 };
        long valid = 0;
        for (long kh = 0; kh < k; kh++)
        {
            // Kernel row kh of output row r reads input row r * stride - top + kh * dilation; count the r it falls inside for.
            long offset = kh * dilation - top;
            long first = offset >= 0 ? 0 : (-offset + stride - 1) / stride;
            long last = Math.Min(OutHeight - 1, FloorDiv(InHeight - 1 - offset, stride));
            if (last >= first) valid += last - first + 1;
        }
        return valid / (double)(OutHeight * k);
    }

    static long FloorDiv(long a, long b) => a >= 0 ? a / b : -((-a + b - 1) / b);

    /// <summary>
    /// Millions of rows a convolution off the blocked layout copies into columns (ORT's image-to-columns pass before its
    /// matrix product): one per input channel, kernel tap and output row, each with its own bounds handling. On small maps
    /// that per-row cost outweighs the elements: a plain 5x5 depthwise layer on a 7x7 map took 0.48 us a channel, 2.4 times
    /// its 3x3 twin, and 1.5 us on a 14x14 map, which neither the work nor a cost per channel fits (measured on this VM).
    /// A 1x1 convolution with stride 1 multiplies the input directly and copies nothing.
    /// </summary>
    public double PlainRows()
    {
        if (ColumnTaps() is not { } taps) return 0;
        double spatial = MOutputs * 1e6 / OutChannels;
        double height = OutHeight > 0 ? OutHeight : Math.Sqrt(spatial);
        return InChannels * taps * height / 1e6;
    }

    /// <summary>
    /// Millions of elements of the columns a convolution off the blocked layout writes, one group at a time, beyond a third of a
    /// core's first-level cache of <paramref name="l1MElements"/> million elements, summed over its groups. The matrix product
    /// reads the columns back and packs them once more: while a group's columns, their packed copy and its output row stay
    /// in the first-level cache, an element costs a fraction of one that spills. A plain 5x5 depthwise layer took 0.59 us a
    /// channel on a 3x96 map (7,200 elements of columns) and 0.47 on a 7x7 one (1,225), and the one price per element the
    /// square maps of calibration gave put PP-LCNet's text-line layers (ppocr_cls at 0.60 of its widths) 36-43% over their
    /// time; offline on a quick calibration's 88 plain depthwise layers, a third of the 48 KiB cache fitted best (a half or a
    /// quarter of it less well), and the held-out families' plain depthwise layers went from 10% to 4% mean error (linear
    /// model alone).
    /// </summary>
    public double ColumnsBeyondL1(double l1MElements)
    {
        if (ColumnTaps() is not { } taps) return 0;
        long groups = Math.Max(1, Group);
        double spatial = MOutputs * 1e6 / OutChannels, perGroup = InChannels / (double)groups * taps * spatial;
        return groups * Math.Max(0, perGroup - l1MElements * 1e6 / 3) / 1e6;
    }

    /// <summary>The taps of a convolution that copies its input into columns before its matrix product, or null for a kernel
    /// that copies none (not a convolution, or a 1x1 one with stride 1, which multiplies its input directly).</summary>
    long? ColumnTaps()
    {
        if (!KernelClass.IsConvolution(Class) || InChannels <= 0 || OutChannels <= 0 || Nodes.Count == 0) return null;
        long taps = Nodes[0].GetInts("kernel_shape") is { Length: > 0 } k ? k.Aggregate(1L, (a, d) => a * d) : 1;
        bool strided = Nodes[0].GetInts("strides") is { } s && s.Any(v => v > 1);
        return taps == 1 && !strided ? null : taps;
    }

    /// <summary>
    /// Key of the regression that predicts this kernel: its class, with "/misaligned" for convolutions off the
    /// runtime's fast path, which is a different code path with its own costs, and "/linear" for a bilinear
    /// Resize, which reads four inputs per output where nearest reads one (one model for both missed by 40%).
    /// </summary>
    /// A Resize that runs in the blocked layout gets "/blocked" too: the same resize costs half as much there as
    /// on plain tensors (LR-ASPP's last upsampling at exact widths was predicted at half its time).
    public string ModelKey(ChannelGranularity g) =>
        IsMisaligned(g) ? Class + Misaligned
        : Class == KernelClass.Resize ? Class + (Nodes.Count > 0 && Nodes[0].GetString("mode") == "linear" ? Linear : "")
            + (Blocked ? BlockedSuffix : "")
        : Class;

    /// <summary>
    /// True when <see cref="Features"/> has misaligned work for this kernel: a convolution off the runtime's fast path, with work
    /// to do. Asked for every kernel's model key in the search loop, so without computing the features (their row counts read
    /// the node's attributes), which the prediction then computes once.
    /// </summary>
    bool IsMisaligned(ChannelGranularity g) => !RunsOnFastPath(g) && (MMacs > 0 || MInputs + MOutputs > 0);

    /// <summary>Suffix of the model key of a bilinear Resize.</summary>
    public const string Linear = "/linear";

    /// <summary>Suffix of the model key of a kernel whose cost depends on running in the blocked layout.</summary>
    public const string BlockedSuffix = "/blocked";

    /// <summary>The model keys to try for this kernel, most specific first ("resize/linear/blocked", "resize/linear", "resize").</summary>
    public IEnumerable<string> ModelKeys(ChannelGranularity g)
    {
        for (var key = ModelKey(g); ; key = key[..key.LastIndexOf('/')])
        {
            yield return key;
            if (!key.Contains('/')) yield break;
        }
    }

    /// <summary>Suffix of the model key of a convolution off the runtime's fast path.</summary>
    public const string Misaligned = "/misaligned";

    /// <summary>0: no fused activation; 1: Relu, which the runtime applies inside its convolution kernels; 2: any other (Clip, sigmoid...),
    /// applied in a separate pass.</summary>
    public int ActivationKind => Nodes.Count < 2 ? 0 : Nodes[^1].Op switch { "Relu" => 1, "Add" or "BatchNormalization" => 0, _ => 2 };

    internal const int DescriptorCount = 19;

    /// <summary>Where the input channels of one group sit among the <see cref="Descriptors"/>.</summary>
    internal const int GroupChannelsDescriptor = 17;

    /// <summary>
    /// What a tree model of the kernel's cost sees (<see cref="BoostedTrees"/>): channel counts, resolution, kernel
    /// size and stride, alignment to the runtime's tiles, and the sizes of work and traffic, on log scales where
    /// they span orders of magnitude. The whole model's <paramref name="footprint"/>: how much of the cache the other
    /// layers take decides whether this kernel finds its weights and input there. The input channels of one group: a
    /// blocked grouped convolution of 16 channels a group cost 12 ps a MAC, one of 64 channels a group 7.6 (the same 384
    /// channels on a 14x14 map, measured here), and RegNet's 16-channel groups were predicted at 60% of their time.
    /// </summary>
    public double[] Descriptors(ChannelGranularity g, ModelFootprint footprint)
    {
        static double Log(double v) => Math.Log2(Math.Max(v, 1e-9));
        var first = Nodes[0];
        long kernel = first.GetInts("kernel_shape") is [var k, ..] ? k : 1;
        long stride = first.GetInts("strides") is [var s, ..] ? s : 1;
        int tile = Math.Max(1, g.OutputTile), block = Math.Max(1, g.InputBlock);
        double spatial = OutChannels > 0 ? MOutputs * 1e6 / OutChannels : 1;
        return
        [
            Log(InChannels + 1), Log(OutChannels + 1), Log(spatial), kernel, stride,
            InChannels % tile == 0 ? 1 : 0, InChannels % block == 0 ? 1 : 0, OutChannels % tile == 0 ? 1 : 0,
            OutputPadding(g), InChannels < tile ? 1 : 0,
            Log(MMacs * 1e6 + 1), Log(MWeights * 1e6 + 1), Log(MInputs * 1e6 + 1), Log(MOutputs * 1e6 + 1),
            Nodes.Any(n => n.Op == "Add") ? 1 : 0, ActivationKind, Log(footprint.MWeights * 1e6 + 1),
            Log(InChannels / (double)Math.Max(1, Group) + 1), Log(footprint.MTouched * 1e6 + 1),
        ];
    }

    /// <summary>How much the blocked layout enlarges this kernel's output: its channels rounded up to the tile, over them.</summary>
    public double OutputPadding(ChannelGranularity g) =>
        OutChannels > 0 ? (double)RoundUp(OutChannels, g.OutputTile) / OutChannels : 1;

    static long RoundUp(long v, int to) => to <= 1 ? v : (v + to - 1) / to * to;
}

/// <summary>Maps a graph to the kernels ONNX Runtime (CPU, all optimizations) would run.</summary>
internal static class KernelExtractor
{
    static readonly HashSet<string> Activations = ["Relu", "Clip", "LeakyRelu", "Sigmoid", "HardSigmoid", "Tanh", "HardSwish"];

    public static List<Kernel> Extract(Graph graph, WeightStore weights, InferenceResult? inference = null)
    {
        inference ??= ShapeInference.Run(graph, weights, batchOne: true);
        var consumers = graph.Consumers();
        var producers = graph.Producers();
        var outputs = graph.Outputs.Select(o => o.Key).ToHashSet(StringComparer.Ordinal);
        var fused = new HashSet<Node>();
        var kernels = new List<Kernel>();

        // The single consumer of a node's output, if the output is not also a graph output.
        Node? Sole(Node n) => !outputs.Contains(n.Output) && consumers.TryGetValue(n.Output, out var c) && c.Count == 1
            && c[0].EdgeInputs.Count(e => e.Key == n.Output) == 1 ? c[0] : null;
        // Whether an edge comes straight from a convolution (through its BatchNormalization) used only there.
        bool FromConvolution(string edge)
        {
            if (!producers.TryGetValue(edge, out var p)) return false;
            if (p.Op == "BatchNormalization" && p.Inputs.Count > 0 && p.Inputs[0] is EdgeOperand x
                && producers.TryGetValue(x.Key, out var c) && Sole(c) == p) p = c;
            return p.Op == "Conv" && (Sole(p) is { Op: "Add" or "BatchNormalization" });
        }
        // An Add of two convolutions joins one of them only, as the runtime fuses it: the one on its first input.
        bool JoinsAdd(Node add, string edge) =>
            add.EdgeInputs.Count() == 2 && (add.EdgeInputs.First().Key == edge || !FromConvolution(add.EdgeInputs.First().Key));
        // x * HardSigmoid(x) consuming all of x, which ORT rewrites into one HardSwish (fused into a convolution before it).
        Node[]? HardSwishPair(Node x)
        {
            if (outputs.Contains(x.Output) || !consumers.TryGetValue(x.Output, out var c) || c.Count != 2) return null;
            var gate = c.FirstOrDefault(m => m.Op == "HardSigmoid");
            var mul = c.FirstOrDefault(m => m.Op == "Mul");
            return gate != null && mul != null && Sole(gate) == mul && IsGate(gate, mul) ? [gate, mul] : null;
        }
        double M(long? v) => (v ?? 0) / 1e6;
        long? Elems(Operand o) => o is EdgeOperand e ? inference.TypeOf(e.Key).ElementCount : null;

        foreach (var n in graph.Nodes)
        {
            if (fused.Contains(n)) continue;
            var group = new List<Node> { n };
            string cls = Classify(n, inference, weights);
            double extraInputs = 0;
            if (cls is KernelClass.Conv or KernelClass.Pointwise or KernelClass.Depthwise or KernelClass.GroupConv)
            {
                var last = n;
                if (Sole(last) is { Op: "BatchNormalization" } bn) { group.Add(bn); last = bn; }
                if (Sole(last) is { Op: "Add" } add && JoinsAdd(add, last.Output))
                {
                    group.Add(add);
                    var other = add.EdgeInputs.First(e => e.Key != last.Output);
                    extraInputs = M(inference.TypeOf(other.Key).ElementCount);
                    last = add;
                }
                // After a residual Add, ORT's blocked convolution takes only a Relu; any other activation runs on its own.
                if (Sole(last) is { } act && Activations.Contains(act.Op) && (last.Op != "Add" || act.Op == "Relu")) group.Add(act);
                else if (last.Op != "Add" && HardSwishPair(last) is { } pair) group.AddRange(pair); // x * HardSigmoid(x): HardSwish
            }
            else if (cls == KernelClass.Gemm && Sole(n) is { } act && Activations.Contains(act.Op)) group.Add(act);
            else if (IsSwishGate(n, Sole(n))) group.Add(Sole(n)!); // ORT's QuickGelu fusion: x * Sigmoid(x) in one pass
            else if (HardSwishPair(n) is { } pair) group.AddRange(pair);
            foreach (var m in group) fused.Add(m);

            var lastNode = group[^1];
            double macs = group.Sum(m => GraphStats.NodeMacs(m, weights, inference)) / 1e6;
            double ins = n.Inputs.Where(o => o is EdgeOperand).Sum(o => M(Elems(o))) + extraInputs;
            double outs = M(inference.TypeOf(lastNode.Output).ElementCount);
            double ws =
                group.SelectMany(m => m.Inputs.OfType<WeightOperand>()).Distinct().Sum(w
                => M(weights.ShapeOf(w.Name)?.Aggregate(1L, (a, d) => a * d)));
            long cin = n.Inputs.Count > 0 && n.Inputs[0] is EdgeOperand e0 ? inference.TypeOf(e0.Key).Channels ?? 0 : 0;
            long cout = inference.TypeOf(lastNode.Output).Channels ?? 0;
            long height = inference.TypeOf(lastNode.Output).Dims is { Length: 4 } d && d[2].IsKnown ? d[2].Value : 0;
            long inHeight = n.Inputs.Count > 0 && n.Inputs[0] is EdgeOperand x && inference.TypeOf(x.Key).Dims is { Length: 4 } xd
                && xd[2].IsKnown ? xd[2].Value : 0;
            kernels.Add(new Kernel(cls, group, macs, ins, outs, ws, cin, cout)
            {
                Layout = BlockedLayout.RuleOf(cls, group, inference), OutHeight = height, InHeight = inHeight,
            });
        }
        return kernels;
    }

    /// <summary>Sigmoid(x) whose only consumer multiplies it by x (SiLU), which ONNX Runtime runs as one QuickGelu node.</summary>
    static bool IsSwishGate(Node sigmoid, Node? consumer) => sigmoid.Op == "Sigmoid" && consumer != null && IsGate(sigmoid, consumer);

    /// <summary>Whether <paramref name="mul"/> multiplies the gate's output by the gate's own input.</summary>
    static bool IsGate(Node gate, Node mul) =>
        gate.Inputs.Count == 1 && gate.Inputs[0] is EdgeOperand x && mul.Op == "Mul" && mul.Inputs.Count == 2
        && mul.Inputs.OfType<EdgeOperand>().Count(e => e.Key == x.Key) == 1;

    /// <summary>The kernel class of a node, as its operator's rule gives it; other domains' operators are costed as elementwise.</summary>
    static string Classify(Node n, InferenceResult inference, WeightStore weights) =>
        n.Domain.Length > 0 ? KernelClass.Elementwise : OperatorRegistry.Get(n.Op).KernelClassOf(n, weights, inference);
}

using Lamda.Graphs;

namespace Lamda.Latency;

/// <summary>How a kernel's layout is decided by ONNX Runtime's blocked-layout (NCHWc) transformer.</summary>
public enum LayoutRule
{
    /// <summary>Runs on plain tensors: any blocked input is reordered back first (Gemm, Softmax, a Mul that broadcasts...).</summary>
    Plain,
    /// <summary>A convolution: blocked when its shape is on the fast path (<see cref="Kernel.RunsOnFastPath"/>).</summary>
    Convolution,
    /// <summary>MaxPool or AveragePool: blocked when its channels fill whole tiles (its input reordered if need be).</summary>
    Pool,
    /// <summary>Blocked when every input already is and the channels fill whole tiles (GlobalAveragePool, Concat).</summary>
    FollowsAligned,
    /// <summary>Blocked when every input already is (Relu, Sigmoid, Add or Mul of equal shapes, BatchNormalization, Resize).</summary>
    Follows,
}

/// <summary>The reorders between layouts a model needs: millions of elements moved, how many, and the millions beyond the cache.</summary>
internal readonly record struct Reordering(double MElements, int Count, double BeyondCacheMElements);

/// <summary>
/// Which kernels ONNX Runtime runs in its blocked (NCHWc) layout and how many elements its transformer reorders
/// between the blocked and the plain layout. Every kernel that cannot run blocked gets its blocked inputs
/// reordered back (ReorderOutput, once per tensor, also for a graph output), and every blocked convolution or
/// pool gets its plain input reordered (ReorderInput), unless it is a regular convolution with fewer input
/// channels than a tile, which reads the plain layout itself (so a blocked input is reordered back for it).
/// Counting only convolutions that changed layout missed the reorders around squeeze-excite gates (a Mul that
/// broadcasts runs plain), hard-swish written out, and the last map of a segmentation head: 0.5 ms of
/// efficientnet_b0's 7.8 ms. Checked against ORT's optimized graphs (LatencyTests).
/// </summary>
public static class BlockedLayout
{
    static readonly HashSet<string> FollowingActivations = ["Relu", "Sigmoid", "Tanh"];

    /// <summary>The rule for a kernel of class <paramref name="cls"/> made of <paramref name="nodes"/>.</summary>
    internal static LayoutRule RuleOf(string cls, IReadOnlyList<Node> nodes, InferenceResult inference)
    {
        if (KernelClass.IsConvolution(cls)) return LayoutRule.Convolution;
        var n = nodes[0];
        // SiLU fused into QuickGelu runs in whatever layout its input has; a Gemm and its activation run plain.
        if (nodes.Count > 1) return n.Op == "Sigmoid" ? LayoutRule.Follows : LayoutRule.Plain;
        return n.Op switch
        {
            "MaxPool" or "AveragePool" => LayoutRule.Pool,
            "GlobalAveragePool" or "GlobalMaxPool" or "Concat" => LayoutRule.FollowsAligned,
            "BatchNormalization" or "Upsample" => LayoutRule.Follows,
            "Resize" => ResizeRunsBlocked(n) ? LayoutRule.Follows : LayoutRule.Plain,
            _ when FollowingActivations.Contains(n.Op) => LayoutRule.Follows,
            "Add" or "Sum" or "Mul" when n.Inputs.All(o => o is EdgeOperand) && SameShapes(n, inference) => LayoutRule.Follows,
            _ => LayoutRule.Plain,
        };
    }

    /// <summary>
    /// ORT's blocked Upsample takes a bilinear Resize, but a nearest one only with asymmetric coordinates: the default
    /// (half_pixel) nearest Resize runs plain after a reorder (seen in its optimized graphs of decoder networks).
    /// </summary>
    static bool ResizeRunsBlocked(Node n) =>
        n.GetString("mode") == "linear" || n.GetString("coordinate_transformation_mode") == "asymmetric";

    static bool SameShapes(Node n, InferenceResult inference)
    {
        var output = inference.TypeOf(n.Output).ElementCount;
        return output != null && n.EdgeInputs.All(e => inference.TypeOf(e.Key).ElementCount == output);
    }

    /// <summary>
    /// The reorders ONNX Runtime inserts when <paramref name="kernels"/> run in order on a device with granularity
    /// <paramref name="g"/> (<paramref name="graphOutputs"/> are the edges the model returns, plain): how many, the millions of
    /// elements they move, and how many of those lie beyond a core's cache of <paramref name="cacheMElements"/> million
    /// elements (each reorder's elements past that size).
    /// </summary>
    internal static Reordering Reorders(IReadOnlyList<Kernel> kernels, ChannelGranularity g, IReadOnlySet<string> graphOutputs,
        double cacheMElements = double.PositiveInfinity)
    {
        if (g.OutputTile <= 1) return new Reordering(0, 0, 0);
        var walk = new Walk(kernels, g, cacheMElements);
        foreach (int i in ProducersFirst(kernels)) walk.Visit(i);
        for (int i = 0; i < kernels.Count; i++)
            if (graphOutputs.Contains(kernels[i].Nodes[^1].Output)) walk.ToPlain(i);
        return new Reordering(walk.Elements, walk.Count, walk.BeyondCache);
    }

    /// <summary>
    /// The kernels, each marked with whether it runs in the blocked layout (<see cref="Kernel.Blocked"/>). A convolution off
    /// that layout gives up its hard-swish: ORT fuses it into blocked convolutions only, and elsewhere runs it as the
    /// HardSigmoid and Mul of its function body, two passes over the map (seen in its optimized graphs; 15 such pairs were
    /// 8% of mobilenet_v3_small's time at width 0.55, and calibration had left them to no kernel).
    /// </summary>
    public static List<Kernel> Mark(IReadOnlyList<Kernel> kernels, ChannelGranularity g)
    {
        if (g.OutputTile <= 1) return kernels.ToList();
        var walk = new Walk(kernels, g);
        foreach (int i in ProducersFirst(kernels)) walk.Visit(i);
        var marked = new List<Kernel>(kernels.Count);
        for (int i = 0; i < kernels.Count; i++)
        {
            var k = walk.IsBlocked(i) == kernels[i].Blocked ? kernels[i] : kernels[i] with { Blocked = walk.IsBlocked(i) };
            if (k.Blocked || !KernelClass.IsConvolution(k.Class)) marked.Add(k);
            else marked.AddRange(HardSwishApart(k));
        }
        return marked;
    }

    /// <summary>A plain convolution and, when it ends in a hard-swish, that activation's two passes as ORT runs them.</summary>
    static IEnumerable<Kernel> HardSwishApart(Kernel conv)
    {
        int first = conv.Nodes.Count - 1;
        if (conv.Nodes[^1].Op == "Mul" && first > 0 && conv.Nodes[^2].Op == "HardSigmoid") first--; // x * HardSigmoid(x)
        else if (conv.Nodes[^1].Op != "HardSwish")
        {
            yield return conv;
            yield break;
        }
        var activation = conv.Nodes.Skip(first).ToList();
        yield return conv with { Nodes = conv.Nodes.Take(first).ToList() };
        double map = conv.MOutputs;
        // HardSigmoid reads the map and writes one; Mul reads it and the gate and writes one.
        yield return Pass(conv, activation[0], map);
        yield return Pass(conv, activation[^1], 2 * map);
    }

    static Kernel Pass(Kernel conv, Node node, double mInputs) =>
        new(KernelClass.Elementwise, [node], 0, mInputs, conv.MOutputs, 0, conv.OutChannels, conv.OutChannels)
        {
            Layout = LayoutRule.Plain, OutHeight = conv.OutHeight, InHeight = conv.OutHeight, // a pass over the convolution's output
        };

    /// <summary>
    /// The kernels' indices with every producer before its readers. A convolution with a fused Add stands where the
    /// convolution was, which can be before the kernel producing the Add's other input (LR-ASPP adds the class map
    /// of its low branch to the upsampled head's): walked in plain order, that input looked like a graph input.
    /// </summary>
    static List<int> ProducersFirst(IReadOnlyList<Kernel> kernels)
    {
        var producedBy = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < kernels.Count; i++)
            foreach (var n in kernels[i].Nodes) producedBy[n.Output] = i;
        var done = new bool[kernels.Count];
        var order = new List<int>(kernels.Count);
        void Place(int i)
        {
            if (done[i]) return;
            done[i] = true;
            foreach (var n in kernels[i].Nodes)
                foreach (var e in n.EdgeInputs)
                    if (producedBy.TryGetValue(e.Key, out int p) && p != i) Place(p);
            order.Add(i);
        }
        for (int i = 0; i < kernels.Count; i++) Place(i);
        return order;
    }

    /// <summary>The kernels in order, each placed in a layout, with the reorders that placement needs.</summary>
    sealed class Walk(IReadOnlyList<Kernel> kernels, ChannelGranularity g, double cacheMElements = double.PositiveInfinity)
    {
        readonly Dictionary<string, int> producer = new(StringComparer.Ordinal);
        readonly bool[] blocked = new bool[kernels.Count], reorderedOut = new bool[kernels.Count];
        readonly HashSet<int> reorderedIn = []; // ORT reorders a tensor once, however many kernels read it
        public bool IsBlocked(int i) => blocked[i];
        public double Elements { get; private set; }
        public int Count { get; private set; }
        public double BeyondCache { get; private set; }

        public void Visit(int i)
        {
            var k = kernels[i];
            var inputs = ExternalInputs(k, producer);
            bool allBlocked = inputs.Count > 0 && inputs.All(p => p >= 0 && blocked[p]);
            blocked[i] = k.Class != KernelClass.Free && k.Layout switch
            {
                LayoutRule.Convolution => k.RunsOnFastPath(g),
                LayoutRule.Pool => k.InChannels > 0 && k.InChannels % g.OutputTile == 0,
                LayoutRule.FollowsAligned => allBlocked && inputs.All(p => kernels[p].OutChannels % g.OutputTile == 0),
                LayoutRule.Follows => allBlocked,
                _ => false,
            };
            // A blocked convolution adds a residual in place only when that input is blocked too; otherwise its
            // result is reordered back and the Add runs plain.
            bool plainAdd = blocked[i] && k.Layout == LayoutRule.Convolution && k.Nodes.Any(n => n.Op == "Add")
                && inputs.Skip(1).Any(p => p < 0 || !blocked[p]);
            bool direct = ReadsPlainDirectly(k, g);
            for (int j = 0; j < inputs.Count; j++)
            {
                int p = inputs[j];
                bool readsBlocked = blocked[i] && !direct && !(plainAdd && j > 0);
                if (readsBlocked && (p < 0 || !blocked[p]) && (p < 0 || reorderedIn.Add(p))) Add(p < 0 ? k.MInputs : Padded(kernels[p]));
                if (!readsBlocked && p >= 0) ToPlain(p);
            }
            if (plainAdd)
            {
                Add(Padded(k));
                blocked[i] = false;
            }
            foreach (var n in k.Nodes) producer[n.Output] = i;
        }

        /// <summary>Kernel <paramref name="p"/>'s output is read in the plain layout: reordered once if it was blocked.</summary>
        public void ToPlain(int p)
        {
            if (!blocked[p] || reorderedOut[p]) return;
            reorderedOut[p] = true;
            Add(Padded(kernels[p]));
        }

        void Add(double mElements)
        {
            Count++;
            Elements += mElements;
            BeyondCache += Math.Max(0, mElements - cacheMElements);
        }

        /// <summary>A kernel's output elements with its channels padded to the tile, as the blocked layout stores them.</summary>
        double Padded(Kernel k) => k.MOutputs * k.OutputPadding(g);
    }

    /// <summary>
    /// A regular convolution with fewer input channels than a tile reads the plain layout itself (as a first layer
    /// does), so a blocked input is reordered back for it.
    /// </summary>
    static bool ReadsPlainDirectly(Kernel k, ChannelGranularity g) =>
        k.Layout == LayoutRule.Convolution && k.Class != KernelClass.Depthwise && k.InChannels < g.OutputTile;

    /// <summary>The producing kernel of each edge input from outside the kernel (-1: a graph input).</summary>
    static List<int> ExternalInputs(Kernel k, Dictionary<string, int> producer)
    {
        var result = new List<int>(2);
        foreach (var n in k.Nodes)
            foreach (var o in n.Inputs)
                if (o is EdgeOperand e && !Produces(k, e.Key)) result.Add(producer.TryGetValue(e.Key, out var p) ? p : -1);
        return result;
    }

    static bool Produces(Kernel k, string edge)
    {
        foreach (var n in k.Nodes)
            if (n.Output == edge) return true;
        return false;
    }
}

using Lamda.Operators;

namespace Lamda.Graphs;

/// <summary>
/// Output channels of one layer whose width can change (Conv, Gemm, MatMul with a weight), or a fixed block
/// of channels (graph inputs, operators Lamda does not rewrite). Its channels are the refs
/// <c>FirstRef .. FirstRef + Size - 1</c>.
/// </summary>
internal sealed record ChannelSource(int Id, Node? Node, int FirstRef, int Size, bool Fixed);

/// <summary>
/// Which channel each position of an edge's dimension 1 carries. <see cref="Axes"/> lists the sizes of the
/// channel axes (one, or two after a ShuffleNet-style Reshape splits channels); after a Flatten each
/// feature carries the label of the channel it came from.
/// </summary>
internal sealed record ChannelLayout(int[] Labels, int[] Axes)
{
    public static ChannelLayout Of(int[] labels) => new(labels, [labels.Length]);
}

/// <summary>
/// Dependency analysis over individual channels, in the spirit of DepGraph: every channel of every source is
/// a node of a union-find; operators that require equal channels (Add, Mul, depthwise Conv, BatchNorm,
/// ShuffleNet's channel shuffle, Concat feeding an Add) unite them. A pruning decision is then made per
/// connected component, which keeps every edit consistent across residual Adds, Concat offsets, Slice/Split
/// bounds and shuffles. Channels that reach graph outputs or pass through operators Lamda does not rewrite
/// are fixed.
/// </summary>
internal sealed class ChannelAnalysis
{
    readonly List<ChannelSource> sources = [];
    readonly List<int> parent = [];
    readonly List<int> refSource = [];
    readonly HashSet<int> pinnedRefs = [];
    bool[]? fixedRoot;

    ChannelAnalysis(Graph graph, WeightStore weights, InferenceResult inference)
    {
        Graph = graph;
        Weights = weights;
        Inference = inference;
    }

    public Graph Graph { get; }
    public WeightStore Weights { get; }
    public InferenceResult Inference { get; }
    public IReadOnlyList<ChannelSource> Sources => sources;
    public Dictionary<string, ChannelLayout> Layouts { get; } = new(StringComparer.Ordinal);
    /// <summary>Source created by each node that has one (by node id).</summary>
    public Dictionary<string, ChannelSource> SourceOf { get; } = new(StringComparer.Ordinal);
    public int RefCount => parent.Count;

    public int SourceOfRef(int r) => refSource[r];

    public int Find(int r)
    {
        while (parent[r] != r) { parent[r] = parent[parent[r]]; r = parent[r]; }
        return r;
    }

    /// <summary>Channel refs <paramref name="a"/> and <paramref name="b"/> are kept or removed together.</summary>
    internal void Union(int a, int b)
    {
        a = Find(a); b = Find(b);
        if (a != b) parent[Math.Max(a, b)] = Math.Min(a, b);
    }

    /// <summary>True when the channel cannot be removed (it reaches an output, an input, or an unsupported operator).</summary>
    public bool IsFixed(int r) => fixedRoot![Find(r)];

    /// <summary>True when no channel of the source can be removed: its width is fixed.</summary>
    public bool IsFixed(ChannelSource s) => s.Fixed || Enumerable.Range(s.FirstRef, s.Size).All(IsFixed);

    /// <summary>Removable components: root -> the channel refs that must be kept or removed together.</summary>
    public Dictionary<int, List<int>> Components()
    {
        var map = new Dictionary<int, List<int>>();
        for (int r = 0; r < parent.Count; r++)
        {
            if (IsFixed(r)) continue;
            int root = Find(r);
            if (!map.TryGetValue(root, out var list)) map[root] = list = [];
            list.Add(r);
        }
        return map;
    }

    public ChannelLayout? LayoutOf(Operand o) => o is EdgeOperand e ? Layouts.GetValueOrDefault(e.Key) : null;

    public static ChannelAnalysis Run(Graph graph, WeightStore weights, InferenceResult? inference = null)
    {
        var a = new ChannelAnalysis(graph, weights, inference ?? ShapeInference.Run(graph, weights, batchOne: true));
        a.Analyze();
        return a;
    }

    ChannelSource NewSource(Node? node, long size, bool isFixed)
    {
        var s = new ChannelSource(sources.Count, node, parent.Count, (int)size, isFixed);
        for (int i = 0; i < size; i++)
        {
            parent.Add(parent.Count);
            refSource.Add(s.Id);
            if (isFixed) pinnedRefs.Add(s.FirstRef + i);
        }
        sources.Add(s);
        if (node != null && !isFixed) SourceOf[node.Id] = s;
        return s;
    }

    static ChannelLayout LayoutOfSource(ChannelSource s) => ChannelLayout.Of(Enumerable.Range(s.FirstRef, s.Size).ToArray());

    void Pin(ChannelLayout? l)
    {
        if (l != null) foreach (var r in l.Labels) pinnedRefs.Add(r);
    }

    void Analyze()
    {
        foreach (var i in Graph.Inputs)
            if (Inference.TypeOf(i.Edge).Channels is { } c)
                Layouts[i.Edge] = LayoutOfSource(NewSource(null, c, isFixed: true));

        foreach (var n in Graph.Nodes)
        {
            if (!Visit(n))
            {
                foreach (var e in n.EdgeInputs) Pin(Layouts.GetValueOrDefault(e.Key));
                for (int k = 0; k < n.OutputCount; k++)
                    if (Inference.TypeOf(n.OutputKey(k)).Channels is { } c)
                        Layouts[n.OutputKey(k)] = LayoutOfSource(NewSource(n, c, isFixed: true));
            }
        }
        foreach (var o in Graph.Outputs) Pin(Layouts.GetValueOrDefault(o.Key));
        foreach (var c in Graph.Captures) Pin(Layouts.GetValueOrDefault(c.Key));

        fixedRoot = new bool[parent.Count];
        foreach (var r in pinnedRefs) fixedRoot[Find(r)] = true;
    }

    /// <summary>Type of an operand: an edge's inferred type, or a weight's or literal's own shape.</summary>
    public TensorType TypeOf(Operand o) => o switch
    {
        EdgeOperand e => Inference.TypeOf(e.Key),
        WeightOperand w when Weights.ShapeOf(w.Name) is { } s => new TensorType(DataTypes.Float, s.Select(d => new Dim(d)).ToArray()),
        LiteralOperand l => new TensorType(l.Value.DataType, l.Value.Dims.Select(d => new Dim(d)).ToArray()),
        _ => TensorType.Unknown,
    };

    /// <summary>Integer values of input <paramref name="slot"/> when they are a literal or a stored weight.</summary>
    public long[]? IntsOf(Node n, int slot) => slot < n.Inputs.Count ? n.Inputs[slot] switch
    {
        LiteralOperand l => l.Value.AsInt64(),
        WeightOperand w => Weights.ValueOf(w.Name)?.Ints,
        _ => null,
    } : null;

    /// <summary>The output of <paramref name="n"/> is a layer of <paramref name="size"/> removable channels.</summary>
    internal void AddLayer(Node n, long size) => Layouts[n.Output] = LayoutOfSource(NewSource(n, size, false));

    /// <summary>Every output of <paramref name="n"/> carries the channels of <paramref name="layout"/>.</summary>
    internal void PassToOutputs(Node n, ChannelLayout layout)
    {
        for (int k = 0; k < n.OutputCount; k++) Layouts[n.OutputKey(k)] = layout;
    }

    /// <summary>Position by position, the channels of the two layouts must be kept or removed together.</summary>
    internal bool Unify(ChannelLayout a, ChannelLayout b)
    {
        if (a.Labels.Length != b.Labels.Length) return false;
        for (int i = 0; i < a.Labels.Length; i++) Union(a.Labels[i], b.Labels[i]);
        return true;
    }

    /// <summary>Computes the output layouts of a node; false when the node is not understood (then it is fixed).</summary>
    bool Visit(Node n) => n.Domain.Length == 0 && n.Inputs.Count > 0 && OperatorRegistry.Get(n.Op).MapChannels(this, n);
}

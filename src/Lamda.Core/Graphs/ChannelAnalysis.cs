namespace Lamda.Graphs;

/// <summary>
/// Output channels of one layer whose width can change (Conv, Gemm, MatMul with a weight), or a fixed block
/// of channels (graph inputs, operators Lamda does not rewrite). Its channels are the refs
/// <c>FirstRef .. FirstRef + Size - 1</c>.
/// </summary>
public sealed record ChannelSource(int Id, Node? Node, int FirstRef, int Size, bool Fixed);

/// <summary>
/// Which channel each position of an edge's dimension 1 carries. <see cref="Axes"/> lists the sizes of the
/// channel axes (one, or two after a ShuffleNet-style Reshape splits channels); after a Flatten each
/// feature carries the label of the channel it came from.
/// </summary>
public sealed record ChannelLayout(int[] Labels, int[] Axes)
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
public sealed class ChannelAnalysis
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

    void Union(int a, int b)
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

    TensorType Type(Operand o) => o switch
    {
        EdgeOperand e => Inference.TypeOf(e.Key),
        WeightOperand w when Weights.ShapeOf(w.Name) is { } s => new TensorType(DataTypes.Float, s.Select(d => new Dim(d)).ToArray()),
        LiteralOperand l => new TensorType(l.Value.DataType, l.Value.Dims.Select(d => new Dim(d)).ToArray()),
        _ => TensorType.Unknown,
    };

    long[]? Ints(Node n, int slot) => slot < n.Inputs.Count ? n.Inputs[slot] switch
    {
        LiteralOperand l => l.Value.AsInt64(),
        WeightOperand w => Weights.ValueOf(w.Name)?.Ints,
        _ => null,
    } : null;

    /// <summary>Computes the output layouts of a node; false when the node is not understood (then it is fixed).</summary>
    bool Visit(Node n)
    {
        if (n.Domain.Length > 0 || n.Inputs.Count == 0) return false;
        var x = LayoutOf(n.Inputs[0]);
        var outType = Inference.TypeOf(n.Output);
        switch (n.Op)
        {
            case "Conv" or "ConvTranspose":
            {
                if (x == null || x.Axes.Length != 1 || n.Inputs.Count < 2 || n.Inputs[1] is not WeightOperand w || Weights.ShapeOf(w.Name) is not { } ws) return false;
                long group = n.GetInt("group", 1);
                if (group == 1)
                {
                    Layouts[n.Output] = LayoutOfSource(NewSource(n, n.Op == "Conv" ? ws[0] : ws[1], false));
                    return true;
                }
                if (n.Op == "Conv" && group == x.Labels.Length && ws[0] == group && ws[1] == 1)
                {
                    Layouts[n.Output] = x; // depthwise: output channel i is input channel i
                    return true;
                }
                return false;
            }
            case "Gemm":
            {
                if (x == null || n.GetInt("transA", 0) != 0 || n.Inputs[1] is not WeightOperand w || Weights.ShapeOf(w.Name) is not { Length: 2 } ws) return false;
                bool transB = n.GetInt("transB", 0) != 0;
                if ((transB ? ws[1] : ws[0]) != x.Labels.Length) return false;
                Layouts[n.Output] = LayoutOfSource(NewSource(n, transB ? ws[0] : ws[1], false));
                return true;
            }
            case "MatMul":
            {
                if (x == null || Type(n.Inputs[0]).Rank != 2 || n.Inputs[1] is not WeightOperand w || Weights.ShapeOf(w.Name) is not { Length: 2 } ws || ws[0] != x.Labels.Length) return false;
                Layouts[n.Output] = LayoutOfSource(NewSource(n, ws[1], false));
                return true;
            }
            case "Concat":
            {
                var layouts = n.Inputs.Select(LayoutOf).ToList();
                if (layouts.Any(l => l == null || l.Axes.Length != 1)) return false;
                int rank = outType.Rank;
                long axis = n.GetInt("axis", 0);
                if (axis < 0) axis += rank;
                if (axis == 1)
                {
                    Layouts[n.Output] = ChannelLayout.Of(layouts.SelectMany(l => l!.Labels).ToArray());
                    return true;
                }
                foreach (var l in layouts.Skip(1)) if (!Unify(layouts[0]!, l!)) return false;
                Layouts[n.Output] = layouts[0]!;
                return true;
            }
            case "Slice": return VisitSlice(n, x);
            case "Split": return VisitSplit(n, x);
            case "Reshape" or "Flatten": return VisitReshape(n, x, outType);
            case "Transpose":
            {
                if (x == null) return false;
                var perm = n.GetInts("perm");
                int k = x.Axes.Length;
                if (perm == null || perm[0] != 0) return false;
                for (int i = k + 1; i < perm.Length; i++) if (perm[i] != i) return false;
                var channelPerm = perm.Skip(1).Take(k).Select(p => (int)p - 1).ToArray();
                if (channelPerm.Any(p => p < 0 || p >= k)) return false;
                Layouts[n.Output] = PermuteAxes(x, channelPerm);
                return true;
            }
            case "Squeeze" or "Unsqueeze":
            {
                if (x == null || x.Axes.Length != 1) return false;
                var axes = Graph.Opset >= 13 ? Ints(n, 1) : n.GetInts("axes");
                int rank = n.Op == "Squeeze" ? Type(n.Inputs[0]).Rank : outType.Rank;
                if (axes == null || axes.Any(a => (a < 0 ? a + rank : a) < 2)) return false;
                Layouts[n.Output] = x;
                return true;
            }
            case "Pad":
            {
                var pads = Graph.Opset >= 11 ? Ints(n, 1) : n.GetInts("pads");
                int rank = Type(n.Inputs[0]).Rank;
                if (x == null || pads == null || n.Inputs.Count > 3 || rank < 2 || pads[1] != 0 || pads[1 + rank] != 0) return false;
                Layouts[n.Output] = x;
                return true;
            }
            case "ReduceMean" or "ReduceMax" or "ReduceMin" or "ReduceSum" or "ReduceL2":
            {
                var axes = (Graph.Opset >= 18 || (n.Op == "ReduceSum" && Graph.Opset >= 13)) ? Ints(n, 1) : n.GetInts("axes");
                int rank = Type(n.Inputs[0]).Rank;
                if (x == null || axes == null || axes.Length == 0 || axes.Any(a => (a < 0 ? a + rank : a) < 2)) return false;
                Layouts[n.Output] = x;
                return true;
            }
            case "Resize" or "Upsample" or "MaxPool" or "AveragePool" or "LpPool" or "GlobalAveragePool" or "GlobalMaxPool" or "LRN":
                if (x == null) return false;
                for (int k = 0; k < n.OutputCount; k++) Layouts[n.OutputKey(k)] = x;
                return true;
        }
        if (OperatorCatalog.Unary.Contains(n.Op) || OperatorCatalog.Broadcasting.Contains(n.Op))
            return VisitElementwise(n, outType);
        return false;
    }

    /// <summary>Elementwise operators: every full-channel edge input must carry the same channels.</summary>
    bool VisitElementwise(Node n, TensorType outType)
    {
        if (outType.Channels is not { } c || outType.Rank < 2) return false;
        ChannelLayout? first = null;
        for (int i = 0; i < n.Inputs.Count; i++)
        {
            var op = n.Inputs[i];
            var t = Type(op);
            if (op is EmptyOperand) continue;
            if (t.Dims == null) return false;
            // Align right, as broadcasting does; the channel axis of this input (if it has one).
            int axis = t.Rank - (outType.Rank - 1);
            long size = axis >= 0 && axis < t.Rank && t.Dims[axis].IsKnown ? t.Dims[axis].Value : 1;
            if (size == 1) continue;
            if (size != c) return false;
            if (op is not EdgeOperand) continue; // per-channel constants are sliced with the channels
            var l = LayoutOf(op);
            if (l == null || t.Rank != outType.Rank) return false;
            if (first == null) first = l;
            else if (!Unify(first, l)) return false;
        }
        if (first == null) return false;
        for (int k = 0; k < n.OutputCount; k++) Layouts[n.OutputKey(k)] = first;
        return true;
    }

    bool Unify(ChannelLayout a, ChannelLayout b)
    {
        if (a.Labels.Length != b.Labels.Length) return false;
        for (int i = 0; i < a.Labels.Length; i++) Union(a.Labels[i], b.Labels[i]);
        return true;
    }

    bool VisitSlice(Node n, ChannelLayout? x)
    {
        if (x == null || x.Axes.Length != 1) return false;
        var starts = Ints(n, 1); var ends = Ints(n, 2);
        int rank = Type(n.Inputs[0]).Rank;
        var axes = n.Inputs.Count > 3 && n.Inputs[3] is not EmptyOperand ? Ints(n, 3) : starts == null ? null : Enumerable.Range(0, starts.Length).Select(i => (long)i).ToArray();
        var steps = n.Inputs.Count > 4 && n.Inputs[4] is not EmptyOperand ? Ints(n, 4) : starts?.Select(_ => 1L).ToArray();
        if (starts == null || ends == null || axes == null || steps == null) return false;
        int idx = Array.FindIndex(axes, a => (a < 0 ? a + rank : a) == 1);
        if (idx < 0) { Layouts[n.Output] = x; return true; }
        if (steps[idx] != 1) return false;
        var (s, e) = Bounds(starts[idx], ends[idx], x.Labels.Length);
        Layouts[n.Output] = ChannelLayout.Of(x.Labels[s..e]);
        return true;
    }

    /// <summary>Clamps Slice bounds on an axis of <paramref name="length"/> (negative counts from the end).</summary>
    public static (int Start, int End) Bounds(long start, long end, int length)
    {
        long s = start < 0 ? start + length : start, e = end < 0 ? end + length : end;
        s = Math.Clamp(s, 0, length); e = Math.Clamp(e, s, length);
        return ((int)s, (int)e);
    }

    bool VisitSplit(Node n, ChannelLayout? x)
    {
        if (x == null || x.Axes.Length != 1) return false;
        int rank = Type(n.Inputs[0]).Rank;
        long axis = n.GetInt("axis", 0);
        if (axis < 0) axis += rank;
        if (axis != 1)
        {
            for (int k = 0; k < n.OutputCount; k++) Layouts[n.OutputKey(k)] = x;
            return true;
        }
        var sizes = Graph.Opset >= 13 ? (n.Inputs.Count > 1 && n.Inputs[1] is not EmptyOperand ? Ints(n, 1) : null) : n.GetInts("split");
        if (sizes == null)
        {
            if (x.Labels.Length % n.OutputCount != 0) return false;
            sizes = Enumerable.Repeat((long)(x.Labels.Length / n.OutputCount), n.OutputCount).ToArray();
        }
        if (sizes.Length != n.OutputCount || sizes.Sum() != x.Labels.Length) return false;
        int offset = 0;
        for (int k = 0; k < n.OutputCount; k++)
        {
            Layouts[n.OutputKey(k)] = ChannelLayout.Of(x.Labels[offset..(offset + (int)sizes[k])]);
            offset += (int)sizes[k];
        }
        return true;
    }

    /// <summary>
    /// Reshape and Flatten keep channel labels when the spatial part is untouched: an identity, a split of the
    /// channel axis into several (ShuffleNet), a merge back, or a flatten to features (each feature carries
    /// its channel's label).
    /// </summary>
    bool VisitReshape(Node n, ChannelLayout? x, TensorType outType)
    {
        var inType = Type(n.Inputs[0]);
        if (x == null || !inType.IsStatic || !outType.IsStatic) return false;
        var X = inType.Dims!.Select(d => d.Value).ToArray();
        var Y = outType.Dims!.Select(d => d.Value).ToArray();
        if (X.Length < 2 || Y.Length < 2 || X[0] != Y[0]) return false;
        int k = x.Axes.Length;
        var spatial = X[(1 + k)..];
        long channels = x.Labels.Length;
        // Flatten to features: [N, C, *S] -> [N, C * prod(S)].
        if (Y.Length == 2 && Y[1] == channels * spatial.Aggregate(1L, (a, b) => a * b) && spatial.Length > 0)
        {
            long per = spatial.Aggregate(1L, (a, b) => a * b);
            Layouts[n.Output] = ChannelLayout.Of(x.Labels.SelectMany(l => Enumerable.Repeat(l, (int)per)).ToArray());
            return true;
        }
        // Channel axes regrouped, spatial axes unchanged.
        for (int j = 1; j < Y.Length; j++)
        {
            long prod = Y[1..(1 + j)].Aggregate(1L, (a, b) => a * b);
            if (prod != channels || !Y[(1 + j)..].SequenceEqual(spatial)) continue;
            var axes = Y[1..(1 + j)].Select(v => (int)v).ToArray();
            var labels = x.Labels;
            if (axes.Length > 1)
            {
                // A split of channels into [outer, inner]: the positions that share an inner index must stay
                // aligned (a shuffle pairs them), so they are kept or removed together.
                int outer = axes[0], inner = labels.Length / outer;
                for (int i = 0; i < inner; i++)
                    for (int o = 1; o < outer; o++) Union(labels[i], labels[o * inner + i]);
            }
            Layouts[n.Output] = new ChannelLayout(labels, axes);
            return true;
        }
        return false;
    }

    static ChannelLayout PermuteAxes(ChannelLayout l, int[] perm)
    {
        int k = l.Axes.Length;
        var newAxes = perm.Select(p => l.Axes[p]).ToArray();
        var strides = new int[k];
        for (int i = k - 1, s = 1; i >= 0; i--) { strides[i] = s; s *= l.Axes[i]; }
        var result = new int[l.Labels.Length];
        var idx = new int[k];
        for (int pos = 0; pos < result.Length; pos++)
        {
            // idx is the multi-index in the new layout; map back to the old position.
            int old = 0;
            for (int a = 0; a < k; a++) old += idx[a] * strides[perm[a]];
            result[pos] = l.Labels[old];
            for (int a = k - 1; a >= 0; a--) { if (++idx[a] < newAxes[a]) break; idx[a] = 0; }
        }
        return new ChannelLayout(result, newAxes);
    }
}

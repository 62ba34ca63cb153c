namespace Lamda.Graphs;

/// <summary>Types of every edge, and the values of small integer tensors that could be computed statically.</summary>
public sealed class InferenceResult
{
    public Dictionary<string, TensorType> Types { get; } = [];
    public Dictionary<string, TensorLiteral> Values { get; } = [];

    public TensorType TypeOf(string key) => Types.GetValueOrDefault(key) ?? TensorType.Unknown;
}

/// <summary>
/// Static shape and channel inference over a <see cref="Graph"/>. It also evaluates integer shape
/// arithmetic (Shape, Gather, Unsqueeze, Concat, Add, Mul, Div, Slice...) so that exporter noise such as
/// <c>Shape -> Gather -> Div -> Slice</c> can be folded into constants by the normalizer.
/// Unsupported operators yield unknown types: inference degrades, it never fails.
/// </summary>
public static class ShapeInference
{
    /// <summary>Integer tensors up to this many elements are evaluated; larger ones are left alone.</summary>
    const int MaxFoldedElements = 4096;

    /// <param name="graph">the graph to annotate</param>
    /// <param name="weights">its weights, for the shapes of weight operands and constant folding (may be null)</param>
    /// <param name="batchOne">
    /// Treat symbolic input dimensions as 1, as latency measurement does (batch 1). Only for costing: the
    /// normalizer must not use it, or it would fold a symbolic batch size into constants.
    /// </param>
    public static InferenceResult Run(Graph graph, WeightStore? weights, bool batchOne = false)
    {
        var r = new InferenceResult();
        foreach (var i in graph.Inputs)
            r.Types[i.Edge] = batchOne && i.Type.Dims != null ? i.Type.WithDims(i.Type.Dims.Select(d => d.IsKnown ? d : new Dim(1)).ToArray()) : i.Type;
        foreach (var node in graph.Nodes)
        {
            var ctx = new Context(node, r, weights, graph.Opset);
            TensorType[] outs;
            try { outs = Infer(ctx); }
            catch (Exception) // inference is best effort: an unexpected attribute form must not stop import
            {
                outs = [];
            }
            for (int k = 0; k < node.OutputCount; k++)
                r.Types[node.OutputKey(k)] = k < outs.Length ? outs[k] : TensorType.Unknown;
            // Only integer tensors are propagated: they are shape arithmetic, never learned weights.
            if (ctx.Value is { Ints: not null } v && v.Count <= MaxFoldedElements) r.Values[node.Output] = v;
        }
        return r;
    }

    /// <summary>Sets <see cref="Node.InChannels"/> and <see cref="Node.OutChannels"/> from inferred types.</summary>
    public static InferenceResult AnnotateChannels(Graph graph, WeightStore? weights)
    {
        var r = Run(graph, weights);
        foreach (var n in graph.Nodes)
        {
            var data = n.Inputs.FirstOrDefault(o => o is EdgeOperand or WeightOperand or LiteralOperand);
            n.InChannels = data is EdgeOperand e ? r.TypeOf(e.Key).Channels : null;
            n.OutChannels = r.TypeOf(n.Output).Channels;
        }
        return r;
    }

    sealed class Context(Node node, InferenceResult r, WeightStore? weights, long opset)
    {
        public Node Node { get; } = node;
        public long Opset { get; } = opset;
        public TensorLiteral? Value { get; set; }
        public int Count => Node.Inputs.Count;

        public bool Has(int i) => i < Node.Inputs.Count && Node.Inputs[i] is not EmptyOperand;

        public TensorType Type(int i) => i >= Node.Inputs.Count ? TensorType.Unknown : Node.Inputs[i] switch
        {
            EdgeOperand e => r.TypeOf(e.Key),
            WeightOperand w when weights?.TryGet(w.Name, out var t) == true =>
                new TensorType(t.DataType, t.Dims.Select(d => new Dim(d)).ToArray()),
            LiteralOperand l => new TensorType(l.Value.DataType, l.Value.Dims.Select(d => new Dim(d)).ToArray()),
            _ => TensorType.Unknown,
        };

        public TensorLiteral? Val(int i) => i >= Node.Inputs.Count ? null : Node.Inputs[i] switch
        {
            EdgeOperand e => r.Values.GetValueOrDefault(e.Key),
            WeightOperand w => SmallValue(w.Name),
            LiteralOperand l => l.Value,
            _ => null,
        };

        TensorLiteral? SmallValue(string name)
        {
            var shape = weights?.ShapeOf(name);
            if (shape == null || shape.Aggregate(1L, (a, d) => a * d) > MaxFoldedElements) return null;
            return weights!.ValueOf(name);
        }

        public long[]? Ints(int i) => Val(i)?.AsInt64();

        /// <summary>The type of a tensor in the weight store: a Constant node's value as paddle2onnx exports weights.</summary>
        public TensorType? Stored(string name) =>
            weights?.TryGet(name, out var t) == true ? new TensorType(t.DataType, t.Dims.Select(d => new Dim(d)).ToArray()) : null;
    }

    static TensorType Same(TensorType t, Dim[]? dims) => new(t.ElemType, dims);

    static TensorType[] Infer(Context c)
    {
        var n = c.Node;
        var x = c.Type(0);
        var dims = x.Dims;
        if (n.Domain is not ("" or "ai.onnx")) return [];
        switch (n.Op)
        {
            case "Constant":
            {
                var v = n.Attribute("value");
                if (v?.Kind == AttributeKind.Tensor)
                {
                    c.Value = IntegerOnly(v.Tensor!);
                    return [new TensorType(v.Tensor!.DataType, v.Tensor.Dims.Select(d => new Dim(d)).ToArray())];
                }
                if (v?.Kind == AttributeKind.Reference && c.Stored(v.Reference) is { } stored) return [stored];
                if (n.Attribute("value_ints") is { } vi) { c.Value = TensorLiteral.Int64(vi.Ints); return [new(DataTypes.Int64, [vi.Ints.Length])]; }
                if (n.Attribute("value_int") is { } v1) { c.Value = TensorLiteral.Int64([v1.Int], []); return [new(DataTypes.Int64, [])]; }
                if (n.Attribute("value_float") is not null) return [new(DataTypes.Float, [])];
                if (n.Attribute("value_floats") is { } vf) return [new(DataTypes.Float, [vf.Floats.Length])];
                return [];
            }
            case "Identity":
                c.Value = c.Val(0);
                return [x];
            case "Dropout":
                return [x, new TensorType(DataTypes.Bool, dims)];
            case "BatchNormalization":
                return n.OutputCount == 1 ? [x] : [x, c.Type(3), c.Type(4), c.Type(3), c.Type(4)];
            case "Cast":
            {
                int to = (int)n.GetInt("to", 0);
                if (c.Val(0) is { } v && DataTypes.IsInteger(to) && to != DataTypes.Bool) c.Value = new TensorLiteral(to, v.Dims, v.AsInt64(), null);
                return [new TensorType(to, dims)];
            }
            case "Conv" or "ConvTranspose" or "MaxPool" or "AveragePool" or "LpPool":
            {
                var y = WindowOp(c);
                return [y, new TensorType(DataTypes.Int64, y.Dims)];
            }
            case "GlobalAveragePool" or "GlobalMaxPool" or "GlobalLpPool":
                return dims == null ? [x] : [Same(x, dims.Select((d, i) => i < 2 ? d : new Dim(1)).ToArray())];
            case "Gemm":
            {
                var a = c.Type(0).Dims; var b = c.Type(1).Dims;
                if (a is not { Length: 2 } || b is not { Length: 2 }) return [Same(x, null)];
                var m = n.GetInt("transA", 0) != 0 ? a[1] : a[0];
                var nn = n.GetInt("transB", 0) != 0 ? b[0] : b[1];
                return [Same(x, [m, nn])];
            }
            case "MatMul":
                return [Same(x, MatMulDims(c.Type(0).Dims, c.Type(1).Dims))];
            case "Concat":
            {
                var types = Enumerable.Range(0, c.Count).Select(c.Type).ToArray();
                if (types.Any(t => t.Dims == null)) return [Same(x, null)];
                int rank = types[0].Rank;
                int axis = Axis(n.GetInt("axis", 0), rank);
                var outDims = types[0].Dims!.ToArray();
                long sum = 0; bool known = true;
                foreach (var t in types) { if (t.Dims![axis].IsKnown) sum += t.Dims[axis].Value; else known = false; }
                outDims[axis] = known ? sum : Dim.Unknown;
                var vals = Enumerable.Range(0, c.Count).Select(c.Val).ToArray();
                if (rank == 1 && vals.All(v => v != null))
                    c.Value = new TensorLiteral(vals[0]!.DataType, [vals.Sum(v => v!.Count)], vals.SelectMany(v => v!.AsInt64()).ToArray(), null);
                return [Same(x, outDims)];
            }
            case "Split":
                return SplitOp(c);
            case "Slice":
                return [SliceOp(c)];
            case "Reshape":
                return [ReshapeOp(c)];
            case "Flatten":
            {
                if (dims == null) return [Same(x, [Dim.Unknown, Dim.Unknown])];
                int axis = Axis(n.GetInt("axis", 1), dims.Length);
                return [Same(x, [Product(dims[..axis]), Product(dims[axis..])])];
            }
            case "Transpose":
            {
                if (dims == null) return [x];
                var perm = n.GetInts("perm") ?? Enumerable.Range(0, dims.Length).Reverse().Select(i => (long)i).ToArray();
                return [Same(x, perm.Select(p => dims[p]).ToArray())];
            }
            case "ReduceMean" or "ReduceSum" or "ReduceMax" or "ReduceMin" or "ReduceProd" or "ReduceL1" or "ReduceL2"
                or "ReduceLogSum" or "ReduceLogSumExp" or "ReduceSumSquare" or "ArgMax" or "ArgMin":
                return [ReduceOp(c)];
            case "Pad":
            {
                if (dims == null) return [x];
                var pads = c.Opset >= 11 ? c.Ints(1) : n.GetInts("pads");
                if (pads == null) return [Same(x, dims.Select(_ => Dim.Unknown).ToArray())];
                var axes = c.Opset >= 18 && c.Has(3) ? c.Ints(3) : null;
                var outDims = dims.ToArray();
                var axisList = axes?.Select(a => Axis(a, dims.Length)).ToArray() ?? Enumerable.Range(0, dims.Length).ToArray();
                for (int k = 0; k < axisList.Length; k++)
                {
                    int ax = axisList[k];
                    outDims[ax] = dims[ax].IsKnown ? dims[ax].Value + pads[k] + pads[k + axisList.Length] : Dim.Unknown;
                }
                return [Same(x, outDims)];
            }
            case "Resize" or "Upsample":
                return [ResizeOp(c)];
            case "Shape":
            {
                if (dims == null) return [new TensorType(DataTypes.Int64, [Dim.Unknown])];
                int start = (int)n.GetInt("start", 0), end = (int)n.GetInt("end", dims.Length);
                start = Math.Clamp(start < 0 ? start + dims.Length : start, 0, dims.Length);
                end = Math.Clamp(end < 0 ? end + dims.Length : end, 0, dims.Length);
                var part = dims[start..Math.Max(start, end)];
                if (part.All(d => d.IsKnown)) c.Value = TensorLiteral.Int64(part.Select(d => d.Value).ToArray());
                return [new TensorType(DataTypes.Int64, [part.Length])];
            }
            case "Size":
                if (x.ElementCount is { } count) c.Value = TensorLiteral.Int64([count], []);
                return [new TensorType(DataTypes.Int64, [])];
            case "Gather":
                return [GatherOp(c)];
            case "Unsqueeze":
            {
                var axes = c.Opset >= 13 ? c.Ints(1) : n.GetInts("axes");
                if (dims == null || axes == null) return [Same(x, null)];
                int rank = dims.Length + axes.Length;
                var norm = axes.Select(a => Axis(a, rank)).ToHashSet();
                var outDims = new Dim[rank];
                for (int i = 0, j = 0; i < rank; i++) outDims[i] = norm.Contains(i) ? new Dim(1) : dims[j++];
                if (c.Val(0) is { } v) c.Value = new TensorLiteral(v.DataType, outDims.Select(d => d.Value).ToArray(), v.AsInt64(), null);
                return [Same(x, outDims)];
            }
            case "Squeeze":
            {
                var axes = c.Opset >= 13 ? (c.Has(1) ? c.Ints(1) : []) : n.GetInts("axes") ?? [];
                if (dims == null || axes == null) return [Same(x, null)];
                var norm = axes.Select(a => Axis(a, dims.Length)).ToHashSet();
                var outDims = dims.Where((d, i) => norm.Count == 0 ? !(d.IsKnown && d.Value == 1) : !norm.Contains(i)).ToArray();
                if (c.Val(0) is { } v) c.Value = new TensorLiteral(v.DataType, outDims.Select(d => d.Value).ToArray(), v.AsInt64(), null);
                return [Same(x, outDims)];
            }
            case "Expand":
            {
                var shape = c.Ints(1);
                return [Same(x, shape == null || dims == null ? null : Broadcast(dims, shape.Select(s => new Dim(s)).ToArray()))];
            }
            case "ConstantOfShape":
            {
                var shape = c.Ints(0);
                var value = n.Attribute("value")?.Tensor;
                int et = value?.DataType ?? DataTypes.Float;
                if (shape != null && value?.Ints is { Length: 1 } fill && shape.Aggregate(1L, (a, b) => a * b) <= MaxFoldedElements)
                    c.Value = new TensorLiteral(et, shape, Enumerable.Repeat(fill[0], (int)shape.Aggregate(1L, (a, b) => a * b)).ToArray(), null);
                return [new TensorType(et, shape?.Select(s => new Dim(s)).ToArray())];
            }
            case "DepthToSpace" or "SpaceToDepth":
            {
                if (dims is not { Length: 4 }) return [x];
                long b = n.GetInt("blocksize", 1);
                bool d2s = n.Op == "DepthToSpace";
                Dim Scale(Dim d, bool up) => d.IsKnown ? (up ? d.Value * b : d.Value / b) : Dim.Unknown;
                return [Same(x, [dims[0], d2s ? (dims[1].IsKnown ? dims[1].Value / (b * b) : Dim.Unknown) : (dims[1].IsKnown ? dims[1].Value * b * b : Dim.Unknown), Scale(dims[2], d2s), Scale(dims[3], d2s)])];
            }
        }
        if (OperatorCatalog.Broadcasting.Contains(n.Op))
        {
            var types = Enumerable.Range(0, c.Count).Select(c.Type).ToArray();
            Dim[]? outDims = types[0].Dims;
            foreach (var t in types.Skip(1)) outDims = outDims == null || t.Dims == null ? null : Broadcast(outDims, t.Dims);
            int et = n.Op is "Equal" or "Less" or "Greater" or "LessOrEqual" or "GreaterOrEqual" or "And" or "Or" or "Xor"
                ? DataTypes.Bool : (n.Op == "Where" ? c.Type(1).ElemType : types[0].ElemType);
            if (n.Op is "Add" or "Sub" or "Mul" or "Div" && c.Val(0) is { } a && c.Val(1) is { } b2 && DataTypes.IsInteger(a.DataType))
                c.Value = IntArithmetic(n.Op, a, b2, outDims);
            return [new TensorType(et, outDims)];
        }
        if (OperatorCatalog.Unary.Contains(n.Op)) return [x];
        return [];
    }

    static TensorLiteral? IntegerOnly(TensorLiteral t) => t.Ints != null ? t : null;

    static int Axis(long axis, int rank) => (int)(axis < 0 ? axis + rank : axis);

    static Dim Product(IEnumerable<Dim> dims)
    {
        long p = 1;
        foreach (var d in dims) { if (!d.IsKnown) return Dim.Unknown; p *= d.Value; }
        return p;
    }

    static Dim[] Broadcast(Dim[] a, Dim[] b)
    {
        int rank = Math.Max(a.Length, b.Length);
        var r = new Dim[rank];
        for (int i = 0; i < rank; i++)
        {
            var da = i - (rank - a.Length) >= 0 ? a[i - (rank - a.Length)] : new Dim(1);
            var db = i - (rank - b.Length) >= 0 ? b[i - (rank - b.Length)] : new Dim(1);
            r[i] = da.IsKnown && da.Value == 1 ? db
                : db.IsKnown && db.Value == 1 ? da
                : da.IsKnown ? da
                : db.IsKnown ? db
                : da.Param != null && da.Param == db.Param ? da : Dim.Unknown;
        }
        return r;
    }

    static TensorLiteral? IntArithmetic(string op, TensorLiteral a, TensorLiteral b, Dim[]? outDims)
    {
        if (outDims == null || outDims.Any(d => !d.IsKnown)) return null;
        var av = a.AsInt64(); var bv = b.AsInt64();
        long count = outDims.Aggregate(1L, (p, d) => p * d.Value);
        if (count > MaxFoldedElements || (av.Length != count && av.Length != 1) || (bv.Length != count && bv.Length != 1)) return null;
        var r = new long[count];
        for (int i = 0; i < count; i++)
        {
            long x = av[av.Length == 1 ? 0 : i], y = bv[bv.Length == 1 ? 0 : i];
            r[i] = op switch { "Add" => x + y, "Sub" => x - y, "Mul" => x * y, _ => y == 0 ? throw new DivideByZeroException() : x / y };
        }
        return new TensorLiteral(a.DataType, outDims.Select(d => d.Value).ToArray(), r, null);
    }

    static Dim[]? MatMulDims(Dim[]? a, Dim[]? b)
    {
        if (a == null || b == null || a.Length == 0 || b.Length == 0) return null;
        bool aVec = a.Length == 1, bVec = b.Length == 1;
        var a2 = aVec ? [new Dim(1), a[0]] : a;
        var b2 = bVec ? [b[0], new Dim(1)] : b;
        var batch = Broadcast(a2[..^2], b2[..^2]);
        var r = batch.Concat([a2[^2], b2[^1]]).ToList();
        if (bVec) r.RemoveAt(r.Count - 1);
        if (aVec) r.RemoveAt(r.Count - (bVec ? 1 : 2));
        return r.ToArray();
    }

    /// <summary>Conv, ConvTranspose and pooling: channel count and spatial sizes.</summary>
    static TensorType WindowOp(Context c)
    {
        var n = c.Node;
        var x = c.Type(0);
        if (x.Dims == null || x.Dims.Length < 3) return x.WithDims(null);
        var dims = x.Dims;
        int spatial = dims.Length - 2;
        var w = c.Type(1).Dims;
        bool conv = n.Op is "Conv" or "ConvTranspose";
        long group = n.GetInt("group", 1);
        Dim channels = !conv ? dims[1]
            : w == null ? Dim.Unknown
            : n.Op == "Conv" ? w[0]
            : w[1].IsKnown ? w[1].Value * group : Dim.Unknown;
        var kernel = n.GetInts("kernel_shape") ?? (w != null && w.Length == dims.Length && w.Skip(2).All(d => d.IsKnown) ? w.Skip(2).Select(d => d.Value).ToArray() : null);
        if (kernel == null) return new TensorType(x.ElemType, [dims[0], channels, .. Enumerable.Repeat(Dim.Unknown, spatial)]);
        var strides = n.GetInts("strides") ?? Enumerable.Repeat(1L, spatial).ToArray();
        var dil = n.GetInts("dilations") ?? Enumerable.Repeat(1L, spatial).ToArray();
        var pads = n.GetInts("pads") ?? new long[spatial * 2];
        string autoPad = n.GetString("auto_pad") ?? "NOTSET";
        bool ceil = n.GetInt("ceil_mode", 0) != 0;
        var outDims = new Dim[dims.Length];
        outDims[0] = dims[0];
        outDims[1] = channels;
        var outputShape = n.GetInts("output_shape");
        var outputPadding = n.GetInts("output_padding") ?? new long[spatial];
        for (int i = 0; i < spatial; i++)
        {
            var d = dims[i + 2];
            if (!d.IsKnown) { outDims[i + 2] = Dim.Unknown; continue; }
            long ek = dil[i] * (kernel[i] - 1) + 1;
            long size;
            if (n.Op == "ConvTranspose")
            {
                if (outputShape != null) size = outputShape[outputShape.Length - spatial + i];
                else if (autoPad is "SAME_UPPER" or "SAME_LOWER") size = d.Value * strides[i];
                else size = strides[i] * (d.Value - 1) + outputPadding[i] + ek - pads[i] - pads[i + spatial];
            }
            else if (autoPad is "SAME_UPPER" or "SAME_LOWER") size = (d.Value + strides[i] - 1) / strides[i];
            else if (autoPad == "VALID") size = (d.Value - ek) / strides[i] + 1;
            else
            {
                long span = d.Value + pads[i] + pads[i + spatial] - ek;
                size = (ceil ? (span + strides[i] - 1) / strides[i] : span / strides[i]) + 1;
                // ceil_mode never lets the last window start inside the end padding.
                if (ceil && (size - 1) * strides[i] >= d.Value + pads[i]) size--;
            }
            outDims[i + 2] = size;
        }
        return new TensorType(x.ElemType, outDims);
    }

    static TensorType[] SplitOp(Context c)
    {
        var n = c.Node;
        var x = c.Type(0);
        int outs = n.OutputCount;
        if (x.Dims == null) return Enumerable.Repeat(x, outs).ToArray();
        int axis = Axis(n.GetInt("axis", 0), x.Rank);
        var split = c.Opset >= 13 ? (c.Has(1) ? c.Ints(1) : null) : n.GetInts("split");
        var d = x.Dims[axis];
        if (split == null && d.IsKnown)
        {
            long chunk = (d.Value + outs - 1) / outs;
            split = Enumerable.Range(0, outs).Select(i => Math.Min(chunk, d.Value - chunk * i)).ToArray();
        }
        return Enumerable.Range(0, outs).Select(i =>
        {
            var od = x.Dims.ToArray();
            od[axis] = split != null && i < split.Length ? split[i] : Dim.Unknown;
            return Same(x, od);
        }).ToArray();
    }

    static TensorType SliceOp(Context c)
    {
        var n = c.Node;
        var x = c.Type(0);
        if (x.Dims == null) return x;
        long[]? starts, ends, axes, steps;
        if (c.Opset >= 10)
        {
            starts = c.Ints(1); ends = c.Ints(2);
            axes = c.Has(3) ? c.Ints(3) : Enumerable.Range(0, starts?.Length ?? 0).Select(i => (long)i).ToArray();
            steps = c.Has(4) ? c.Ints(4) : starts?.Select(_ => 1L).ToArray();
        }
        else
        {
            starts = n.GetInts("starts"); ends = n.GetInts("ends");
            axes = n.GetInts("axes") ?? Enumerable.Range(0, starts?.Length ?? 0).Select(i => (long)i).ToArray();
            steps = starts?.Select(_ => 1L).ToArray();
        }
        var outDims = x.Dims.ToArray();
        if (starts == null || ends == null || axes == null || steps == null)
        {
            foreach (var a in axes ?? Enumerable.Range(0, outDims.Length).Select(i => (long)i).ToArray()) outDims[Axis(a, outDims.Length)] = Dim.Unknown;
            return Same(x, outDims);
        }
        var sliceIdx = new List<(int axis, long start, long step, long count)>();
        for (int i = 0; i < axes.Length; i++)
        {
            int ax = Axis(axes[i], outDims.Length);
            var d = x.Dims[ax];
            if (!d.IsKnown) { outDims[ax] = Dim.Unknown; continue; }
            long dim = d.Value, step = steps[i];
            long s = starts[i] < 0 ? starts[i] + dim : starts[i];
            long e = ends[i] < 0 ? ends[i] + dim : ends[i];
            long count;
            if (step > 0) { s = Math.Clamp(s, 0, dim); e = Math.Clamp(e, 0, dim); count = Math.Max(0, (e - s + step - 1) / step); }
            else { s = Math.Clamp(s, 0, dim - 1); e = Math.Clamp(e, -1, dim - 1); count = Math.Max(0, (s - e + (-step) - 1) / (-step)); }
            outDims[ax] = count;
            sliceIdx.Add((ax, s, step, count));
        }
        if (c.Val(0) is { Dims.Length: 1 } v && sliceIdx.Count == 1)
        {
            var (_, s0, st, cnt) = sliceIdx[0];
            var src = v.AsInt64();
            c.Value = new TensorLiteral(v.DataType, [cnt], Enumerable.Range(0, (int)cnt).Select(k => src[s0 + k * st]).ToArray(), null);
        }
        return Same(x, outDims);
    }

    static TensorType ReshapeOp(Context c)
    {
        var x = c.Type(0);
        var shape = c.Ints(1);
        if (shape == null)
        {
            var st = c.Type(1);
            return Same(x, st.Dims is { Length: 1 } && st.Dims[0].IsKnown ? Enumerable.Repeat(Dim.Unknown, (int)st.Dims[0].Value).ToArray() : null);
        }
        bool allowZero = c.Node.GetInt("allowzero", 0) != 0;
        var outDims = new Dim[shape.Length];
        int infer = -1;
        for (int i = 0; i < shape.Length; i++)
        {
            if (shape[i] == -1) { infer = i; outDims[i] = Dim.Unknown; }
            else if (shape[i] == 0 && !allowZero) outDims[i] = x.Dims != null && i < x.Dims.Length ? x.Dims[i] : Dim.Unknown;
            else outDims[i] = shape[i];
        }
        if (infer >= 0 && x.ElementCount is { } total)
        {
            long known = outDims.Where((d, i) => i != infer).Aggregate(1L, (a, d) => d.IsKnown ? a * d.Value : -1);
            if (known > 0) outDims[infer] = total / known;
        }
        if (c.Val(0) is { } v && outDims.All(d => d.IsKnown)) c.Value = new TensorLiteral(v.DataType, outDims.Select(d => d.Value).ToArray(), v.AsInt64(), null);
        return Same(x, outDims);
    }

    static TensorType ReduceOp(Context c)
    {
        var n = c.Node;
        var x = c.Type(0);
        if (x.Dims == null) return x;
        bool argOp = n.Op is "ArgMax" or "ArgMin";
        int et = argOp ? DataTypes.Int64 : x.ElemType;
        bool keep = n.GetInt("keepdims", 1) != 0;
        long[]? axes = argOp ? [n.GetInt("axis", 0)]
            : (c.Opset >= 18 || n.Op == "ReduceSum" && c.Opset >= 13) ? (c.Has(1) ? c.Ints(1) : [])
            : n.GetInts("axes") ?? [];
        if (axes == null) return new TensorType(et, keep ? x.Dims.Select(_ => Dim.Unknown).ToArray() : null);
        if (axes.Length == 0 && n.GetInt("noop_with_empty_axes", 0) != 0) return x;
        var set = axes.Length == 0 ? Enumerable.Range(0, x.Rank).ToHashSet() : axes.Select(a => Axis(a, x.Rank)).ToHashSet();
        var outDims = keep ? x.Dims.Select((d, i) => set.Contains(i) ? new Dim(1) : d).ToArray() : x.Dims.Where((d, i) => !set.Contains(i)).ToArray();
        return new TensorType(et, outDims);
    }

    static TensorType ResizeOp(Context c)
    {
        var x = c.Type(0);
        if (x.Dims == null) return x;
        var sizes = c.Node.Op == "Resize" && c.Has(3) ? c.Ints(3) : null;
        if (sizes != null && sizes.Length == x.Rank) return Same(x, sizes.Select(s => new Dim(s)).ToArray());
        int scalesSlot = c.Node.Op == "Upsample" ? 1 : c.Opset >= 11 ? 2 : 1;
        var scales = c.Val(scalesSlot)?.Reals;
        if (scales == null || scales.Length != x.Rank) return Same(x, x.Dims.Select(_ => Dim.Unknown).ToArray());
        return Same(x, x.Dims.Select((d, i) => d.IsKnown ? new Dim((long)Math.Floor(d.Value * (float)scales[i])) : Dim.Unknown).ToArray());
    }

    static TensorType GatherOp(Context c)
    {
        var x = c.Type(0);
        var idx = c.Type(1);
        if (x.Dims == null || idx.Dims == null) return Same(x, null);
        int axis = Axis(c.Node.GetInt("axis", 0), x.Rank);
        var outDims = x.Dims[..axis].Concat(idx.Dims).Concat(x.Dims[(axis + 1)..]).ToArray();
        if (c.Val(0) is { Dims.Length: 1 } data && c.Ints(1) is { } ind)
        {
            var src = data.AsInt64();
            c.Value = new TensorLiteral(data.DataType, idx.Dims.Select(d => d.Value).ToArray(), ind.Select(i => src[i < 0 ? i + src.Length : i]).ToArray(), null);
        }
        return Same(x, outDims);
    }
}

using Lamda.Graphs;
using Lamda.Latency;
using Lamda.Training.Gradients;
using static Lamda.Operators.ShapeMath;

namespace Lamda.Operators;

/// <summary>Concat: along channels its inputs' channels follow one another; along another axis they must agree.</summary>
internal sealed class ConcatRule() : OperatorRule(KernelClass.Concat, "Concat")
{
    public override OperatorSignature SignatureOf(string op) => OperatorSignature.Of(1, int.MaxValue, ["axis"]);

    public override TensorType[] InferTypes(ShapeContext c)
    {
        var types = Enumerable.Range(0, c.Count).Select(c.Type).ToArray();
        if (types.Any(t => t.Dims == null)) return [Same(c.X, null)];
        int rank = types[0].Rank;
        int axis = Axis(c.Node.GetInt("axis", 0), rank);
        var outDims = types[0].Dims!.ToArray();
        long sum = 0; bool known = true;
        foreach (var t in types) { if (t.Dims![axis].IsKnown) sum += t.Dims[axis].Value; else known = false; }
        outDims[axis] = known ? sum : Dim.Unknown;
        var vals = Enumerable.Range(0, c.Count).Select(c.Val).ToArray();
        if (rank == 1 && vals.All(v => v != null))
            c.Value = new TensorLiteral(vals[0]!.DataType, [vals.Sum(v => v!.Count)], vals.SelectMany(v => v!.AsInt64()).ToArray(), null);
        return [Same(c.X, outDims)];
    }

    public override bool MapChannels(ChannelAnalysis a, Node n)
    {
        var layouts = n.Inputs.Select(a.LayoutOf).ToList();
        if (layouts.Any(l => l == null || l.Axes.Length != 1)) return false;
        if (Axis(n.GetInt("axis", 0), a.Inference.TypeOf(n.Output).Rank) == 1)
        {
            a.Layouts[n.Output] = ChannelLayout.Of(layouts.SelectMany(l => l!.Labels).ToArray());
            return true;
        }
        foreach (var l in layouts.Skip(1)) if (!a.Unify(layouts[0]!, l!)) return false;
        a.Layouts[n.Output] = layouts[0]!;
        return true;
    }

    /// <inheritdoc/>
    public override IReadOnlyList<IGradientRule> Gradients { get; } = [new ConcatGradient()];
}

/// <summary>Slice: a step-1 range of channels keeps their labels; its bounds are rewritten to the kept channels.</summary>
internal sealed class SliceRule() : OperatorRule(KernelClass.Copy, "Slice")
{
    public override OperatorSignature SignatureOf(string op) => OperatorSignature.Of(1, 5);

    public override TensorType[] InferTypes(ShapeContext c) => [SliceShape.Infer(c)];

    public override bool MapChannels(ChannelAnalysis a, Node n)
    {
        var x = a.LayoutOf(n.Inputs[0]);
        if (x == null || x.Axes.Length != 1) return false;
        var starts = a.IntsOf(n, 1); var ends = a.IntsOf(n, 2);
        int rank = a.TypeOf(n.Inputs[0]).Rank;
        var axes = n.Inputs.Count > 3 && n.Inputs[3] is not EmptyOperand ? a.IntsOf(n, 3) : starts == null ? null : AllAxes(starts.Length);
        var steps = n.Inputs.Count > 4 && n.Inputs[4] is not EmptyOperand ? a.IntsOf(n, 4) : starts?.Select(_ => 1L).ToArray();
        if (starts == null || ends == null || axes == null || steps == null) return false;
        int idx = Array.FindIndex(axes, v => Axis(v, rank) == 1);
        if (idx < 0) { a.Layouts[n.Output] = x; return true; }
        if (steps[idx] != 1) return false;
        var (s, e) = Bounds(starts[idx], ends[idx], x.Labels.Length);
        a.Layouts[n.Output] = ChannelLayout.Of(x.Labels[s..e]);
        return true;
    }

    static long[] AllAxes(int count) => Enumerable.Range(0, count).Select(i => (long)i).ToArray();

    /// <summary>Clamps Slice bounds on an axis of <paramref name="length"/> (negative counts from the end).</summary>
    static (int Start, int End) Bounds(long start, long end, int length)
    {
        long s = start < 0 ? start + length : start, e = end < 0 ? end + length : end;
        s = Math.Clamp(s, 0, length); e = Math.Clamp(e, s, length);
        return ((int)s, (int)e);
    }

    public override void SliceWeights(ChannelSurgery s)
    {
        var (n, x) = (s.Node, s.Input);
        if (x == null || n.Inputs.Count < 3) return;
        var starts = (n.Inputs[1] as LiteralOperand)?.Value.AsInt64();
        var ends = (n.Inputs[2] as LiteralOperand)?.Value.AsInt64();
        if (starts == null || ends == null) return;
        int rank = s.Analysis.Inference.TypeOf(((EdgeOperand)s.Original.Inputs[0]).Key).Rank;
        var axes = n.Inputs.Count > 3 && n.Inputs[3] is LiteralOperand al ? al.Value.AsInt64() : AllAxes(starts.Length);
        int idx = Array.FindIndex(axes, v => Axis(v, rank) == 1);
        if (idx < 0) return;
        var (start, end) = Bounds(starts[idx], ends[idx], x.Labels.Length);
        long newStart = CountKept(x.Labels, 0, start, s.Keep);
        long newEnd = newStart + CountKept(x.Labels, start, end, s.Keep);
        starts = starts.ToArray(); ends = ends.ToArray();
        starts[idx] = newStart; ends[idx] = newEnd;
        var st = ((LiteralOperand)n.Inputs[1]).Value; var en = ((LiteralOperand)n.Inputs[2]).Value;
        n.Inputs[1] = new LiteralOperand(new TensorLiteral(st.DataType, st.Dims, starts, null));
        n.Inputs[2] = new LiteralOperand(new TensorLiteral(en.DataType, en.Dims, ends, null));
    }

    static int CountKept(int[] labels, int from, int to, bool[] keep)
    {
        int c = 0;
        for (int p = from; p < to; p++) if (keep[labels[p]]) c++;
        return c;
    }

    /// <inheritdoc/>
    public override IReadOnlyList<IGradientRule> Gradients { get; } = [new SliceGradient()];
}

/// <summary>Output shape of Slice, evaluating it on small integer vectors (shape arithmetic).</summary>
static class SliceShape
{
    public static TensorType Infer(ShapeContext c)
    {
        var x = c.X;
        if (x.Dims == null) return x;
        var (starts, ends, axes, steps) = Arguments(c);
        var outDims = x.Dims.ToArray();
        if (starts == null || ends == null || axes == null || steps == null)
        {
            foreach (var a in axes ?? Enumerable.Range(0, outDims.Length).Select(i => (long)i).ToArray())
                outDims[Axis(a, outDims.Length)] = Dim.Unknown;
            return Same(x, outDims);
        }
        var sliceIdx = new List<(int axis, long start, long step, long count)>();
        for (int i = 0; i < axes.Length; i++)
        {
            int ax = Axis(axes[i], outDims.Length);
            var d = x.Dims[ax];
            if (!d.IsKnown) { outDims[ax] = Dim.Unknown; continue; }
            var (s, count) = Range(d.Value, starts[i], ends[i], steps[i]);
            outDims[ax] = count;
            sliceIdx.Add((ax, s, steps[i], count));
        }
        if (c.Val(0) is { Dims.Length: 1 } v && sliceIdx.Count == 1)
        {
            var (_, s0, st, cnt) = sliceIdx[0];
            var src = v.AsInt64();
            c.Value = new TensorLiteral(v.DataType, [cnt], Enumerable.Range(0, (int)cnt).Select(k => src[s0 + k * st]).ToArray(), null);
        }
        return Same(x, outDims);
    }

    static (long[]? Starts, long[]? Ends, long[]? Axes, long[]? Steps) Arguments(ShapeContext c)
    {
        var n = c.Node;
        if (c.Opset < 10)
        {
            var s = n.GetInts("starts");
            return (s, n.GetInts("ends"), n.GetInts("axes") ?? Enumerable.Range(0, s?.Length ?? 0).Select(i => (long)i).ToArray(),
                s?.Select(_ => 1L).ToArray());
        }
        var starts = c.Ints(1);
        return (starts, c.Ints(2), c.Has(3) ? c.Ints(3) : Enumerable.Range(0, starts?.Length ?? 0).Select(i => (long)i).ToArray(),
            c.Has(4) ? c.Ints(4) : starts?.Select(_ => 1L).ToArray());
    }

    /// <summary>First index and element count of a slice of an axis of size <paramref name="dim"/>.</summary>
    static (long Start, long Count) Range(long dim, long start, long end, long step)
    {
        long s = start < 0 ? start + dim : start;
        long e = end < 0 ? end + dim : end;
        if (step > 0)
        {
            s = Math.Clamp(s, 0, dim); e = Math.Clamp(e, 0, dim);
            return (s, Math.Max(0, (e - s + step - 1) / step));
        }
        s = Math.Clamp(s, 0, dim - 1); e = Math.Clamp(e, -1, dim - 1);
        return (s, Math.Max(0, (s - e + (-step) - 1) / (-step)));
    }
}

/// <summary>Split: along channels each output takes its range of labels; its sizes are rewritten to the kept channels.</summary>
internal sealed class SplitRule() : OperatorRule(KernelClass.Copy, "Split")
{
    public override OperatorSignature SignatureOf(string op) => OperatorSignature.Of(1, 2);

    public override TensorType[] InferTypes(ShapeContext c)
    {
        var n = c.Node;
        var x = c.X;
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

    public override bool MapChannels(ChannelAnalysis a, Node n)
    {
        var x = a.LayoutOf(n.Inputs[0]);
        if (x == null || x.Axes.Length != 1) return false;
        if (Axis(n.GetInt("axis", 0), a.TypeOf(n.Inputs[0]).Rank) != 1)
        {
            a.PassToOutputs(n, x);
            return true;
        }
        var sizes = a.Graph.Opset < 13 ? n.GetInts("split")
            : n.Inputs.Count > 1 && n.Inputs[1] is not EmptyOperand ? a.IntsOf(n, 1) : null;
        if (sizes == null)
        {
            if (x.Labels.Length % n.OutputCount != 0) return false;
            sizes = Enumerable.Repeat((long)(x.Labels.Length / n.OutputCount), n.OutputCount).ToArray();
        }
        if (sizes.Length != n.OutputCount || sizes.Sum() != x.Labels.Length) return false;
        int offset = 0;
        for (int k = 0; k < n.OutputCount; k++)
        {
            a.Layouts[n.OutputKey(k)] = ChannelLayout.Of(x.Labels[offset..(offset + (int)sizes[k])]);
            offset += (int)sizes[k];
        }
        return true;
    }

    public override void SliceWeights(ChannelSurgery s)
    {
        var n = s.Node;
        if (n.Inputs.Count < 2 || n.Inputs[1] is not LiteralOperand l) return;
        long Kept(int k) => s.Analysis.Layouts.GetValueOrDefault(s.Original.OutputKey(k))?.Labels.Count(r => s.Keep[r]) ?? 0;
        var sizes = Enumerable.Range(0, n.OutputCount).Select(Kept).ToArray();
        n.Inputs[1] = new LiteralOperand(new TensorLiteral(l.Value.DataType, l.Value.Dims, sizes, null));
    }

    /// <inheritdoc/>
    public override IReadOnlyList<IGradientRule> Gradients { get; } = [new SplitGradient()];
}

/// <summary>Pad: channels pass through when the channel axis is not padded.</summary>
internal sealed class PadRule() : OperatorRule(KernelClass.Copy, "Pad")
{
    public override OperatorSignature SignatureOf(string op) => OperatorSignature.Of(1, 4);

    public override TensorType[] InferTypes(ShapeContext c)
    {
        var x = c.X;
        var dims = x.Dims;
        if (dims == null) return [x];
        var pads = c.Opset >= 11 ? c.Ints(1) : c.Node.GetInts("pads");
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

    public override bool MapChannels(ChannelAnalysis a, Node n)
    {
        var x = a.LayoutOf(n.Inputs[0]);
        var pads = a.Graph.Opset >= 11 ? a.IntsOf(n, 1) : n.GetInts("pads");
        int rank = a.TypeOf(n.Inputs[0]).Rank;
        if (x == null || pads == null || n.Inputs.Count > 3 || rank < 2 || pads[1] != 0 || pads[1 + rank] != 0) return false;
        a.Layouts[n.Output] = x;
        return true;
    }

    /// <inheritdoc/>
    public override IReadOnlyList<IGradientRule> Gradients { get; } = [new PadGradient()];
}

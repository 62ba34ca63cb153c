using Lamda.Graphs;
using Lamda.Latency;
using Lamda.Training.Gradients;
using static Lamda.Operators.ShapeMath;

namespace Lamda.Operators;

/// <summary>
/// Reshape and Flatten keep channel labels when the spatial part is untouched: an identity, a split of the
/// channel axis into several (ShuffleNet), a merge back, or a flatten to features (each feature carries its
/// channel's label). Reshape's shape constant is rewritten to the kept channels.
/// </summary>
internal sealed class ReshapeRule() : OperatorRule(KernelClass.Free, "Reshape", "Flatten")
{
    public override OperatorSignature SignatureOf(string op) => op == "Reshape" ? OperatorSignature.Of(2, 2) : OperatorSignature.Of(1, 1);

    public override TensorType[] InferTypes(ShapeContext c)
    {
        var x = c.X;
        if (c.Node.Op == "Reshape") return [ReshapeShape(c)];
        if (x.Dims == null) return [Same(x, [Dim.Unknown, Dim.Unknown])];
        int axis = Axis(c.Node.GetInt("axis", 1), x.Dims.Length);
        return [Same(x, [Product(x.Dims[..axis]), Product(x.Dims[axis..])])];
    }

    static TensorType ReshapeShape(ShapeContext c)
    {
        var x = c.X;
        var shape = c.Ints(1);
        if (shape == null)
        {
            var st = c.Type(1);
            bool rankKnown = st.Dims is { Length: 1 } && st.Dims[0].IsKnown;
            return Same(x, rankKnown ? Enumerable.Repeat(Dim.Unknown, (int)st.Dims![0].Value).ToArray() : null);
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
        if (c.Val(0) is { } v && outDims.All(d => d.IsKnown))
            c.Value = new TensorLiteral(v.DataType, outDims.Select(d => d.Value).ToArray(), v.AsInt64(), null);
        return Same(x, outDims);
    }

    public override bool MapChannels(ChannelAnalysis a, Node n)
    {
        var x = a.LayoutOf(n.Inputs[0]);
        var inType = a.TypeOf(n.Inputs[0]);
        var outType = a.Inference.TypeOf(n.Output);
        if (x == null || !inType.IsStatic || !outType.IsStatic) return false;
        var X = inType.Dims!.Select(d => d.Value).ToArray();
        var Y = outType.Dims!.Select(d => d.Value).ToArray();
        if (X.Length < 2 || Y.Length < 2 || X[0] != Y[0]) return false;
        var spatial = X[(1 + x.Axes.Length)..];
        long channels = x.Labels.Length;
        long per = spatial.Aggregate(1L, (p, b) => p * b);
        // Flatten to features: [N, C, *S] -> [N, C * prod(S)].
        if (Y.Length == 2 && Y[1] == channels * per && spatial.Length > 0)
        {
            a.Layouts[n.Output] = ChannelLayout.Of(x.Labels.SelectMany(l => Enumerable.Repeat(l, (int)per)).ToArray());
            return true;
        }
        // Channel axes regrouped, spatial axes unchanged.
        for (int j = 1; j < Y.Length; j++)
        {
            long prod = Y[1..(1 + j)].Aggregate(1L, (p, b) => p * b);
            if (prod != channels || !Y[(1 + j)..].SequenceEqual(spatial)) continue;
            var axes = Y[1..(1 + j)].Select(v => (int)v).ToArray();
            if (axes.Length > 1)
            {
                // A split of channels into [outer, inner]: the positions that share an inner index must stay
                // aligned (a shuffle pairs them), so they are kept or removed together.
                int outer = axes[0], inner = x.Labels.Length / outer;
                for (int i = 0; i < inner; i++)
                    for (int o = 1; o < outer; o++) a.Union(x.Labels[i], x.Labels[o * inner + i]);
            }
            a.Layouts[n.Output] = new ChannelLayout(x.Labels, axes);
            return true;
        }
        return false;
    }

    public override void SliceWeights(ChannelSurgery s)
    {
        if (s.Node.Op == "Flatten") { s.SlicePerChannelConstants(); return; }
        var y = s.Analysis.Layouts.GetValueOrDefault(s.Original.Output);
        if (y == null || s.Node.Inputs[1] is not LiteralOperand l) return;
        var shape = l.Value.AsInt64().ToArray();
        int kept = y.Labels.Count(r => s.Keep[r]);
        if (y.Axes.Length > 1)
        {
            // [N, outer, inner, ...]: the outer size stays, the inner shrinks (columns are removed whole).
            if (shape[1] > 0) shape[1] = y.Axes[0];
            if (shape[2] > 0) shape[2] = kept / y.Axes[0];
        }
        else if (shape[1] > 0) shape[1] = kept;
        s.Node.Inputs[1] = new LiteralOperand(new TensorLiteral(l.Value.DataType, l.Value.Dims, shape, null));
    }

    /// <inheritdoc/>
    public override IReadOnlyList<IGradientRule> Gradients { get; } = [new ReshapeGradient("Reshape", "Flatten")];
}

/// <summary>Transpose: channels follow when the batch axis stays first and only channel axes are permuted.</summary>
internal sealed class TransposeRule() : OperatorRule(KernelClass.Copy, "Transpose")
{
    public override OperatorSignature SignatureOf(string op) => OperatorSignature.Of(1, 1);

    public override TensorType[] InferTypes(ShapeContext c)
    {
        var dims = c.X.Dims;
        if (dims == null) return [c.X];
        var perm = c.Node.GetInts("perm") ?? Enumerable.Range(0, dims.Length).Reverse().Select(i => (long)i).ToArray();
        return [Same(c.X, perm.Select(p => dims[p]).ToArray())];
    }

    public override bool MapChannels(ChannelAnalysis a, Node n)
    {
        var x = a.LayoutOf(n.Inputs[0]);
        if (x == null) return false;
        var perm = n.GetInts("perm");
        int k = x.Axes.Length;
        if (perm == null || perm[0] != 0) return false;
        for (int i = k + 1; i < perm.Length; i++) if (perm[i] != i) return false;
        var channelPerm = perm.Skip(1).Take(k).Select(p => (int)p - 1).ToArray();
        if (channelPerm.Any(p => p < 0 || p >= k)) return false;
        a.Layouts[n.Output] = PermuteAxes(x, channelPerm);
        return true;
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

    /// <inheritdoc/>
    public override IReadOnlyList<IGradientRule> Gradients { get; } = [new TransposeGradient()];
}

/// <summary>Squeeze and Unsqueeze: channels pass through when only axes after the channels change.</summary>
internal sealed class SqueezeRule() : OperatorRule(KernelClass.Free, "Squeeze", "Unsqueeze")
{
    public override OperatorSignature SignatureOf(string op) => OperatorSignature.Of(1, 2);

    public override TensorType[] InferTypes(ShapeContext c)
    {
        var (n, x, dims) = (c.Node, c.X, c.X.Dims);
        bool squeeze = n.Op == "Squeeze";
        // No axes means "every unit axis" for Squeeze, and is an error for Unsqueeze.
        var axes = c.Opset >= 13 ? (squeeze && !c.Has(1) ? [] : c.Ints(1)) : n.GetInts("axes") ?? (squeeze ? [] : null);
        if (dims == null || axes == null) return [Same(x, null)];
        Dim[] outDims;
        if (squeeze)
        {
            var norm = axes.Select(a => Axis(a, dims.Length)).ToHashSet();
            outDims = dims.Where((d, i) => norm.Count == 0 ? !(d.IsKnown && d.Value == 1) : !norm.Contains(i)).ToArray();
        }
        else
        {
            int rank = dims.Length + axes.Length;
            var norm = axes.Select(a => Axis(a, rank)).ToHashSet();
            outDims = new Dim[rank];
            for (int i = 0, j = 0; i < rank; i++) outDims[i] = norm.Contains(i) ? new Dim(1) : dims[j++];
        }
        if (c.Val(0) is { } v) c.Value = new TensorLiteral(v.DataType, outDims.Select(d => d.Value).ToArray(), v.AsInt64(), null);
        return [Same(x, outDims)];
    }

    public override bool MapChannels(ChannelAnalysis a, Node n)
    {
        var x = a.LayoutOf(n.Inputs[0]);
        if (x == null || x.Axes.Length != 1) return false;
        var axes = a.Graph.Opset >= 13 ? a.IntsOf(n, 1) : n.GetInts("axes");
        int rank = n.Op == "Squeeze" ? a.TypeOf(n.Inputs[0]).Rank : a.Inference.TypeOf(n.Output).Rank;
        if (axes == null || axes.Any(v => Axis(v, rank) < 2)) return false;
        a.Layouts[n.Output] = x;
        return true;
    }

    /// <inheritdoc/>
    public override IReadOnlyList<IGradientRule> Gradients { get; } = [new ReshapeGradient("Squeeze", "Unsqueeze")];
}

/// <summary>Resize and Upsample: spatial only, so channels pass through.</summary>
internal sealed class ResizeRule() : OperatorRule(KernelClass.Resize, "Resize", "Upsample")
{
    public override OperatorSignature? SignatureOf(string op) => op == "Resize" ? OperatorSignature.Of(1, 4) : null;

    public override TensorType[] InferTypes(ShapeContext c)
    {
        var x = c.X;
        if (x.Dims == null) return [x];
        var sizes = c.Node.Op == "Resize" && c.Has(3) ? c.Ints(3) : null;
        if (sizes != null && sizes.Length == x.Rank) return [Same(x, sizes.Select(s => new Dim(s)).ToArray())];
        int scalesSlot = c.Node.Op == "Upsample" ? 1 : c.Opset >= 11 ? 2 : 1;
        var scales = c.Val(scalesSlot)?.Reals;
        if (scales == null || scales.Length != x.Rank) return [Same(x, x.Dims.Select(_ => Dim.Unknown).ToArray())];
        return [Same(x, x.Dims.Select((d, i) => d.IsKnown ? new Dim((long)Math.Floor(d.Value * (float)scales[i])) : Dim.Unknown)
            .ToArray())];
    }

    public override bool MapChannels(ChannelAnalysis a, Node n) => PoolRule.PassThrough(a, n);

    /// <inheritdoc/>
    public override IReadOnlyList<IGradientRule> Gradients { get; } = [new ResizeGradient()];
}

/// <summary>Expand: broadcasts to a shape given as an input.</summary>
internal sealed class ExpandRule() : OperatorRule(KernelClass.Copy, "Expand")
{
    public override OperatorSignature SignatureOf(string op) => OperatorSignature.Of(2, 2);

    public override TensorType[] InferTypes(ShapeContext c)
    {
        var shape = c.Ints(1);
        var dims = c.X.Dims;
        return [Same(c.X, shape == null || dims == null ? null : Broadcast(dims, shape.Select(s => new Dim(s)).ToArray()))];
    }
}

/// <summary>Tile: checked and costed as a copy; its shape is not inferred.</summary>
internal sealed class TileRule() : OperatorRule(KernelClass.Copy, "Tile")
{
    public override OperatorSignature SignatureOf(string op) => OperatorSignature.Of(2, 2);
}

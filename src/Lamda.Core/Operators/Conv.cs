using Lamda.Graphs;
using Lamda.Latency;
using Lamda.Training.Gradients;

namespace Lamda.Operators;

/// <summary>
/// Conv and ConvTranspose. A group-1 convolution is a layer whose output width can change; a depthwise Conv
/// (one filter per input channel) carries its input's channels through. Weights are [out, in/group, k...] for
/// Conv and [in, out/group, k...] for ConvTranspose.
/// </summary>
internal sealed class ConvRule() : OperatorRule(KernelClass.Conv, "Conv", "ConvTranspose")
{
    public override OperatorSignature SignatureOf(string op) => OperatorSignature.Of(2, 3, weights: [1, 2]);

    public override TensorType[] InferTypes(ShapeContext c)
    {
        var y = SlidingWindow.Infer(c);
        return [y, new TensorType(DataTypes.Int64, y.Dims)];
    }

    public override bool MapChannels(ChannelAnalysis a, Node n)
    {
        var x = a.LayoutOf(n.Inputs[0]);
        if (x == null || x.Axes.Length != 1 || n.Inputs.Count < 2) return false;
        if (n.Inputs[1] is not WeightOperand w || a.Weights.ShapeOf(w.Name) is not { } ws) return false;
        long group = n.GetInt("group", 1);
        if (group == 1)
        {
            a.AddLayer(n, n.Op == "Conv" ? ws[0] : ws[1]);
            return true;
        }
        if (n.Op == "Conv" && IsDepthwise(n, ws) && group == x.Labels.Length)
        {
            a.Layouts[n.Output] = x; // depthwise: output channel i is input channel i
            return true;
        }
        return false;
    }

    static bool IsDepthwise(Node n, long[] ws) => ws[0] == n.GetInt("group", 1) && ws[1] == 1;

    public override void SliceWeights(ChannelSurgery s)
    {
        var n = s.Node;
        if (n.Op == "ConvTranspose")
        {
            s.Slice(1, (0, s.InputSelection), (1, s.OutputKept));
            s.Slice(2, (0, s.OutputKept));
        }
        else if (n.GetInt("group", 1) == 1)
        {
            s.Slice(1, (0, s.OutputKept), (1, s.InputSelection));
            s.Slice(2, (0, s.OutputKept));
        }
        else // depthwise: channels follow the input
        {
            s.Slice(1, (0, s.InputSelection));
            s.Slice(2, (0, s.InputSelection));
            n.SetAttribute("group", AttributeValue.FromInt(s.InputKept.Length));
        }
    }

    public override string KernelClassOf(Node n, WeightStore weights, InferenceResult inference)
    {
        if (n.Op == "ConvTranspose") return KernelClass.ConvTranspose;
        long group = n.GetInt("group", 1);
        var w = n.Inputs.Count > 1 && n.Inputs[1] is WeightOperand wo ? weights.ShapeOf(wo.Name) : null;
        var kernel = n.GetInts("kernel_shape") ?? w?.Skip(2).ToArray() ?? [];
        if (group == 1) return kernel.All(k => k == 1) ? KernelClass.Pointwise : KernelClass.Conv;
        return w != null && w[1] == 1 ? KernelClass.Depthwise : KernelClass.GroupConv;
    }

    public override int ImportanceAxis(Node n) => n.Op == "Conv" ? 0 : 1;

    public override bool CanRefit(Node n) => n.Op == "Conv" && n.GetInt("group", 1) == 1;

    /// <inheritdoc/>
    public override IReadOnlyList<IGradientRule> Gradients { get; } = [new ConvGradient(), new ConvTransposeGradient()];
}

/// <summary>Output shape of the sliding-window operators: Conv, ConvTranspose and the windowed pools.</summary>
static class SlidingWindow
{
    public static TensorType Infer(ShapeContext c)
    {
        var n = c.Node;
        var x = c.X;
        if (x.Dims == null || x.Dims.Length < 3) return x.WithDims(null);
        var dims = x.Dims;
        int spatial = dims.Length - 2;
        var w = c.Type(1).Dims;
        var kernel = n.GetInts("kernel_shape")
            ?? (w != null && w.Length == dims.Length && w.Skip(2).All(d => d.IsKnown) ? w.Skip(2).Select(d => d.Value).ToArray() : null);
        var channels = Channels(n, dims, w);
        if (kernel == null) return new TensorType(x.ElemType, [dims[0], channels, .. Enumerable.Repeat(Dim.Unknown, spatial)]);
        var outDims = new Dim[dims.Length];
        outDims[0] = dims[0];
        outDims[1] = channels;
        var window = new Window(n, spatial);
        for (int i = 0; i < spatial; i++)
            outDims[i + 2] = dims[i + 2].IsKnown ? window.OutputSize(i, dims[i + 2].Value, kernel[i]) : Dim.Unknown;
        return new TensorType(x.ElemType, outDims);
    }

    static Dim Channels(Node n, Dim[] dims, Dim[]? w)
    {
        long group = n.GetInt("group", 1);
        return n.Op is not ("Conv" or "ConvTranspose") ? dims[1]
            : w == null ? Dim.Unknown
            : n.Op == "Conv" ? w[0]
            : w[1].IsKnown ? w[1].Value * group : Dim.Unknown;
    }

    /// <summary>A node's window attributes, with the ONNX defaults.</summary>
    sealed class Window(Node n, int spatial)
    {
        readonly long[] strides = n.GetInts("strides") ?? Enumerable.Repeat(1L, spatial).ToArray();
        readonly long[] dilations = n.GetInts("dilations") ?? Enumerable.Repeat(1L, spatial).ToArray();
        readonly long[] pads = n.GetInts("pads") ?? new long[spatial * 2];
        readonly string autoPad = n.GetString("auto_pad") ?? "NOTSET";
        readonly bool ceil = n.GetInt("ceil_mode", 0) != 0;
        readonly long[]? outputShape = n.GetInts("output_shape");
        readonly long[] outputPadding = n.GetInts("output_padding") ?? new long[spatial];

        public long OutputSize(int i, long d, long kernel)
        {
            long ek = dilations[i] * (kernel - 1) + 1;
            long[] st = strides;
            if (n.Op == "ConvTranspose")
            {
                if (outputShape != null) return outputShape[outputShape.Length - spatial + i];
                if (autoPad is "SAME_UPPER" or "SAME_LOWER") return d * st[i];
                return st[i] * (d - 1) + outputPadding[i] + ek - pads[i] - pads[i + spatial];
            }
            if (autoPad is "SAME_UPPER" or "SAME_LOWER") return (d + st[i] - 1) / st[i];
            if (autoPad == "VALID") return (d - ek) / st[i] + 1;
            long span = d + pads[i] + pads[i + spatial] - ek;
            long size = (ceil ? (span + st[i] - 1) / st[i] : span / st[i]) + 1;
            // ceil_mode never lets the last window start inside the end padding.
            if (ceil && (size - 1) * st[i] >= d + pads[i]) size--;
            return size;
        }
    }
}

using Lamda.Operators;
using Onnx;

namespace Lamda.Training.Gradients;

/// <summary>
/// Conv (grouped and depthwise included): the input gradient is a ConvTranspose of the output gradient with the same
/// weights; the weight gradient is a convolution of the transposed input by the transposed output gradient, with
/// stride and dilation swapped, cut to the kernel size (as in ONNX Runtime's ConvGrad).
/// </summary>
internal sealed class ConvGradient : IGradientRule
{
    public IReadOnlyList<string> Ops { get; } = ["Conv"];

    public bool IsDifferentiable(NodeProto node, int slot) => slot <= 2;

    public void Backward(NodeGradient g)
    {
        var (dy, x, w, y, group, geometry) = ConvOperands.Of(g);
        if (g.NeedsGrad(0))
            g.SetInputGrad(0, DepthwiseInputGradient(g.Emit, dy, g.Input(1), x, w, group, geometry)
                ?? InputGradient(g.Emit, dy, g.Input(1), x, y, group, geometry));
        if (g.NeedsGrad(1)) g.SetInputGrad(1, WeightGradient(g.Emit, g.Input(0), x, dy, y, w, geometry, group));
        if (g.NeedsGrad(2)) g.SetInputGrad(2, ConvOperands.BiasGradient(g.Emit, dy, y));
    }

    /// <summary>dX as the adjoint of the convolution: a ConvTranspose of dY with the same weights.</summary>
    static string InputGradient(GradientEmitter e, string dy, string w, long[] xs, long[] ys, long group, ConvGeometry geo)
    {
        var (pads, outputPadding) = geo.Adjoint(xs[2..], ys[2..]);
        return e.Op("ConvTranspose", [dy, w], ("strides", geo.Strides), ("dilations", geo.Dilations), ("pads", pads),
            ("output_padding", outputPadding), ("group", group), ("kernel_shape", geo.Kernel));
    }

    /// <summary>
    /// A depthwise convolution with stride 1: dX is the same depthwise convolution of dY with the kernel turned by 180
    /// degrees, padded by (k - 1) * dilation less the forward pads. ORT runs it with its depthwise kernel, where the
    /// ConvTranspose above goes through a matrix product and a scatter per channel: on the recognizer (batch 16, 48x320)
    /// its 5x5 layers' input gradients took 91 ms a step as ConvTranspose and take 34 ms in this form.
    /// Null when the rule does not apply (strides, a channel multiplier, or forward pads wider than the kernel).
    /// </summary>
    static string? DepthwiseInputGradient(GradientEmitter e, string dy, string w, long[] xs, long[] ws, long group, ConvGeometry geo)
    {
        int r = geo.Rank;
        if (!IsDepthwise(xs[1], ws[0], group) || geo.Strides.Any(s => s != 1)) return null;
        var pads = new long[2 * r];
        for (int i = 0; i < r; i++)
        {
            long reach = (geo.Kernel[i] - 1) * geo.Dilations[i];
            (pads[i], pads[i + r]) = (reach - geo.Pads[i], reach - geo.Pads[i + r]);
        }
        if (pads.Any(p => p < 0)) return null;
        var turned = w;
        for (int i = 0; i < r; i++)
        {
            var reversed = Enumerable.Range(0, (int)geo.Kernel[i]).Select(k => geo.Kernel[i] - 1 - k).ToArray();
            turned = e.Op("Gather", [turned, e.Ints(reversed)], ("axis", (long)(2 + i)));
        }
        return e.Op("Conv", [dy, turned], ("dilations", geo.Dilations), ("pads", pads), ("group", group), ("kernel_shape", geo.Kernel));
    }

    /// <summary>One input and one output channel a group: a depthwise convolution (without a channel multiplier).</summary>
    static bool IsDepthwise(long inChannels, long outChannels, long group) => group > 1 && inChannels == group && outChannels == group;

    internal static long[] AllBut(int rank, int axis) => Enumerable.Range(0, rank).Where(a => a != axis).Select(a => (long)a).ToArray();

    /// <summary>
    /// dW[m, c, k] = sum over n and positions of dY[n, m, t] * X[n, g(m)*Cg + c, t*stride + k*dilation - pad], written as
    /// one grouped Conv: X regrouped to [Cg, g*N, S], dY to [g*Mg, N, T] as the kernel.
    /// </summary>
    internal static string WeightGradient(GradientEmitter e, string x, long[] xs, string dy, long[] ys, long[] ws, ConvGeometry geo,
        long group)
    {
        if (ws[2..].All(k => k == 1) && geo.Pads.All(p => p == 0)) return PointwiseWeightGradient(e, x, xs, dy, ys, geo, group);
        if (IsDepthwise(xs[1], ys[1], group)) return DepthwiseWeightGradient(e, x, xs, dy, ys, ws, geo);
        int r = geo.Rank;
        long n = xs[0], cg = xs[1] / group, m = ys[1], mg = m / group;
        var xSpatial = xs[2..];
        var ySpatial = ys[2..];
        var xg = e.Reshape(x, [n, group, cg, .. xSpatial]);
        xg = e.Transpose(xg, [2, 1, 0, .. Spatial(3, r)]);
        xg = e.Reshape(xg, [cg, group * n, .. xSpatial]);
        var kg = e.Reshape(dy, [n, group, mg, .. ySpatial]);
        kg = e.Transpose(kg, [1, 2, 0, .. Spatial(3, r)]);
        kg = e.Reshape(kg, [m, n, .. ySpatial]);
        var full = e.Op("Conv", [xg, kg], ("strides", geo.Dilations), ("dilations", geo.Strides), ("pads", geo.Pads),
            ("group", group), ("kernel_shape", ySpatial));
        var cut = e.Slice(full, new long[r], ws[2..], Spatial(2, r));
        return e.Transpose(cut, [1, 0, .. Spatial(2, r)]);
    }

    /// <summary>
    /// A depthwise kernel (one input and one output channel a group): every image's channel is its own group, so X and dY
    /// are only reshaped, X to [1, N*C, S] and dY to [N*C, 1, T] as the kernel, and the N images' kernels are summed after
    /// the convolution. The grouped form above transposes both to put the images inside the groups first: on the recognizer
    /// (batch 16, 48x320) its 5x5 layers took 33-35 ms for the largest against 31-32 ms here, transposes included.
    /// </summary>
    static string DepthwiseWeightGradient(GradientEmitter e, string x, long[] xs, string dy, long[] ys, long[] ws, ConvGeometry geo)
    {
        int r = geo.Rank;
        long n = xs[0], c = xs[1];
        var xr = e.Reshape(x, [1, n * c, .. xs[2..]]);
        var kr = e.Reshape(dy, [n * c, 1, .. ys[2..]]);
        var full = e.Op("Conv", [xr, kr], ("strides", geo.Dilations), ("dilations", geo.Strides), ("pads", geo.Pads),
            ("group", n * c), ("kernel_shape", ys[2..]));
        var cut = e.Slice(full, new long[r], ws[2..], Spatial(2, r));
        var perImage = e.Reshape(cut, [n, c, .. ws[2..]]);
        return e.Reshape(e.ReduceSum(perImage, [0], false), ws);
    }

    /// <summary>
    /// A 1x1 kernel without padding: dW[m, c] = sum over n and t of dY[n, m, t] * X[n, g(m)*Cg + c, t*stride], one product of
    /// matrices per image and group with the positions t as the inner dimension, summed over the images. Written as the
    /// convolution above, ORT ran it as one matrix-vector product per input channel, each reading the whole output gradient:
    /// those layers took 250 ms of a recognizer step's 820 (batch 16, 48x320), one of them 29 ms for 0.6 GMAC. Batched per
    /// image, neither X nor dY is copied (ORT folds the transpose into the product): 3.8 ms against 5.5-6.1 ms for a layer
    /// of 176 channels on a 12x80 map with both transposed to put the images inside the product.
    /// </summary>
    static string PointwiseWeightGradient(GradientEmitter e, string x, long[] xs, string dy, long[] ys, ConvGeometry geo, long group)
    {
        int r = geo.Rank;
        long n = xs[0], cg = xs[1] / group, m = ys[1], mg = m / group;
        long positions = ys[2..].Aggregate(1L, (a, d) => a * d);
        if (Enumerable.Range(0, r).Any(i => geo.Strides[i] != 1 || xs[2 + i] != ys[2 + i]))
        {
            var ends = Enumerable.Range(0, r).Select(i => (ys[2 + i] - 1) * geo.Strides[i] + 1).ToArray();
            x = e.Op("Slice", [x, e.Ints(new long[r]), e.Ints(ends), e.Ints(Spatial(2, r)), e.Ints(geo.Strides)]);
        }
        var xg = e.Reshape(x, [n, group, cg, positions]);
        var kg = e.Reshape(dy, [n, group, mg, positions]);
        var perImage = e.Op("MatMul", [kg, e.Transpose(xg, [0, 1, 3, 2])]);
        return e.Reshape(e.ReduceSum(perImage, [0], false), [m, cg, .. Enumerable.Repeat(1L, r)]);
    }

    static long[] Spatial(int first, int rank) => Enumerable.Range(first, rank).Select(a => (long)a).ToArray();
}

/// <summary>What both convolution gradients read from the node: the output gradient, the three shapes and the geometry.</summary>
internal sealed record ConvOperands(string Dy, long[] X, long[] W, long[] Y, long Group, ConvGeometry Geometry)
{
    public static ConvOperands Of(NodeGradient g)
    {
        var x = g.InputShape(0);
        var w = g.InputShape(1);
        return new(g.OutputGrad()!, x, w, g.OutputShape(), g.Int("group", 1), ConvGeometry.Of(g, w[2..], x[2..]));
    }

    /// <summary>The bias gradient: the output gradient summed over every axis but the channels.</summary>
    public static string BiasGradient(GradientEmitter e, string dy, long[] y) =>
        e.Reshape(e.ReduceSum(dy, ConvGradient.AllBut(y.Length, 1), false), [y[1]]);
}

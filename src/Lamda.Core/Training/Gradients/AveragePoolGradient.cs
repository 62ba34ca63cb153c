using Lamda.Operators;

namespace Lamda.Training.Gradients;

/// <summary>
/// AveragePool (2-D): each window's gradient divided by its element count, spread back over the window by a
/// depthwise ConvTranspose with a kernel of ones.
/// </summary>
internal sealed class AveragePoolGradient : IGradientRule
{
    public IReadOnlyList<string> Ops { get; } = ["AveragePool"];

    public void Backward(NodeGradient g)
    {
        var e = g.Emit;
        var x = g.InputShape(0);
        var y = g.OutputShape();
        if (x.Length != 4) throw g.Unsupported("AveragePool of rank other than 4");
        var geo = ConvGeometry.Of(g, g.Ints("kernel_shape")!, x[2..]);
        bool includePad = g.Int("count_include_pad", 0) != 0;
        long c = x[1], kh = geo.Kernel[0], kw = geo.Kernel[1];
        var counts = e.Floats([y[2], y[3]], Counts(geo, x[2], x[3], y[2], y[3], includePad));
        var share = e.Op("Div", [g.OutputGrad()!, counts]);
        var ones = Enumerable.Repeat(1f, (int)(c * kh * kw)).ToArray();
        var (pads, outputPadding) = geo.Adjoint(x[2..], y[2..]);
        g.SetInputGrad(0, e.Op("ConvTranspose", [share, e.Floats([c, 1, kh, kw], ones)], ("strides", geo.Strides),
            ("dilations", geo.Dilations), ("pads", pads), ("output_padding", outputPadding), ("group", c), ("kernel_shape", geo.Kernel)));
    }

    /// <summary>The divisor ONNX Runtime uses for each window: its positions inside the input (or inside the pads).</summary>
    static float[] Counts(ConvGeometry geo, long h, long w, long th, long tw, bool includePad)
    {
        long Span(long start, long k, long size, long padEnd)
        {
            long lo = includePad ? start : Math.Max(start, 0);
            long hi = Math.Min(start + k, includePad ? size + padEnd : size);
            return Math.Max(0, hi - lo);
        }
        var counts = new float[th * tw];
        for (long r = 0; r < th; r++)
            for (long q = 0; q < tw; q++)
                counts[r * tw + q] = Span(r * geo.Strides[0] - geo.Pads[0], geo.Kernel[0], h, geo.Pads[2])
                    * Span(q * geo.Strides[1] - geo.Pads[1], geo.Kernel[1], w, geo.Pads[3]);
        return counts;
    }
}

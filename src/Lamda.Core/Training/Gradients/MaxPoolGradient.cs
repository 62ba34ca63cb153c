using Lamda.Operators;
using Onnx;

namespace Lamda.Training.Gradients;

/// <summary>
/// MaxPool (2-D): the gradient of each window goes to its argmax. The backward pass recomputes the pool with its
/// Indices output; for each kernel offset, a mask says which windows took their maximum there, and one grouped
/// ConvTranspose with one-hot kernels scatters the masked gradients back (overlapping windows add up).
/// </summary>
internal sealed class MaxPoolGradient : IGradientRule
{
    public IReadOnlyList<string> Ops { get; } = ["MaxPool"];

    public void Backward(NodeGradient g)
    {
        var e = g.Emit;
        var x = g.InputShape(0);
        var y = g.OutputShape();
        if (x.Length != 4) throw g.Unsupported("MaxPool of rank other than 4");
        if (g.Int("storage_order", 0) != 0) throw g.Unsupported("storage_order 1");
        var geo = ConvGeometry.Of(g, g.Ints("kernel_shape")!, x[2..]);
        long n = x[0], c = x[1], h = x[2], w = x[3], th = y[2], tw = y[3], kh = geo.Kernel[0], kw = geo.Kernel[1];
        var attributes = g.Node.Attribute.Select(a => (a.Name, Value: AttributeValue(a))).ToArray();
        var indices = e.Ops("MaxPool", [g.Input(0)], 2, attributes)[1];
        var local = e.Op("Sub", [indices, Bases(e, n, c, h * w)]);
        var dy = g.OutputGrad()!;
        var parts = new List<string>();
        for (long i = 0; i < kh; i++)
            for (long j = 0; j < kw; j++)
            {
                var at = e.Ints(Positions(geo, h, w, th, tw, i, j));
                var here = e.Mask(e.Op("Equal", [local, e.Reshape(at, [th, tw])]));
                parts.Add(e.Reshape(e.Op("Mul", [dy, here]), [n, c, 1, th, tw]));
            }
        long k = kh * kw;
        var stacked = e.Reshape(e.Op("Concat", parts, ("axis", 2L)), [n, c * k, th, tw]);
        var kernel = new float[c * k * k];
        for (long ch = 0; ch < c; ch++)
            for (long o = 0; o < k; o++) kernel[(ch * k + o) * k + o] = 1f;
        var (pads, outputPadding) = geo.Adjoint(x[2..], y[2..]);
        g.SetInputGrad(0, e.Op("ConvTranspose", [stacked, e.Floats([c * k, 1, kh, kw], kernel)], ("strides", geo.Strides),
            ("dilations", geo.Dilations), ("pads", pads), ("output_padding", outputPadding), ("group", c), ("kernel_shape", geo.Kernel)));
    }

    static object AttributeValue(AttributeProto a) => a.Type switch
    {
        AttributeProto.Types.AttributeType.Ints => a.Ints.ToArray(),
        AttributeProto.Types.AttributeType.Int => a.I,
        AttributeProto.Types.AttributeType.String => a.S.ToStringUtf8(),
        _ => a.F,
    };

    /// <summary>Offset of each (n, c) plane in MaxPool's flat indices, shaped [N, C, 1, 1].</summary>
    static string Bases(GradientEmitter e, long n, long c, long plane) =>
        e.Reshape(e.Ints(Enumerable.Range(0, (int)(n * c)).Select(i => i * plane).ToArray()), [n, c, 1, 1]);

    /// <summary>For kernel offset (i, j), the flat input position each window sees there, or -1 in the padding.</summary>
    static long[] Positions(ConvGeometry geo, long h, long w, long th, long tw, long i, long j)
    {
        var at = new long[th * tw];
        for (long r = 0; r < th; r++)
            for (long q = 0; q < tw; q++)
            {
                long row = r * geo.Strides[0] + i * geo.Dilations[0] - geo.Pads[0];
                long col = q * geo.Strides[1] + j * geo.Dilations[1] - geo.Pads[1];
                at[r * tw + q] = row >= 0 && row < h && col >= 0 && col < w ? row * w + col : -1;
            }
        return at;
    }
}

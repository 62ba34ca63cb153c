namespace Lamda.Training.Gradients;

/// <summary>Strides, dilations and explicit pads of a convolution or pooling node, with auto_pad resolved.</summary>
internal sealed record ConvGeometry(long[] Kernel, long[] Strides, long[] Dilations, long[] Pads)
{
    public int Rank => Kernel.Length;

    /// <summary>Reads the node's attributes; <paramref name="inputSpatial"/> resolves SAME_UPPER/SAME_LOWER pads.</summary>
    public static ConvGeometry Of(NodeGradient g, long[] kernel, long[] inputSpatial)
    {
        int r = kernel.Length;
        var strides = g.Ints("strides") ?? Ones(r);
        var dilations = g.Ints("dilations") ?? Ones(r);
        var pads = g.Ints("pads") ?? new long[2 * r];
        var auto = g.String("auto_pad") ?? "NOTSET";
        if (auto is "VALID") pads = new long[2 * r];
        else if (auto is "SAME_UPPER" or "SAME_LOWER")
        {
            pads = new long[2 * r];
            for (int i = 0; i < r; i++)
            {
                long output = (inputSpatial[i] + strides[i] - 1) / strides[i];
                long total = Math.Max(0, (output - 1) * strides[i] + (kernel[i] - 1) * dilations[i] + 1 - inputSpatial[i]);
                long small = total / 2;
                (pads[i], pads[i + r]) = auto == "SAME_UPPER" ? (small, total - small) : (total - small, small);
            }
        }
        return new ConvGeometry(kernel, strides, dilations, pads);
    }

    static long[] Ones(int n) => Enumerable.Repeat(1L, n).ToArray();

    /// <summary>
    /// Pads and output_padding of the ConvTranspose that maps an output of spatial size <paramref name="output"/>
    /// back to <paramref name="input"/>; end pads shrink (or output_padding grows) where ceil_mode or a stride left a remainder.
    /// </summary>
    public (long[] Pads, long[] OutputPadding) Adjoint(long[] input, long[] output)
    {
        var pads = Pads.ToArray();
        var extra = new long[Rank];
        for (int i = 0; i < Rank; i++)
        {
            long produced = Strides[i] * (output[i] - 1) + Dilations[i] * (Kernel[i] - 1) + 1 - pads[i] - pads[i + Rank];
            long missing = input[i] - produced;
            if (missing >= 0) extra[i] = missing;
            else pads[i + Rank] += -missing;
        }
        return (pads, extra);
    }
}

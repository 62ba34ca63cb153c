using Lamda.Operators;
using Onnx;

namespace Lamda.Training.Gradients;

/// <summary>
/// ConvTranspose is the adjoint of Conv: its input gradient is a Conv of the output gradient with the same weights,
/// and its weight gradient is Conv's weight gradient with the roles of input and output gradient exchanged.
/// </summary>
internal sealed class ConvTransposeGradient : IGradientRule
{
    public IReadOnlyList<string> Ops { get; } = ["ConvTranspose"];

    public bool IsDifferentiable(NodeProto node, int slot) => slot <= 2;

    public void Backward(NodeGradient g)
    {
        if (g.Ints("output_shape") != null || (g.String("auto_pad") ?? "NOTSET") != "NOTSET")
            throw g.Unsupported("output_shape or auto_pad (write explicit pads)");
        var (dy, x, w, y, group, geometry) = ConvOperands.Of(g);
        if (g.NeedsGrad(0))
            g.SetInputGrad(0, g.Emit.Op("Conv", [dy, g.Input(1)], ("strides", geometry.Strides), ("dilations", geometry.Dilations),
                ("pads", geometry.Pads), ("group", group), ("kernel_shape", geometry.Kernel)));
        if (g.NeedsGrad(1)) g.SetInputGrad(1, ConvGradient.WeightGradient(g.Emit, dy, y, g.Input(0), x, w, geometry, group));
        if (g.NeedsGrad(2)) g.SetInputGrad(2, ConvOperands.BiasGradient(g.Emit, dy, y));
    }
}

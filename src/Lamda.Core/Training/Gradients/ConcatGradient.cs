using Lamda.Operators;
using Onnx;

namespace Lamda.Training.Gradients;

/// <summary>Concat: each input's gradient is its slice of the output gradient along the axis.</summary>
internal sealed class ConcatGradient : IGradientRule
{
    public IReadOnlyList<string> Ops { get; } = ["Concat"];

    public bool IsDifferentiable(NodeProto node, int slot) => true;

    public void Backward(NodeGradient g)
    {
        var y = g.OutputShape();
        long axis = g.Int("axis", 1);
        if (axis < 0) axis += y.Length;
        long offset = 0;
        for (int slot = 0; slot < g.InputCount; slot++)
        {
            long size = g.InputShape(slot)[axis];
            if (g.NeedsGrad(slot)) g.SetInputGrad(slot, g.Emit.Slice(g.OutputGrad()!, [offset], [offset + size], [axis]));
            offset += size;
        }
    }
}

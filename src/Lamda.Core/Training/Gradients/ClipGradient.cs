using Lamda.Operators;
using Onnx;

namespace Lamda.Training.Gradients;

/// <summary>Clip: the gradient passes strictly inside the limits (attributes before opset 11, inputs after).</summary>
internal sealed class ClipGradient : IGradientRule
{
    public IReadOnlyList<string> Ops { get; } = ["Clip"];

    public IEnumerable<int> ValueSlots(NodeProto node) => [1, 2];

    public void Backward(NodeGradient g)
    {
        var e = g.Emit;
        float min = g.Emit.Opset < 11 ? g.Float("min", float.MinValue) : (float)(g.InputValue(1)?.Reals?[0] ?? float.MinValue);
        float max = g.Emit.Opset < 11 ? g.Float("max", float.MaxValue) : (float)(g.InputValue(2)?.Reals?[0] ?? float.MaxValue);
        var inside = e.Op("And", [e.Op("Greater", [g.Input(0), e.Scalar(min)]), e.Op("Less", [g.Input(0), e.Scalar(max)])]);
        g.SetInputGrad(0, e.Op("Mul", [g.OutputGrad()!, e.Mask(inside)]));
    }
}

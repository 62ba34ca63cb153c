using Lamda.Operators;
using Onnx;

namespace Lamda.Training.Gradients;

/// <summary>
/// BatchNormalization in inference mode, an affine map per channel: y = (x - mean) / sqrt(var + eps) * scale + bias.
/// Scale and bias are trained; the running statistics are constants.
/// </summary>
internal sealed class BatchNormGradient : IGradientRule
{
    public IReadOnlyList<string> Ops { get; } = ["BatchNormalization"];

    public bool IsDifferentiable(NodeProto node, int slot) => slot <= 2;

    public void Backward(NodeGradient g)
    {
        if (g.Int("training_mode", 0) != 0) throw g.Unsupported("training_mode 1");
        var e = g.Emit;
        var x = g.InputShape(0);
        var dy = g.OutputGrad()!;
        var perChannel = new long[x.Length];
        Array.Fill(perChannel, 1L);
        perChannel[1] = x[1];
        var inv = e.Op("Reciprocal", [e.Op("Sqrt", [e.Op("Add", [g.Input(4), e.Scalar(g.Float("epsilon", 1e-5f))])])]);
        var invC = e.Reshape(inv, perChannel);
        var axes = ConvGradient.AllBut(x.Length, 1);
        if (g.NeedsGrad(0)) g.SetInputGrad(0, e.Op("Mul", [dy, e.Op("Mul", [invC, e.Reshape(g.Input(1), perChannel)])]));
        if (g.NeedsGrad(1))
        {
            var normalized = e.Op("Mul", [e.Op("Sub", [g.Input(0), e.Reshape(g.Input(3), perChannel)]), invC]);
            g.SetInputGrad(1, e.Reshape(e.ReduceSum(e.Op("Mul", [dy, normalized]), axes, false), [x[1]]));
        }
        if (g.NeedsGrad(2)) g.SetInputGrad(2, e.Reshape(e.ReduceSum(dy, axes, false), [x[1]]));
    }
}

using Lamda.Operators;

namespace Lamda.Training.Gradients;

/// <summary>Tanh: dX = dY * (1 - y^2).</summary>
internal sealed class TanhGradient : IGradientRule
{
    public IReadOnlyList<string> Ops { get; } = ["Tanh"];

    public void Backward(NodeGradient g)
    {
        var e = g.Emit;
        var y = g.Output();
        var slope = e.Op("Sub", [e.Scalar(1f), e.Op("Mul", [y, y])]);
        g.SetInputGrad(0, e.Op("Mul", [g.OutputGrad()!, slope]));
    }
}

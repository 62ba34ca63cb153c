using Lamda.Operators;

namespace Lamda.Training.Gradients;

/// <summary>HardSwish, y = x * hardsigmoid(x) with alpha 1/6 and beta 1/2: dX = dY * (hs(x) + x * inside / 6).</summary>
internal sealed class HardSwishGradient : IGradientRule
{
    public IReadOnlyList<string> Ops { get; } = ["HardSwish"];

    public void Backward(NodeGradient g)
    {
        var e = g.Emit;
        var x = g.Input(0);
        var hs = e.Op("HardSigmoid", [x], ("alpha", 1f / 6), ("beta", 0.5f));
        var inside = HardSigmoidGradient.Inside(e, x, 1f / 6, 0.5f);
        var slope = e.Op("Add", [hs, e.Op("Mul", [e.Op("Mul", [x, inside]), e.Scalar(1f / 6)])]);
        g.SetInputGrad(0, e.Op("Mul", [g.OutputGrad()!, slope]));
    }
}

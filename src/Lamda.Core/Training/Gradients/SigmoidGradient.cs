using Lamda.Operators;

namespace Lamda.Training.Gradients;

/// <summary>Sigmoid: dX = dY * y * (1 - y), from the forward output.</summary>
internal sealed class SigmoidGradient : IGradientRule
{
    public IReadOnlyList<string> Ops { get; } = ["Sigmoid"];

    public void Backward(NodeGradient g)
    {
        var e = g.Emit;
        var y = g.Output();
        var slope = e.Op("Mul", [y, e.Op("Sub", [e.Scalar(1f), y])]);
        g.SetInputGrad(0, e.Op("Mul", [g.OutputGrad()!, slope]));
    }
}

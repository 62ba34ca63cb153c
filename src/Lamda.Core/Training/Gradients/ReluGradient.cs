using Lamda.Operators;

namespace Lamda.Training.Gradients;

/// <summary>Relu: the gradient passes where the input is positive.</summary>
internal sealed class ReluGradient : IGradientRule
{
    public IReadOnlyList<string> Ops { get; } = ["Relu"];

    public void Backward(NodeGradient g)
    {
        var e = g.Emit;
        var positive = e.Mask(e.Op("Greater", [g.Input(0), e.Scalar(0f)]));
        g.SetInputGrad(0, e.Op("Mul", [g.OutputGrad()!, positive]));
    }
}

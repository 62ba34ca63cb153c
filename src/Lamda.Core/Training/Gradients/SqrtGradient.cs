using Lamda.Operators;
namespace Lamda.Training.Gradients;

/// <summary>Sqrt (the standard deviation of a written-out layer normalization): dX = dY / (2 y).</summary>
internal sealed class SqrtGradient : IGradientRule
{
    public IReadOnlyList<string> Ops { get; } = ["Sqrt"];

    public void Backward(NodeGradient g)
    {
        var e = g.Emit;
        g.SetInputGrad(0, e.Op("Div", [g.OutputGrad()!, e.Op("Mul", [g.Output(), e.Scalar(2f)])]));
    }
}

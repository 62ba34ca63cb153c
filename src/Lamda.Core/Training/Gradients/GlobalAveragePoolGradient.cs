using Lamda.Operators;

namespace Lamda.Training.Gradients;

/// <summary>GlobalAveragePool: the gradient of each channel's mean, spread evenly over its positions.</summary>
internal sealed class GlobalAveragePoolGradient : IGradientRule
{
    public IReadOnlyList<string> Ops { get; } = ["GlobalAveragePool"];

    public void Backward(NodeGradient g)
    {
        var e = g.Emit;
        var x = g.InputShape(0);
        long positions = x[2..].Aggregate(1L, (a, d) => a * d);
        var share = e.Op("Mul", [g.OutputGrad()!, e.Scalar(1f / positions)]);
        g.SetInputGrad(0, e.Op("Expand", [share, e.Ints(x)]));
    }
}

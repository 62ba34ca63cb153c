using Lamda.Operators;

namespace Lamda.Training.Gradients;

/// <summary>LeakyRelu: slope 1 where the input is positive, alpha elsewhere.</summary>
internal sealed class LeakyReluGradient : IGradientRule
{
    public IReadOnlyList<string> Ops { get; } = ["LeakyRelu"];

    public void Backward(NodeGradient g)
    {
        var e = g.Emit;
        float alpha = g.Float("alpha", 0.01f);
        var positive = e.Mask(e.Op("Greater", [g.Input(0), e.Scalar(0f)]));
        // slope = alpha + (1 - alpha) * positive
        var slope = e.Op("Add", [e.Op("Mul", [positive, e.Scalar(1f - alpha)]), e.Scalar(alpha)]);
        g.SetInputGrad(0, e.Op("Mul", [g.OutputGrad()!, slope]));
    }
}

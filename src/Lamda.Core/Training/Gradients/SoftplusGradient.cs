using Lamda.Operators;

namespace Lamda.Training.Gradients;

/// <summary>
/// Softplus (log(1 + e^x), used by the binary distillation loss on logits): dX = dY * sigmoid(x), which stays in
/// [0, 1] for any x, so saturated logits give finite gradients.
/// </summary>
internal sealed class SoftplusGradient : IGradientRule
{
    public IReadOnlyList<string> Ops { get; } = ["Softplus"];

    public void Backward(NodeGradient g) =>
        g.SetInputGrad(0, g.Emit.Op("Mul", [g.OutputGrad()!, g.Emit.Op("Sigmoid", [g.Input(0)])]));
}

using Lamda.Operators;

namespace Lamda.Training.Gradients;

/// <summary>Log (used by the distillation losses): dX = dY / x.</summary>
internal sealed class LogGradient : IGradientRule
{
    public IReadOnlyList<string> Ops { get; } = ["Log"];

    public void Backward(NodeGradient g) => g.SetInputGrad(0, g.Emit.Op("Div", [g.OutputGrad()!, g.Input(0)]));
}

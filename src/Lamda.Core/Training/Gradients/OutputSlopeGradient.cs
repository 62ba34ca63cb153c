using Lamda.Operators;

namespace Lamda.Training.Gradients;

/// <summary>
/// An activation whose derivative is a function of its own output (Sigmoid, Tanh): dX = dY * slope(y), computed from
/// the forward output so that the input need not be kept.
/// </summary>
internal abstract class OutputSlopeGradient(string op) : IGradientRule
{
    public IReadOnlyList<string> Ops { get; } = [op];

    /// <summary>The derivative at output <paramref name="y"/>.</summary>
    protected abstract string Slope(GradientEmitter e, string y);

    public void Backward(NodeGradient g) => g.SetInputGrad(0, g.Emit.Op("Mul", [g.OutputGrad()!, Slope(g.Emit, g.Output())]));
}

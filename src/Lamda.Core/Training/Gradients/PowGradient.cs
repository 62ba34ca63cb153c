using Lamda.Operators;
namespace Lamda.Training.Gradients;

/// <summary>
/// Pow with a constant exponent (x^2 of a written-out layer normalization, as paddle2onnx exports it):
/// dX = dY * b * x^(b - 1). A trainable exponent, or a base broadcast to a larger output, is refused.
/// </summary>
internal sealed class PowGradient : IGradientRule
{
    public IReadOnlyList<string> Ops { get; } = ["Pow"];

    public void Backward(NodeGradient g)
    {
        if (g.NeedsGrad(1)) throw g.Unsupported("a trainable exponent");
        if (!g.InputShape(0).SequenceEqual(g.OutputShape())) throw g.Unsupported("a base broadcast to a larger output");
        var e = g.Emit;
        var exponent = g.Input(1);
        var slope = e.Op("Mul", [exponent, e.Op("Pow", [g.Input(0), e.Op("Sub", [exponent, e.Scalar(1f)])])]);
        g.SetInputGrad(0, e.Op("Mul", [g.OutputGrad()!, slope]));
    }
}

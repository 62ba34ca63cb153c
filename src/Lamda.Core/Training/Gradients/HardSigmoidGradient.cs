using Lamda.Operators;

namespace Lamda.Training.Gradients;

/// <summary>HardSigmoid, y = max(0, min(1, alpha x + beta)): slope alpha where 0 &lt; alpha x + beta &lt; 1.</summary>
internal sealed class HardSigmoidGradient : IGradientRule
{
    public IReadOnlyList<string> Ops { get; } = ["HardSigmoid"];

    public void Backward(NodeGradient g)
    {
        var e = g.Emit;
        float alpha = g.Float("alpha", 0.2f), beta = g.Float("beta", 0.5f);
        var slope = e.Op("Mul", [Inside(e, g.Input(0), alpha, beta), e.Scalar(alpha)]);
        g.SetInputGrad(0, e.Op("Mul", [g.OutputGrad()!, slope]));
    }

    /// <summary>1 where alpha x + beta lies strictly between 0 and 1, else 0.</summary>
    internal static string Inside(GradientEmitter e, string x, float alpha, float beta)
    {
        var z = e.Op("Add", [e.Op("Mul", [x, e.Scalar(alpha)]), e.Scalar(beta)]);
        return e.Mask(e.Op("And", [e.Op("Greater", [z, e.Scalar(0f)]), e.Op("Less", [z, e.Scalar(1f)])]));
    }
}

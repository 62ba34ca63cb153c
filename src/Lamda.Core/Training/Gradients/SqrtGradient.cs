namespace Lamda.Training.Gradients;

/// <summary>Sqrt (the standard deviation of a written-out layer normalization): dX = dY * 0.5 / y, from the forward output.</summary>
internal sealed class SqrtGradient() : OutputSlopeGradient("Sqrt")
{
    protected override string Slope(GradientEmitter e, string y) => e.Op("Div", [e.Scalar(0.5f), y]);
}

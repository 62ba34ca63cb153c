namespace Lamda.Training.Gradients;

/// <summary>Tanh: dX = dY * (1 - y^2).</summary>
internal sealed class TanhGradient() : OutputSlopeGradient("Tanh")
{
    protected override string Slope(GradientEmitter e, string y) => e.Op("Sub", [e.Scalar(1f), e.Op("Mul", [y, y])]);
}

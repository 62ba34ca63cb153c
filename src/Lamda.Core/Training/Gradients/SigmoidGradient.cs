namespace Lamda.Training.Gradients;

/// <summary>Sigmoid: dX = dY * y * (1 - y), from the forward output.</summary>
internal sealed class SigmoidGradient() : OutputSlopeGradient("Sigmoid")
{
    protected override string Slope(GradientEmitter e, string y) => e.Op("Mul", [y, e.Op("Sub", [e.Scalar(1f), y])]);
}

namespace Lamda.Training.Gradients;

/// <summary>Operators that only relabel the elements (Reshape, Flatten, Squeeze, Unsqueeze, Identity, Dropout at
/// inference, float Cast): the gradient is reshaped back to the input's shape.</summary>
public sealed class ReshapeGradient : IGradientRule
{
    public IReadOnlyList<string> Ops { get; } = ["Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity", "Dropout", "Cast"];

    public void Backward(NodeGradient g)
    {
        if (g.Node.OpType == "Cast" && g.Int("to", 1) != Graphs.DataTypes.Float) throw g.Unsupported("Cast to a non-float type");
        g.SetInputGrad(0, g.Emit.Reshape(g.OutputGrad()!, g.InputShape(0)));
    }
}

using Lamda.Operators;

namespace Lamda.Training.Gradients;

/// <summary>Operators that only relabel the elements (Reshape, Flatten, Squeeze, Unsqueeze, Identity, Dropout at
/// inference, float Cast): the gradient is reshaped back to the input's shape. Each of their families names the
/// operators it is used for.</summary>
internal sealed class ReshapeGradient(params string[] ops) : IGradientRule
{
    public IReadOnlyList<string> Ops { get; } = ops;

    public void Backward(NodeGradient g)
    {
        if (g.Node.OpType == "Cast" && g.Int("to", 1) != Graphs.DataTypes.Float) throw g.Unsupported("Cast to a non-float type");
        g.SetInputGrad(0, g.Emit.Reshape(g.OutputGrad()!, g.InputShape(0)));
    }
}

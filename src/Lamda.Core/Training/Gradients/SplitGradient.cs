using Lamda.Operators;

namespace Lamda.Training.Gradients;

/// <summary>Split: the input gradient is the outputs' gradients concatenated (zeros for outputs the loss ignores).</summary>
internal sealed class SplitGradient : IGradientRule
{
    public IReadOnlyList<string> Ops { get; } = ["Split"];

    public void Backward(NodeGradient g)
    {
        long axis = g.Int("axis", 0);
        if (axis < 0) axis += g.InputShape(0).Length;
        var parts = Enumerable.Range(0, g.Node.Output.Count).Select(g.OutputGradOrZeros).ToArray();
        g.SetInputGrad(0, g.Emit.Op("Concat", parts, ("axis", axis)));
    }
}

using Lamda.Operators;

namespace Lamda.Training.Gradients;

/// <summary>Transpose: the gradient goes through the inverse permutation.</summary>
internal sealed class TransposeGradient : IGradientRule
{
    public IReadOnlyList<string> Ops { get; } = ["Transpose"];

    public void Backward(NodeGradient g)
    {
        int rank = g.InputShape(0).Length;
        var perm = g.Ints("perm") ?? Enumerable.Range(0, rank).Reverse().Select(i => (long)i).ToArray();
        var inverse = new long[rank];
        for (int i = 0; i < rank; i++) inverse[perm[i]] = i;
        g.SetInputGrad(0, g.Emit.Transpose(g.OutputGrad()!, inverse));
    }
}

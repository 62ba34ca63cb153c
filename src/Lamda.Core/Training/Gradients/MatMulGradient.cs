using Lamda.Operators;
using Onnx;

namespace Lamda.Training.Gradients;

/// <summary>MatMul of rank-2 or batched operands: dA = dY B^T and dB = A^T dY, each summed over broadcast batch axes.</summary>
internal sealed class MatMulGradient : IGradientRule
{
    public IReadOnlyList<string> Ops { get; } = ["MatMul"];

    public bool IsDifferentiable(NodeProto node, int slot) => slot <= 1;

    public void Backward(NodeGradient g)
    {
        var e = g.Emit;
        var dy = g.OutputGrad()!;
        var a = g.InputShape(0);
        var b = g.InputShape(1);
        var y = g.OutputShape();
        if (a.Length < 2 || b.Length < 2) throw g.Unsupported("rank-1 operands");
        if (g.NeedsGrad(0))
        {
            var da = e.Op("MatMul", [dy, SwapLast(e, g.Input(1), b.Length)]);
            g.SetInputGrad(0, e.SumTo(da, [.. y[..^2], a[^2], a[^1]], a));
        }
        if (g.NeedsGrad(1))
        {
            var db = e.Op("MatMul", [SwapLast(e, g.Input(0), a.Length), dy]);
            g.SetInputGrad(1, e.SumTo(db, [.. y[..^2], b[^2], b[^1]], b));
        }
    }

    static string SwapLast(GradientEmitter e, string t, int rank)
    {
        var perm = Enumerable.Range(0, rank).Select(i => (long)i).ToArray();
        (perm[^1], perm[^2]) = (perm[^2], perm[^1]);
        return e.Transpose(t, perm);
    }
}

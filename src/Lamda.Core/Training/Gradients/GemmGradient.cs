using Lamda.Operators;
using Onnx;

namespace Lamda.Training.Gradients;

/// <summary>
/// Gemm, Y = alpha * op(A) op(B) + beta * C: written with MatMul and Transpose, which every opset has, rather than a
/// Gemm whose C input was mandatory before opset 11.
/// </summary>
internal sealed class GemmGradient : IGradientRule
{
    public IReadOnlyList<string> Ops { get; } = ["Gemm"];

    public bool IsDifferentiable(NodeProto node, int slot) => slot <= 2;

    public void Backward(NodeGradient g)
    {
        var e = g.Emit;
        var dy = g.OutputGrad()!;
        bool transA = g.Int("transA", 0) != 0, transB = g.Int("transB", 0) != 0;
        float alpha = g.Float("alpha", 1f), beta = g.Float("beta", 1f);
        string T(string t) => e.Transpose(t, [1, 0]);
        string Scaled(string t, float s) => s == 1f ? t : e.Op("Mul", [t, e.Scalar(s)]);
        var a = transA ? T(g.Input(0)) : g.Input(0);
        var b = transB ? T(g.Input(1)) : g.Input(1);
        if (g.NeedsGrad(0))
        {
            var da = e.Op("MatMul", [dy, T(b)]);
            g.SetInputGrad(0, Scaled(transA ? T(da) : da, alpha));
        }
        if (g.NeedsGrad(1))
        {
            var db = e.Op("MatMul", [T(a), dy]);
            g.SetInputGrad(1, Scaled(transB ? T(db) : db, alpha));
        }
        if (g.NeedsGrad(2)) g.SetInputGrad(2, Scaled(e.SumTo(dy, g.OutputShape(), g.InputShape(2)), beta));
    }
}

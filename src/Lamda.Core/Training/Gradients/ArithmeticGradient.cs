using Lamda.Operators;
using Onnx;

namespace Lamda.Training.Gradients;

/// <summary>Add, Sub, Mul, Div with numpy broadcasting: each operand's gradient is summed back to its own shape.</summary>
internal sealed class ArithmeticGradient : IGradientRule
{
    public IReadOnlyList<string> Ops { get; } = ["Add", "Sub", "Mul", "Div"];

    public bool IsDifferentiable(NodeProto node, int slot) => slot <= 1;

    public void Backward(NodeGradient g)
    {
        var e = g.Emit;
        var dy = g.OutputGrad()!;
        var y = g.OutputShape();
        string? da = null, db = null;
        switch (g.Node.OpType)
        {
            case "Add": da = dy; db = dy; break;
            case "Sub": da = dy; db = g.NeedsGrad(1) ? e.Op("Neg", [dy]) : null; break;
            case "Mul":
                if (g.NeedsGrad(0)) da = e.Op("Mul", [dy, g.Input(1)]);
                if (g.NeedsGrad(1)) db = e.Op("Mul", [dy, g.Input(0)]);
                break;
            case "Div":
                if (g.NeedsGrad(0)) da = e.Op("Div", [dy, g.Input(1)]);
                // d(a/b)/db = -y/b
                if (g.NeedsGrad(1)) db = e.Op("Neg", [e.Op("Div", [e.Op("Mul", [dy, g.Output()]), g.Input(1)])]);
                break;
        }
        if (g.NeedsGrad(0)) g.SetInputGrad(0, e.SumTo(da!, y, g.InputShape(0)));
        if (g.NeedsGrad(1)) g.SetInputGrad(1, e.SumTo(db!, y, g.InputShape(1)));
    }
}

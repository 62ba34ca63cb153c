using Lamda.Operators;

namespace Lamda.Training.Gradients;

/// <summary>
/// Softmax, dX = y (dY - sum(dY y)), and LogSoftmax, dX = dY - exp(y) sum(dY), along the axis. Before opset 13 the
/// input is seen as 2-D around the axis, so the sums run over every dimension from the axis on.
/// </summary>
internal sealed class SoftmaxGradient : IGradientRule
{
    public IReadOnlyList<string> Ops { get; } = ["Softmax", "LogSoftmax"];

    public void Backward(NodeGradient g)
    {
        var e = g.Emit;
        var shape = g.InputShape(0);
        bool legacy = e.Opset < 13;
        long axis = g.Int("axis", legacy ? 1 : -1);
        if (axis < 0) axis += shape.Length;
        var axes = legacy ? Enumerable.Range((int)axis, shape.Length - (int)axis).Select(a => (long)a).ToArray() : [axis];
        var dy = g.OutputGrad()!;
        var y = g.Output();
        if (g.Node.OpType == "Softmax")
        {
            var dot = e.ReduceSum(e.Op("Mul", [dy, y]), axes, keepDims: true);
            g.SetInputGrad(0, e.Op("Mul", [y, e.Op("Sub", [dy, dot])]));
        }
        else
        {
            var total = e.ReduceSum(dy, axes, keepDims: true);
            g.SetInputGrad(0, e.Op("Sub", [dy, e.Op("Mul", [e.Op("Exp", [y]), total])]));
        }
    }
}

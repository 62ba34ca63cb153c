using Lamda.Operators;
using Onnx;

namespace Lamda.Training.Gradients;

/// <summary>ReduceSum and ReduceMean: the gradient broadcast back over the reduced axes (divided by their size for the mean).</summary>
internal sealed class ReduceGradient : IGradientRule
{
    public IReadOnlyList<string> Ops { get; } = ["ReduceSum", "ReduceMean"];

    public IEnumerable<int> ValueSlots(NodeProto node) => [1];

    public void Backward(NodeGradient g)
    {
        var e = g.Emit;
        var x = g.InputShape(0);
        var axes = g.Ints("axes") ?? g.InputValue(1)?.AsInt64() ?? [];
        if (axes.Length == 0)
        {
            if (g.Int("noop_with_empty_axes", 0) != 0) { g.SetInputGrad(0, g.OutputGrad()!); return; }
            axes = Enumerable.Range(0, x.Length).Select(a => (long)a).ToArray();
        }
        axes = axes.Select(a => a < 0 ? a + x.Length : a).ToArray();
        var kept = x.Select((d, i) => axes.Contains(i) ? 1L : d).ToArray();
        var dy = e.Reshape(g.OutputGrad()!, kept);
        if (g.Node.OpType == "ReduceMean")
            dy = e.Op("Mul", [dy, e.Scalar(1f / axes.Aggregate(1L, (a, i) => a * x[i]))]);
        g.SetInputGrad(0, e.Op("Expand", [dy, e.Ints(x)]));
    }
}

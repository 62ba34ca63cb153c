using Lamda.Operators;
using Onnx;

namespace Lamda.Training.Gradients;

/// <summary>Pad (constant mode, non-negative pads): the input gradient is the unpadded window of the output gradient.</summary>
internal sealed class PadGradient : IGradientRule
{
    public IReadOnlyList<string> Ops { get; } = ["Pad"];

    public IEnumerable<int> ValueSlots(NodeProto node) => [1];

    public void Backward(NodeGradient g)
    {
        if ((g.String("mode") ?? "constant") != "constant") throw g.Unsupported("Pad modes other than constant");
        var x = g.InputShape(0);
        var pads = g.Emit.Opset < 11 ? g.Ints("pads")! : g.InputValue(1)!.AsInt64();
        if (pads.Any(p => p < 0) || g.HasInput(3)) throw g.Unsupported("negative pads or Pad axes");
        var axes = Enumerable.Range(0, x.Length).Select(a => (long)a).ToArray();
        var ends = axes.Select(a => pads[a] + x[a]).ToArray();
        g.SetInputGrad(0, g.Emit.Slice(g.OutputGrad()!, pads[..x.Length], ends, axes));
    }
}

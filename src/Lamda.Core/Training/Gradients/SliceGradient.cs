using Lamda.Operators;
using Onnx;

namespace Lamda.Training.Gradients;

/// <summary>Slice with unit steps: the output gradient padded with zeros back to the input's shape.</summary>
internal sealed class SliceGradient : IGradientRule
{
    public IReadOnlyList<string> Ops { get; } = ["Slice"];

    public IEnumerable<int> ValueSlots(NodeProto node) => [1, 2, 3, 4];

    public void Backward(NodeGradient g)
    {
        var x = g.InputShape(0);
        long[] starts, ends, axes, steps;
        if (g.Emit.Opset < 10)
        {
            starts = g.Ints("starts")!;
            ends = g.Ints("ends")!;
            axes = g.Ints("axes") ?? Enumerable.Range(0, starts.Length).Select(i => (long)i).ToArray();
            steps = Enumerable.Repeat(1L, starts.Length).ToArray();
        }
        else
        {
            starts = g.InputValue(1)!.AsInt64();
            ends = g.InputValue(2)!.AsInt64();
            axes = g.InputValue(3)?.AsInt64() ?? Enumerable.Range(0, starts.Length).Select(i => (long)i).ToArray();
            steps = g.InputValue(4)?.AsInt64() ?? Enumerable.Repeat(1L, starts.Length).ToArray();
        }
        if (steps.Any(s => s != 1)) throw g.Unsupported("Slice with steps other than 1");
        var pads = new long[2 * x.Length];
        for (int i = 0; i < axes.Length; i++)
        {
            int a = (int)(axes[i] < 0 ? axes[i] + x.Length : axes[i]);
            long begin = Clamp(starts[i], x[a]), end = Math.Max(begin, Clamp(ends[i], x[a]));
            pads[a] = begin;
            pads[a + x.Length] = x[a] - end;
        }
        g.SetInputGrad(0, g.Emit.Pad(g.OutputGrad()!, pads));
    }

    static long Clamp(long index, long size) => Math.Clamp(index < 0 ? index + size : index, 0, size);
}

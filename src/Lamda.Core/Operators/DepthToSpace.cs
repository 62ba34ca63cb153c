using Lamda.Graphs;
using Lamda.Latency;

namespace Lamda.Operators;

/// <summary>
/// DepthToSpace (the pixel shuffle of super-resolution heads) and SpaceToDepth move data between the channel
/// axis and blocks of b x b pixels. Output channel c of DepthToSpace is made of b² input channels: k·C' + c in
/// DCR mode (the default), c·b² + k in CRD mode; those are kept or removed together, so a pruned producer
/// still hands it whole blocks, in the order the mode expects. SpaceToDepth's output channel k·C + c is
/// input channel c, for every block position k. Neither has weights or shape constants to rewrite.
/// </summary>
internal sealed class DepthToSpaceRule() : OperatorRule(KernelClass.Copy, "DepthToSpace", "SpaceToDepth")
{
    public override OperatorSignature SignatureOf(string op) => OperatorSignature.Of(1, 1, ["blocksize"]);

    public override TensorType[] InferTypes(ShapeContext c)
    {
        var (x, dims) = (c.X, c.X.Dims);
        if (dims is not { Length: 4 }) return [x];
        long b = c.Node.GetInt("blocksize", 1);
        bool up = c.Node.Op == "DepthToSpace";
        Dim Scale(Dim d, long by, bool multiply) => d.IsKnown ? (multiply ? d.Value * by : d.Value / by) : Dim.Unknown;
        return [ShapeMath.Same(x, [dims[0], Scale(dims[1], b * b, !up), Scale(dims[2], b, up), Scale(dims[3], b, up)])];
    }

    public override bool MapChannels(ChannelAnalysis a, Node n)
    {
        var x = a.LayoutOf(n.Inputs[0]);
        long b = n.GetInt("blocksize", 1);
        if (x == null || x.Axes.Length != 1 || a.TypeOf(n.Inputs[0]).Rank != 4 || b < 1) return false;
        int blocks = (int)(b * b), channels = x.Labels.Length;
        if (n.Op == "SpaceToDepth")
        {
            a.Layouts[n.Output] = ChannelLayout.Of(Enumerable.Range(0, blocks).SelectMany(_ => x.Labels).ToArray());
            return true;
        }
        if (channels % blocks != 0) return false;
        int outChannels = channels / blocks;
        bool crd = n.GetString("mode") == "CRD";
        int Position(int c, int k) => crd ? c * blocks + k : k * outChannels + c;
        var labels = new int[outChannels];
        for (int c = 0; c < outChannels; c++)
        {
            labels[c] = x.Labels[Position(c, 0)];
            for (int k = 1; k < blocks; k++) a.Union(labels[c], x.Labels[Position(c, k)]);
        }
        a.Layouts[n.Output] = ChannelLayout.Of(labels);
        return true;
    }
}

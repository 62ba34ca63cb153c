using Lamda.Graphs;
using Lamda.Latency;
using Lamda.Training.Gradients;
using static Lamda.Operators.ShapeMath;

namespace Lamda.Operators;

/// <summary>MaxPool, AveragePool and LpPool: a window over each channel on its own, so channels pass through.</summary>
internal sealed class PoolRule() : OperatorRule(KernelClass.Pool, "MaxPool", "AveragePool", "LpPool")
{
    public override OperatorSignature? SignatureOf(string op) => op == "LpPool" ? null : OperatorSignature.Of(1, 1, ["kernel_shape"]);

    public override TensorType[] InferTypes(ShapeContext c)
    {
        var y = SlidingWindow.Infer(c);
        return [y, new TensorType(DataTypes.Int64, y.Dims)];
    }

    public override bool MapChannels(ChannelAnalysis a, Node n) => PassThrough(a, n);

    /// <summary>Every output carries the first input's channels, whatever its layout.</summary>
    internal static bool PassThrough(ChannelAnalysis a, Node n)
    {
        if (a.LayoutOf(n.Inputs[0]) is not { } x) return false;
        a.PassToOutputs(n, x);
        return true;
    }

    /// <inheritdoc/>
    public override IReadOnlyList<IGradientRule> Gradients { get; } = [new MaxPoolGradient(), new AveragePoolGradient()];
}

/// <summary>Global pools: one value per channel.</summary>
internal sealed class GlobalPoolRule() : OperatorRule(KernelClass.GlobalPool, "GlobalAveragePool", "GlobalMaxPool", "GlobalLpPool")
{
    public override OperatorSignature? SignatureOf(string op) => op == "GlobalLpPool" ? null : OperatorSignature.Of(1, 1);

    public override TensorType[] InferTypes(ShapeContext c)
    {
        var x = c.X;
        return x.Dims == null ? [x] : [Same(x, x.Dims.Select((d, i) => i < 2 ? d : new Dim(1)).ToArray())];
    }

    // GlobalLpPool's channels are not followed (nor its kernel modelled) yet: it is kept as Lamda had it.
    public override bool MapChannels(ChannelAnalysis a, Node n) => n.Op != "GlobalLpPool" && PoolRule.PassThrough(a, n);

    public override string KernelClassOf(Node n, WeightStore weights, InferenceResult inference) =>
        n.Op == "GlobalLpPool" ? KernelClass.Elementwise : KernelClass.GlobalPool;

    /// <inheritdoc/>
    public override IReadOnlyList<IGradientRule> Gradients { get; } = [new GlobalAveragePoolGradient()];
}

/// <summary>Reductions and ArgMax/ArgMin. Channels pass through a reduction over spatial axes only.</summary>
internal sealed class ReduceRule()
    : OperatorRule(KernelClass.Elementwise, "ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd",
    "ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare", "ArgMax", "ArgMin")
{
    static readonly HashSet<string> ChannelPreserving = ["ReduceMean", "ReduceMax", "ReduceMin", "ReduceSum", "ReduceL2"];
    static readonly HashSet<string> Pooling = ["ReduceMean", "ReduceMax", "ReduceSum"];

    public override OperatorSignature? SignatureOf(string op) => op == "ReduceMean" ? OperatorSignature.Of(1, 2) : null;

    /// <summary>Whether the axes are an input (opset 18, and opset 13 for ReduceSum) rather than an attribute.</summary>
    static bool AxesAsInput(string op, long opset) => opset >= 18 || (op == "ReduceSum" && opset >= 13);

    public override TensorType[] InferTypes(ShapeContext c)
    {
        var n = c.Node;
        var x = c.X;
        if (x.Dims == null) return [x];
        bool argOp = n.Op is "ArgMax" or "ArgMin";
        int et = argOp ? DataTypes.Int64 : x.ElemType;
        bool keep = n.GetInt("keepdims", 1) != 0;
        long[]? axes = argOp ? [n.GetInt("axis", 0)]
            : AxesAsInput(n.Op, c.Opset) ? (c.Has(1) ? c.Ints(1) : [])
            : n.GetInts("axes") ?? [];
        if (axes == null) return [new TensorType(et, keep ? x.Dims.Select(_ => Dim.Unknown).ToArray() : null)];
        if (axes.Length == 0 && n.GetInt("noop_with_empty_axes", 0) != 0) return [x];
        var set = axes.Length == 0 ? Enumerable.Range(0, x.Rank).ToHashSet() : axes.Select(a => Axis(a, x.Rank)).ToHashSet();
        var outDims = keep
            ? x.Dims.Select((d, i) => set.Contains(i) ? new Dim(1) : d).ToArray()
            : x.Dims.Where((d, i) => !set.Contains(i)).ToArray();
        return [new TensorType(et, outDims)];
    }

    public override bool MapChannels(ChannelAnalysis a, Node n)
    {
        if (!ChannelPreserving.Contains(n.Op)) return false;
        var x = a.LayoutOf(n.Inputs[0]);
        var axes = AxesAsInput(n.Op, a.Graph.Opset) ? a.IntsOf(n, 1) : n.GetInts("axes");
        int rank = a.TypeOf(n.Inputs[0]).Rank;
        if (x == null || axes == null || axes.Length == 0 || axes.Any(v => Axis(v, rank) < 2)) return false;
        a.Layouts[n.Output] = x;
        return true;
    }

    public override string KernelClassOf(Node n, WeightStore weights, InferenceResult inference) =>
        Pooling.Contains(n.Op) ? KernelClass.GlobalPool : KernelClass.Elementwise;

    /// <inheritdoc/>
    public override IReadOnlyList<IGradientRule> Gradients { get; } = [new ReduceGradient()];
}

using Lamda.Graphs;
using Lamda.Latency;
using static Lamda.Operators.ShapeMath;

namespace Lamda.Operators;

/// <summary>
/// Gemm and MatMul with a weight: fully connected layers whose output width can change. Gemm's weight is
/// [in, out], or [out, in] with transB; <see cref="WeightAxes"/> is the one place that reads transB.
/// </summary>
internal sealed class GemmRule() : OperatorRule(KernelClass.Gemm, "Gemm", "MatMul")
{
    /// <summary>Which axis of the weight (input 1) indexes the input features and which the output features.</summary>
    public static (int In, int Out) WeightAxes(Node n) => n.Op == "Gemm" && n.GetInt("transB", 0) != 0 ? (1, 0) : (0, 1);

    public override OperatorSignature SignatureOf(string op) =>
        op == "Gemm" ? OperatorSignature.Of(2, 3, weights: [1, 2]) : OperatorSignature.Of(2, 2, weights: [1]);

    public override TensorType[] InferTypes(ShapeContext c)
    {
        var x = c.X;
        if (c.Node.Op == "MatMul") return [Same(x, MatMulDims(c.Type(0).Dims, c.Type(1).Dims))];
        var a = c.Type(0).Dims; var b = c.Type(1).Dims;
        if (a is not { Length: 2 } || b is not { Length: 2 }) return [Same(x, null)];
        var m = c.Node.GetInt("transA", 0) != 0 ? a[1] : a[0];
        return [Same(x, [m, b[WeightAxes(c.Node).Out]])];
    }

    static Dim[]? MatMulDims(Dim[]? a, Dim[]? b)
    {
        if (a == null || b == null || a.Length == 0 || b.Length == 0) return null;
        bool aVec = a.Length == 1, bVec = b.Length == 1;
        var a2 = aVec ? [new Dim(1), a[0]] : a;
        var b2 = bVec ? [b[0], new Dim(1)] : b;
        var batch = Broadcast(a2[..^2], b2[..^2]);
        var r = batch.Concat([a2[^2], b2[^1]]).ToList();
        if (bVec) r.RemoveAt(r.Count - 1);
        if (aVec) r.RemoveAt(r.Count - (bVec ? 1 : 2));
        return r.ToArray();
    }

    /// <summary>A MatMul of two activations (attention) is not a fully connected layer: it has a class of its own.</summary>
    public override string KernelClassOf(Node n, WeightStore weights, InferenceResult inference) =>
        n.Op == "MatMul" && TwoActivations(n) ? KernelClass.MatMul : KernelClass.Gemm;

    public override bool MapChannels(ChannelAnalysis a, Node n)
    {
        var x = a.LayoutOf(n.Inputs[0]);
        if (x == null || n.Inputs[1] is not WeightOperand w || a.Weights.ShapeOf(w.Name) is not { Length: 2 } ws) return false;
        if (n.Op == "Gemm" ? n.GetInt("transA", 0) != 0 : a.TypeOf(n.Inputs[0]).Rank != 2) return false;
        var (inAxis, outAxis) = WeightAxes(n);
        if (ws[inAxis] != x.Labels.Length) return false;
        a.AddLayer(n, ws[outAxis]);
        return true;
    }

    public override void SliceWeights(ChannelSurgery s)
    {
        var (inAxis, outAxis) = WeightAxes(s.Node);
        s.Slice(1, (inAxis, s.InputSelection), (outAxis, s.OutputKept));
        // Gemm's bias broadcasts: its last axis (if any) is the output features.
        if (s.Node.Op == "Gemm" && s.Node.Inputs.Count > 2
            && s.Analysis.Weights.ShapeOf((s.Original.Inputs[2] as WeightOperand)?.Name ?? "") is { } cs)
            s.Slice(2, (cs.Length - 1, s.OutputKept));
    }

    public override int ImportanceAxis(Node n) => WeightAxes(n).Out;

    public override bool CanRefit(Node n) => n.Op == "Gemm" && n.GetInt("transA", 0) == 0 && WeightAxes(n).Out == 0;

    /// <inheritdoc/>
    public override IReadOnlyList<IGradientRule> Gradients { get; } =
        [new Training.Gradients.GemmGradient(), new Training.Gradients.MatMulGradient()];
}

using Lamda.Graphs;
using Lamda.Latency;
using Lamda.Training.Gradients;

namespace Lamda.Operators;

/// <summary>
/// BatchNormalization and InstanceNormalization: every parameter input is one value per channel, sliced with
/// the channels of the input.
/// </summary>
internal sealed class BatchNormRule() : OperatorRule(KernelClass.Elementwise, "BatchNormalization", "InstanceNormalization")
{
    public override OperatorSignature SignatureOf(string op) =>
        op == "BatchNormalization" ? OperatorSignature.Of(5, 5, weights: [1, 2, 3, 4]) : OperatorSignature.Of(3, 3, weights: [1, 2]);

    public override TensorType[] InferTypes(ShapeContext c) =>
        c.Node.Op == "InstanceNormalization" || c.Node.OutputCount == 1 ? [c.X] : [c.X, c.Type(3), c.Type(4), c.Type(3), c.Type(4)];

    public override bool MapChannels(ChannelAnalysis a, Node n) => Elementwise.MapChannels(a, n);

    /// <summary>A BatchNormalization left after fusion costs like no other elementwise pass (its own class).</summary>
    public override string KernelClassOf(Node n, WeightStore weights, InferenceResult inference) =>
        n.Op == "BatchNormalization" ? KernelClass.Normalization : KernelClass.Elementwise;

    public override void SliceWeights(ChannelSurgery s)
    {
        for (int slot = 1; slot < s.Node.Inputs.Count; slot++) s.Slice(slot, (0, s.InputSelection));
    }

    /// <inheritdoc/>
    public override IReadOnlyList<IGradientRule> Gradients { get; } = [new BatchNormGradient()];
}

/// <summary>Normalizations treated as elementwise for their channels (their parameters broadcast like constants).</summary>
internal sealed class ChannelwiseNormRule() : OperatorRule(KernelClass.Elementwise, "LayerNormalization", "GroupNormalization",
    "MeanVarianceNormalization", "LpNormalization", "RMSNormalization")
{
    public override OperatorSignature? SignatureOf(string op) => op switch
    {
        "LayerNormalization" => OperatorSignature.Of(2, 3, weights: [1, 2]),
        "GroupNormalization" => OperatorSignature.Of(3, 3, ["num_groups"], [1, 2]),
        _ => null,
    };

    public override TensorType[] InferTypes(ShapeContext c) => [c.X];

    public override bool MapChannels(ChannelAnalysis a, Node n) => Elementwise.MapChannels(a, n);
}

/// <summary>Local response normalization: same shape out; its channels are followed as a pool's are.</summary>
internal sealed class LrnRule() : OperatorRule(KernelClass.Elementwise, "LRN")
{
    public override TensorType[] InferTypes(ShapeContext c) => [c.X];

    public override bool MapChannels(ChannelAnalysis a, Node n) => PoolRule.PassThrough(a, n);
}

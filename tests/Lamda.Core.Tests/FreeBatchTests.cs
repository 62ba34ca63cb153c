using Lamda.Adaptation;
using Lamda.Graphs;
using Lamda.Latency;
using Lamda.Runtime;

namespace Lamda.Tests;

/// <summary>
/// A model with a free batch is adapted at batch 1 (<c>--input-shape 1,...</c>); normalization folds its shape arithmetic
/// into Reshape targets there. The adapted model must still run at any batch, sample by sample as at batch 1.
/// </summary>
public class FreeBatchTests
{
    /// <summary>
    /// Two convolutions, then the reshapes exporters write with the batch read from Shape: [N, C, H*W] (the batch
    /// leads), [N*H*W, C] (the batch merged into a dim) and [N, C*H*W] before a Gemm head.
    /// </summary>
    static GraphBuilder ReshapingNet()
    {
        var b = new GraphBuilder(seed: 3);
        var x = b.Input("input", 1, 3, 8, 8);
        var h = b.Relu(b.Conv(b.Relu(b.Conv(b.Relu(b.Conv(x, 32)), 32)), 8));
        var batch = b.Op("Unsqueeze", [b.Op("Gather", [b.Op("Shape", [h]), new LiteralOperand(TensorLiteral.Int64([0], []))],
            ("axis", AttributeValue.FromInt(0))), new LiteralOperand(TensorLiteral.Int64([0]))]);
        var t = b.Op("Reshape", [h, Concat(b, batch, new LiteralOperand(TensorLiteral.Int64([8, 64])))]);
        var rows = b.Op("Mul", [batch, new LiteralOperand(TensorLiteral.Int64([64]))]);
        var u = b.Relu(b.Op("Reshape", [t, Concat(b, rows, new LiteralOperand(TensorLiteral.Int64([8])))]));
        var v = b.Op("Reshape", [u, Concat(b, batch, new LiteralOperand(TensorLiteral.Int64([512])))]);
        b.Output(b.Gemm(v, 10), "output");
        return b;
    }

    static EdgeOperand Concat(GraphBuilder b, params Operand[] parts) => b.Op("Concat", parts, ("axis", AttributeValue.FromInt(0)));

    /// <summary>The built graph with a symbolic batch, as the exporter declares it.</summary>
    static Graph WithFreeBatch(Graph pinned)
    {
        var g = pinned.Clone();
        for (int i = 0; i < g.Inputs.Count; i++) g.Inputs[i] = g.Inputs[i] with { Type = Free(g.Inputs[i].Type) };
        for (int i = 0; i < g.Outputs.Count; i++) g.Outputs[i] = g.Outputs[i] with { Type = Free(g.Outputs[i].Type) };
        return g;

        static TensorType Free(TensorType t) => t.WithDims([new Dim(-1, "N"), .. t.Dims![1..]]);
    }

    [Fact]
    public void AModelAdaptedAtBatchOneRunsAtBatchFourSampleBySample()
    {
        var b = ReshapingNet();
        var result = Adapter.Run("reshaping", b.Graph, b.Weights, new AdaptOptions
        {
            TargetFraction = 0.8, Device = DeviceCatalog.Resolve("jetson-nano"), BatchIsFree = true,
        });
        Assert.NotEqual("base-meets-budget", result.Report.Outcome);
        InputShapes.RestoreInterface(result.Model, WithFreeBatch(b.Graph));
        using var runner = new ModelRunner(Adapter.Bytes(result.Model));
        var rng = new Random(1);
        var values = Enumerable.Range(0, 4 * 3 * 8 * 8).Select(_ => (float)rng.NextDouble()).ToArray();
        var four = new TensorData(DataTypes.Float, [4, 3, 8, 8], values);
        var batched = (float[])Run(runner, four).Values;
        Assert.Equal(40, batched.Length);
        for (int i = 0; i < 4; i++)
        {
            var single = (float[])Run(runner, four.Rows(i, 1)).Values;
            for (int k = 0; k < 10; k++) Assert.Equal(single[k], batched[i * 10 + k], 1e-4);
        }
    }

    /// <summary>Without the free batch (a model whose batch is 1), folded targets keep their sizes.</summary>
    [Fact]
    public void APinnedBatchStaysInTheFoldedTargets()
    {
        var b = ReshapingNet();
        var pinned = Normalizer.Normalize(b.Graph, b.Weights.Copy()).Graph;
        var free = Normalizer.Normalize(b.Graph, b.Weights.Copy(), freeBatch: true).Graph;
        Assert.Equal([[1, 8, 64], [64, 8], [1, 512]], Targets(pinned));
        Assert.Equal([[0, 8, 64], [-1, 8], [-1, 512]], Targets(free));

        static long[][] Targets(Graph g) =>
            g.Nodes.Where(n => n.Op == "Reshape").Select(n => ((LiteralOperand)n.Inputs[1]).Value.AsInt64()).ToArray();
    }

    static TensorData Run(ModelRunner runner, TensorData input) =>
        runner.Run(new Dictionary<string, TensorData> { [runner.InputNames[0]] = input }).Values.Single();
}

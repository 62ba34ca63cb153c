using Lamda.Graphs;
using Lamda.Latency;

namespace Lamda.Tests;

/// <summary>
/// The kernel class of every kernel of the shared and real models, as the latency predictor sees them, against a
/// table written from the operators' definitions: most operators have one class; a convolution's depends on its
/// groups and kernel size, MatMul's on whether both operands are activations (attention) or one is a weight, and
/// Mul's on whether one operand is a per-channel gate (squeeze-excite).
/// </summary>
public class KernelClassTests
{
    public static IEnumerable<object[]> Models() => TrainingTests.EveryModel().Where(m => !((string)m[0]).StartsWith("digits"));

    static readonly Dictionary<string, string> ByOp = new()
    {
        ["Relu"] = KernelClass.Elementwise, ["Clip"] = KernelClass.Elementwise, ["Sigmoid"] = KernelClass.Elementwise,
        ["HardSigmoid"] = KernelClass.Elementwise, ["HardSwish"] = KernelClass.Elementwise, ["Add"] = KernelClass.Elementwise,
        ["Sub"] = KernelClass.Elementwise, ["Div"] = KernelClass.Elementwise, ["Mul"] = KernelClass.Elementwise,
        ["BatchNormalization"] = KernelClass.Normalization, ["Softmax"] = KernelClass.Softmax,
        ["Resize"] = KernelClass.Resize, ["Upsample"] = KernelClass.Resize, ["ConvTranspose"] = KernelClass.ConvTranspose,
        ["MaxPool"] = KernelClass.Pool, ["AveragePool"] = KernelClass.Pool, ["GlobalAveragePool"] = KernelClass.GlobalPool,
        ["ReduceMean"] = KernelClass.GlobalPool, ["Gemm"] = KernelClass.Gemm, ["MatMul"] = KernelClass.Gemm,
        ["Concat"] = KernelClass.Concat, ["Transpose"] = KernelClass.Copy, ["Slice"] = KernelClass.Copy,
        ["Split"] = KernelClass.Copy, ["Pad"] = KernelClass.Copy, ["Gather"] = KernelClass.Copy, ["Cast"] = KernelClass.Copy,
        ["Reshape"] = KernelClass.Free, ["Flatten"] = KernelClass.Free, ["Squeeze"] = KernelClass.Free,
        ["Unsqueeze"] = KernelClass.Free, ["Identity"] = KernelClass.Free, ["Dropout"] = KernelClass.Free,
        ["Shape"] = KernelClass.Free, ["Constant"] = KernelClass.Free,
    };

    [SharedTheory]
    [MemberData(nameof(Models))]
    public void EveryKernelHasTheClassOfItsOperator(string name)
    {
        var (graph, weights) = TrainingTests.LoadAny(name);
        var inference = ShapeInference.Run(graph, weights, batchOne: true);
        var wrong = KernelExtractor.Extract(graph, weights, inference)
            .Select(k => (k.Nodes[0], k.Class, Expected: Expected(k.Nodes[0], weights, inference)))
            .Where(k => k.Class != k.Expected)
            .Select(k => $"{k.Item1.Op} {k.Item1.Id}: {k.Class}, expected {k.Expected}").ToList();
        Assert.True(wrong.Count == 0, string.Join("\n", wrong.Take(10)));
    }

    static string Expected(Node n, WeightStore weights, InferenceResult inference)
    {
        bool twoActivations = n.Inputs.Count >= 2 && n.Inputs[0] is EdgeOperand && n.Inputs[1] is EdgeOperand;
        return n.Op switch
        {
            "Conv" => ConvClass(n, weights),
            "MatMul" when twoActivations => KernelClass.MatMul,
            "Mul" when twoActivations && n.Inputs.Count(o => IsPerChannel(o, inference)) == 1 => KernelClass.Scale,
            _ => ByOp.GetValueOrDefault(n.Op, "not in the table: " + n.Op),
        };
    }

    static string ConvClass(Node n, WeightStore weights)
    {
        var w = weights.ShapeOf(((WeightOperand)n.Inputs[1]).Name)!;
        if (n.GetInt("group", 1) == 1) return w[2] == 1 && w[3] == 1 ? KernelClass.Pointwise : KernelClass.Conv;
        return w[1] == 1 ? KernelClass.Depthwise : KernelClass.GroupConv;
    }

    static bool IsPerChannel(Operand o, InferenceResult inference) => o is EdgeOperand e
        && inference.TypeOf(e.Key).Dims is [_, _, { IsKnown: true, Value: 1 }, { IsKnown: true, Value: 1 }];
}

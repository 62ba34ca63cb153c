using Lamda.Graphs;
using Lamda.Training.Gradients;
using Onnx;

namespace Lamda.Training;

/// <summary>
/// Which initializers fine-tuning changes: float tensors of at least two elements read in a slot a gradient flows
/// through (convolution and matrix weights, biases, BatchNormalization scale and shift). Scalars such as hard-swish's
/// 3 and 6, running statistics, shapes and Resize scales stay as they are.
/// </summary>
internal static class TrainableWeights
{
    public static List<string> Of(ModelProto model)
    {
        var floats = model.Graph.Initializer
            .Where(t => t.DataType == DataTypes.Float && t.Dims.Aggregate(1L, (a, d) => a * d) >= 2)
            .Select(t => t.Name).ToHashSet(StringComparer.Ordinal);
        var trainable = new HashSet<string>(StringComparer.Ordinal);
        foreach (var node in model.Graph.Node)
        {
            var rule = GradientRules.For(node);
            if (rule == null) continue;
            for (int slot = 0; slot < node.Input.Count; slot++)
                if (floats.Contains(node.Input[slot]) && rule.IsDifferentiable(node, slot)) trainable.Add(node.Input[slot]);
        }
        return trainable.Order(StringComparer.Ordinal).ToList();
    }
}

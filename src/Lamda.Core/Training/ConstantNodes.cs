using Lamda.Graphs;
using Onnx;

namespace Lamda.Training;

/// <summary>
/// Turns Constant nodes into initializers. Exporters such as paddle2onnx keep learned weights in Constant nodes;
/// as initializers they can be fed as inputs and trained like any other weight.
/// </summary>
internal static class ConstantNodes
{
    /// <summary>Converts in place; returns, for each new initializer, the name of the Constant node it came from.</summary>
    public static Dictionary<string, string> ToInitializers(GraphProto graph)
    {
        var origins = new Dictionary<string, string>(StringComparer.Ordinal);
        for (int i = graph.Node.Count - 1; i >= 0; i--)
        {
            var node = graph.Node[i];
            if (node.OpType != "Constant" || node.Domain is not ("" or "ai.onnx") || node.Attribute.Count != 1) continue;
            var tensor = ValueOf(node.Attribute[0]);
            if (tensor == null) continue;
            tensor.Name = node.Output[0];
            graph.Initializer.Add(tensor);
            graph.Node.RemoveAt(i);
            origins[tensor.Name] = node.Name;
        }
        return origins;
    }

    static TensorProto? ValueOf(AttributeProto a)
    {
        switch (a.Name)
        {
            case "value": return a.T.Clone();
            case "value_float": return new TensorLiteral(DataTypes.Float, [], null, [a.F]).ToTensorProto("");
            case "value_floats": return new TensorLiteral(DataTypes.Float, [a.Floats.Count], null, a.Floats.Select(f
                => (double)f).ToArray()).ToTensorProto("");
            case "value_int": return TensorLiteral.Int64([a.I], []).ToTensorProto("");
            case "value_ints": return TensorLiteral.Int64(a.Ints.ToArray()).ToTensorProto("");
            default: return null;
        }
    }
}

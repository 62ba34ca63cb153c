using Google.Protobuf;
using Lamda.Graphs;
using Lamda.Training;
using Onnx;

namespace Lamda.Tests;

/// <summary>Small models for the loss terms' tests: float initializers, and a loss term against a fixed target.</summary>
internal static class LossTestModels
{
    public static TensorProto Tensor(string name, long[] dims, float[] values)
    {
        var t = new TensorProto { Name = name, DataType = DataTypes.Float,
            RawData = ByteString.CopyFrom(System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan())) };
        t.Dims.AddRange(dims);
        return t;
    }

    /// <summary>
    /// Appends <paramref name="term"/> to <paramref name="model"/> with its target fixed to <paramref name="target"/> (an
    /// initializer instead of the graph input the objective feeds) and the loss as the model's output; returns the loss.
    /// </summary>
    public static string AppendWithFixedTarget(ModelProto model, LossTerm term, float[] target)
    {
        var loss = DistillationLoss.Append(model, [term]);
        model.Graph.Input.Remove(model.Graph.Input.Single(i => i.Name == term.Target));
        model.Graph.Initializer.Add(Tensor(term.Target, term.Shape, target));
        model.Graph.Output.Add(new ValueInfoProto { Name = loss,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = DataTypes.Float } } });
        return loss;
    }
}

using Lamda.Graphs;

namespace Lamda.Runtime;

/// <summary>A dense tensor in memory: element type, shape and values (float[], long[], int[] or bool[]).</summary>
public sealed record TensorData(int ElemType, long[] Shape, Array Values)
{
    /// <summary>The number of elements the shape holds.</summary>
    public long Count => Shape.Aggregate(1L, (a, d) => a * d);

    /// <summary>Items <paramref name="start"/>..start+count-1 along the first (batch) dimension, as a float tensor of their own.</summary>
    public TensorData Rows(long start, long count)
    {
        long per = Count / Shape[0];
        var shape = Shape.ToArray();
        shape[0] = count;
        return new TensorData(DataTypes.Float, shape, ((float[])Values).AsSpan((int)(start * per), (int)(count * per)).ToArray());
    }

    /// <summary>
    /// Float tensors with equal trailing dimensions stacked along the first one, copied block by block (an element-wise
    /// LINQ copy took seconds for the gigabyte of features a reconstruction collects).
    /// </summary>
    public static TensorData Stack(IReadOnlyList<TensorData> parts)
    {
        var shape = parts[0].Shape.ToArray();
        shape[0] = parts.Sum(p => p.Shape[0]);
        var values = new float[parts.Sum(p => p.Values.LongLength)];
        long at = 0;
        foreach (var p in parts)
        {
            Array.Copy(p.Values, 0, values, at, p.Values.LongLength);
            at += p.Values.LongLength;
        }
        return new TensorData(DataTypes.Float, shape, values);
    }

    /// <summary>Seeded inputs for a graph: uniform [0,1) floats, small non-negative integers. Symbolic dims become 1.</summary>
    public static Dictionary<string, TensorData> RandomInputs(Graph graph, int seed = 0)
    {
        var rng = new Random(seed);
        var inputs = new Dictionary<string, TensorData>(StringComparer.Ordinal);
        foreach (var i in graph.Inputs)
        {
            var shape =
                (i.Type.Dims
                ?? throw new LamdaException(
                ErrorCodes.UnsupportedModel, $"input '{i.Name}' has unknown rank; cannot make test data for it."))
                .Select(d => d.IsKnown ? d.Value : 1).ToArray();
            ResourceLimits.CheckInput("model", i.Name, shape, i.Type.ElemType);
            long count = shape.Aggregate(1L, (a, d) => a * d);
            inputs[i.Name] = i.Type.ElemType switch
            {
                DataTypes.Float
                    => new TensorData(DataTypes.Float, shape, Enumerable.Range(0, (int)count).Select(_ => rng.NextSingle()).ToArray()),
                DataTypes.Int64
                    => new TensorData(DataTypes.Int64, shape, Enumerable.Range(0, (int)count).Select(_ => (long)rng.Next(0, 4)).ToArray()),
                DataTypes.Int32
                    => new TensorData(DataTypes.Int32, shape, Enumerable.Range(0, (int)count).Select(_ => rng.Next(0, 4)).ToArray()),
                DataTypes.Bool
                    => new TensorData(DataTypes.Bool, shape, Enumerable.Range(0, (int)count).Select(_ => rng.Next(2) == 1).ToArray()),
                _ => throw new LamdaException(
                    ErrorCodes.UnsupportedModel,
                    $"input '{i.Name}' has element type {DataTypes.Name(i.Type.ElemType)}; Lamda feeds f32, i64, i32 and bool inputs."),
            };
        }
        return inputs;
    }
}

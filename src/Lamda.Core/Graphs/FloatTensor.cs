using System.Runtime.InteropServices;
using Google.Protobuf;
using Onnx;

namespace Lamda.Graphs;

/// <summary>A float32 tensor in memory, for weight surgery (selecting channels, folding, reconstruction).</summary>
internal sealed class FloatTensor(long[] dims, float[] data)
{
    public long[] Dims { get; } = dims;
    public float[] Data { get; } = data;

    public static FloatTensor From(TensorProto t)
    {
        if (t.DataType != DataTypes.Float) throw new LamdaException(
            ErrorCodes.UnsupportedModel,
            $"weight '{t.Name}' is {DataTypes.Name(t.DataType)}; channel surgery supports f32 weights.");
        long count = t.Dims.Aggregate(1L, (a, d) => a * d);
        float[] data;
        if (!t.RawData.IsEmpty) data = MemoryMarshal.Cast<byte, float>(t.RawData.Span).ToArray();
        else data = t.FloatData.ToArray();
        if (data.Length != count) throw new LamdaException(
            ErrorCodes.InvalidModel, $"weight '{t.Name}' has {data.Length} values for shape [{string.Join(",", t.Dims)}].");
        return new FloatTensor(t.Dims.ToArray(), data);
    }

    public TensorProto ToProto(string name)
    {
        var t = new TensorProto { Name = name, DataType = DataTypes.Float,
            RawData = ByteString.CopyFrom(MemoryMarshal.AsBytes(Data.AsSpan())) };
        t.Dims.AddRange(Dims);
        return t;
    }

    /// <summary>Keeps the given indices along <paramref name="axis"/>, in order.</summary>
    public FloatTensor Select(int axis, IReadOnlyList<int> indices)
    {
        long outer = 1, inner = 1;
        for (int i = 0; i < axis; i++) outer *= Dims[i];
        for (int i = axis + 1; i < Dims.Length; i++) inner *= Dims[i];
        long n = Dims[axis];
        var result = new float[outer * indices.Count * inner];
        for (long o = 0; o < outer; o++)
            for (int k = 0; k < indices.Count; k++)
                Array.Copy(Data, (o * n + indices[k]) * inner, result, (o * indices.Count + k) * inner, inner);
        var dims = Dims.ToArray();
        dims[axis] = indices.Count;
        return new FloatTensor(dims, result);
    }

    /// <summary>L1 norm of each slice along <paramref name="axis"/>.</summary>
    public double[] L1Norms(int axis)
    {
        long outer = 1, inner = 1;
        for (int i = 0; i < axis; i++) outer *= Dims[i];
        for (int i = axis + 1; i < Dims.Length; i++) inner *= Dims[i];
        long n = Dims[axis];
        var norms = new double[n];
        for (long o = 0; o < outer; o++)
            for (long k = 0; k < n; k++)
            {
                double s = 0;
                long start = (o * n + k) * inner;
                for (long j = 0; j < inner; j++) s += Math.Abs(Data[start + j]);
                norms[k] += s;
            }
        return norms;
    }
}

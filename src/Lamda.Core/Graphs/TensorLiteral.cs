using System.Buffers.Binary;
using Google.Protobuf;
using Onnx;

namespace Lamda.Graphs;

/// <summary>
/// A small constant tensor written inline in LamdaText (shape tensors, Slice bounds, Clip limits).
/// Integer and bool values live in <see cref="Ints"/>; f32/f64 values in <see cref="Reals"/>
/// (a double holds every float32 exactly, so the round trip is bit-exact).
/// </summary>
public sealed class TensorLiteral
{
    /// <summary>
    /// A literal of ONNX type <paramref name="dataType"/> and shape <paramref name="dims"/>, with integer or real values.
    /// </summary>
    public TensorLiteral(int dataType, long[] dims, long[]? ints, double[]? reals)
    {
        if (!IsSupported(dataType)) throw new ArgumentException($"literal of type {DataTypes.Name(dataType)} is not supported");
        DataType = dataType;
        Dims = dims;
        Ints = DataTypes.IsInteger(dataType) ? ints ?? [] : null;
        Reals = DataTypes.IsReal(dataType) ? reals ?? [] : null;
    }

    /// <summary>The ONNX element type (TensorProto.DataType).</summary>
    public int DataType { get; }
    /// <summary>The shape.</summary>
    public long[] Dims { get; }
    /// <summary>The values of an integer or bool literal, null for a real one.</summary>
    public long[]? Ints { get; }
    /// <summary>The values of a floating-point literal, null for an integer one.</summary>
    public double[]? Reals { get; }
    /// <summary>How many values the literal holds.</summary>
    public long Count => Ints?.LongLength ?? Reals!.LongLength;

    /// <summary>An int64 literal of <paramref name="values"/>, one-dimensional unless <paramref name="dims"/> is given.</summary>
    public static TensorLiteral Int64(long[] values, long[]? dims = null) =>
        new(DataTypes.Int64, dims ?? [values.LongLength], values, null);

    internal static bool IsSupported(int dataType) => DataTypes.IsInteger(dataType) || DataTypes.IsReal(dataType);

    /// <summary>Values as long (integers) or truncated reals; used by shape arithmetic.</summary>
    public long[] AsInt64() => Ints ?? Reals!.Select(r => (long)r).ToArray();

    /// <summary>The literal as an ONNX tensor named <paramref name="name"/>, as the exporter writes it.</summary>
    public TensorProto ToTensorProto(string name)
    {
        var t = new TensorProto { Name = name, DataType = DataType };
        t.Dims.AddRange(Dims);
        int size = DataTypes.Size(DataType);
        var bytes = new byte[Count * size];
        for (int i = 0; i < Count; i++)
        {
            var span = bytes.AsSpan(i * size, size);
            switch (DataType)
            {
                case DataTypes.Float: BinaryPrimitives.WriteSingleLittleEndian(span, (float)Reals![i]); break;
                case DataTypes.Double: BinaryPrimitives.WriteDoubleLittleEndian(span, Reals![i]); break;
                case DataTypes.Int64 or DataTypes.UInt64: BinaryPrimitives.WriteInt64LittleEndian(span, Ints![i]); break;
                case DataTypes.Int32 or DataTypes.UInt32: BinaryPrimitives.WriteInt32LittleEndian(span, (int)Ints![i]); break;
                case DataTypes.Int16 or DataTypes.UInt16: BinaryPrimitives.WriteInt16LittleEndian(span, (short)Ints![i]); break;
                default: span[0] = (byte)Ints![i]; break;
            }
        }
        t.RawData = ByteString.CopyFrom(bytes);
        return t;
    }

    /// <summary>Reads a TensorProto whichever way its data is stored (raw_data or typed fields).</summary>
    public static TensorLiteral? FromTensorProto(TensorProto t)
    {
        int dt = t.DataType;
        if (!IsSupported(dt) || t.DataLocation == TensorProto.Types.DataLocation.External) return null;
        long count = t.Dims.Aggregate(1L, (a, d) => a * d);
        var dims = t.Dims.ToArray();
        if (DataTypes.IsReal(dt))
        {
            var reals = new double[count];
            if (!t.RawData.IsEmpty)
            {
                var raw = t.RawData.Span;
                if (raw.Length != count * DataTypes.Size(dt)) return null;
                for (int i = 0; i < count; i++)
                    reals[i] = dt == DataTypes.Float
                        ? BinaryPrimitives.ReadSingleLittleEndian(raw.Slice(i * 4))
                        : BinaryPrimitives.ReadDoubleLittleEndian(raw.Slice(i * 8));
            }
            else if (dt == DataTypes.Float && t.FloatData.Count == count) for (int i = 0; i < count; i++) reals[i] = t.FloatData[i];
            else if (dt == DataTypes.Double && t.DoubleData.Count == count) for (int i = 0; i < count; i++) reals[i] = t.DoubleData[i];
            else return null;
            return new TensorLiteral(dt, dims, null, reals);
        }
        var ints = new long[count];
        if (!t.RawData.IsEmpty)
        {
            var raw = t.RawData.Span;
            int size = DataTypes.Size(dt);
            if (raw.Length != count * size) return null;
            for (int i = 0; i < count; i++)
            {
                var s = raw.Slice(i * size, size);
                ints[i] = dt switch
                {
                    DataTypes.Int64 or DataTypes.UInt64 => BinaryPrimitives.ReadInt64LittleEndian(s),
                    DataTypes.Int32 => BinaryPrimitives.ReadInt32LittleEndian(s),
                    DataTypes.UInt32 => BinaryPrimitives.ReadUInt32LittleEndian(s),
                    DataTypes.Int16 => BinaryPrimitives.ReadInt16LittleEndian(s),
                    DataTypes.UInt16 => BinaryPrimitives.ReadUInt16LittleEndian(s),
                    DataTypes.Int8 => (sbyte)s[0],
                    _ => s[0],
                };
            }
        }
        else if (dt == DataTypes.Int64 && t.Int64Data.Count == count) for (int i = 0; i < count; i++) ints[i] = t.Int64Data[i];
        else if (dt is DataTypes.UInt32 or DataTypes.UInt64 && t.Uint64Data.Count == count) for (int i = 0; i < count; i++) ints[i] =
            (long)t.Uint64Data[i];
        else if (t.Int32Data.Count == count) for (int i = 0; i < count; i++) ints[i] = t.Int32Data[i];
        else if (count != 0) return null;
        return new TensorLiteral(dt, dims, ints, null);
    }

    /// <summary>True when both literals have the same type, shape and values.</summary>
    public bool ValueEquals(TensorLiteral o) =>
        DataType == o.DataType && Dims.SequenceEqual(o.Dims) &&
        (Ints != null ? Ints.SequenceEqual(o.Ints!)
            : Reals!.Select(BitConverter.DoubleToInt64Bits).SequenceEqual(o.Reals!.Select(BitConverter.DoubleToInt64Bits)));
}

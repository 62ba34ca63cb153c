using System.Runtime.InteropServices;
using Google.Protobuf;
using Lamda.Graphs;
using Onnx;

namespace Lamda.Training;

/// <summary>
/// Appends nodes of the backward pass to an ONNX graph, in the opset of the forward model. The few operators whose
/// signature changed between opsets (ReduceSum, Slice, Pad) are written here once, so gradient rules stay opset-free.
/// </summary>
internal sealed class GradientEmitter
{
    readonly GraphProto graph;
    readonly HashSet<string> used;
    int counter;

    public GradientEmitter(GraphProto graph, long opset)
    {
        this.graph = graph;
        Opset = opset;
        used = new HashSet<string>(StringComparer.Ordinal);
        foreach (var n in graph.Node) { used.UnionWith(n.Output); used.UnionWith(n.Input); used.Add(n.Name); }
        foreach (var i in graph.Initializer) used.Add(i.Name);
        foreach (var i in graph.Input) used.Add(i.Name);
    }

    public long Opset { get; }

    public string Fresh(string stem)
    {
        string name;
        do name = $"{stem}_g{counter++}"; while (!used.Add(name));
        return name;
    }

    /// <summary>Adds one node and returns the name of its (first) output.</summary>
    public string Op(string op, IEnumerable<string> inputs, params (string Name, object Value)[] attributes) =>
        Ops(op, inputs, 1, attributes)[0];

    public string[] Ops(string op, IEnumerable<string> inputs, int outputs, params (string Name, object Value)[] attributes)
    {
        var node = new NodeProto { OpType = op, Name = Fresh("grad_" + op) };
        node.Input.AddRange(inputs);
        for (int i = 0; i < outputs; i++) node.Output.Add(Fresh(op.ToLowerInvariant()));
        foreach (var (name, value) in attributes) node.Attribute.Add(Attribute(name, value));
        graph.Node.Add(node);
        return node.Output.ToArray();
    }

    public string Ints(params long[] values) => Constant(DataTypes.Int64, [values.Length], MemoryMarshal.AsBytes(values.AsSpan()));

    public string Floats(long[] shape, float[] values) => Constant(DataTypes.Float, shape, MemoryMarshal.AsBytes(values.AsSpan()));

    /// <summary>A rank-0 float constant, which broadcasts against anything.</summary>
    public string Scalar(float value) => Floats([], [value]);

    string Constant(int type, long[] shape, ReadOnlySpan<byte> bytes)
    {
        var t = new TensorProto { Name = Fresh("const"), DataType = type, RawData = ByteString.CopyFrom(bytes) };
        t.Dims.AddRange(shape);
        graph.Initializer.Add(t);
        return t.Name;
    }

    public string Reshape(string x, long[] shape) => Op("Reshape", [x, Ints(shape)]);

    public string Transpose(string x, long[] perm) => Op("Transpose", [x], ("perm", perm));

    public string Mask(string condition) => Op("Cast", [condition], ("to", (long)DataTypes.Float));

    /// <summary>Sums over <paramref name="axes"/>; the axes became an input in opset 13.</summary>
    public string ReduceSum(string x, long[] axes, bool keepDims)
    {
        if (axes.Length == 0) return x;
        long keep = keepDims ? 1 : 0;
        return Opset >= 13
            ? Op("ReduceSum", [x, Ints(axes)], ("keepdims", keep))
            : Op("ReduceSum", [x], ("axes", axes), ("keepdims", keep));
    }

    /// <summary>
    /// Reduces a gradient of the broadcast shape <paramref name="from"/> to an operand's shape <paramref name="to"/>:
    /// the adjoint of numpy broadcasting.
    /// </summary>
    public string SumTo(string grad, long[] from, long[] to)
    {
        if (from.SequenceEqual(to)) return grad;
        int lead = from.Length - to.Length;
        var axes = new List<long>();
        for (int i = 0; i < from.Length; i++)
            if (i < lead || (to[i - lead] == 1 && from[i] != 1)) axes.Add(i);
        var summed = ReduceSum(grad, axes.ToArray(), keepDims: true);
        return Reshape(summed, to);
    }

    /// <summary>Slice with unit steps; bounds were attributes before opset 10.</summary>
    public string Slice(string x, long[] starts, long[] ends, long[] axes)
    {
        if (Opset >= 10) return Op("Slice", [x, Ints(starts), Ints(ends), Ints(axes)]);
        return Op("Slice", [x], ("starts", starts), ("ends", ends), ("axes", axes));
    }

    /// <summary>Zero padding (ONNX pads layout: all begins, then all ends); pads became an input in opset 11.</summary>
    public string Pad(string x, long[] pads)
    {
        if (pads.All(p => p == 0)) return x;
        if (Opset >= 11) return Op("Pad", [x, Ints(pads)], ("mode", "constant"));
        return Op("Pad", [x], ("mode", "constant"), ("pads", pads));
    }

    public string Zeros(long[] shape) => Floats(shape, new float[shape.Aggregate(1L, (a, d) => a * d)]);

    public static AttributeProto Attribute(string name, object value)
    {
        var a = new AttributeProto { Name = name };
        switch (value)
        {
            case long l: a.Type = AttributeProto.Types.AttributeType.Int; a.I = l; break;
            case int i: a.Type = AttributeProto.Types.AttributeType.Int; a.I = i; break;
            case float f: a.Type = AttributeProto.Types.AttributeType.Float; a.F = f; break;
            case string s: a.Type = AttributeProto.Types.AttributeType.String; a.S = ByteString.CopyFromUtf8(s); break;
            case long[] ls: a.Type = AttributeProto.Types.AttributeType.Ints; a.Ints.AddRange(ls); break;
            case float[] fs: a.Type = AttributeProto.Types.AttributeType.Floats; a.Floats.AddRange(fs); break;
            default: throw new ArgumentException($"attribute {name}: unsupported value {value.GetType().Name}");
        }
        return a;
    }
}

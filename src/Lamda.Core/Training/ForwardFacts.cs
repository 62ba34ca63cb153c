using Google.Protobuf;
using Lamda.Graphs;
using Lamda.Runtime;
using Onnx;

namespace Lamda.Training;

/// <summary>
/// Concrete shapes and small values of the forward graph's tensors for one batch shape. Gradient rules are written
/// for these static shapes (broadcast reductions, transposed-convolution geometry), which is why a backward model
/// is built per batch shape.
/// </summary>
internal sealed class ForwardFacts
{
    readonly Dictionary<string, long[]> shapes = new(StringComparer.Ordinal);
    readonly Dictionary<string, TensorLiteral> values = new(StringComparer.Ordinal);

    public long[] ShapeOf(string tensor) => shapes.TryGetValue(tensor, out var s)
        ? s : throw new InvalidOperationException($"no shape was probed for tensor '{tensor}'");

    public TensorLiteral? ValueOf(string tensor) => values.GetValueOrDefault(tensor);

    /// <summary>
    /// Runs the forward model once on <paramref name="feeds"/> with extra outputs: the shape of every tensor in
    /// <paramref name="shapeOf"/> (through a Shape node, so its element type need not be known) and the values, as
    /// floats, of every tensor in <paramref name="valueOf"/>. Initializers are read directly.
    /// </summary>
    public static ForwardFacts Probe(ModelProto forward, IEnumerable<string> shapeOf, IEnumerable<string> valueOf,
        IReadOnlyDictionary<string, TensorData> feeds)
    {
        var facts = new ForwardFacts();
        var initializers = forward.Graph.Initializer.ToDictionary(t => t.Name, StringComparer.Ordinal);
        foreach (var t in initializers.Values) facts.shapes[t.Name] = t.Dims.ToArray();
        foreach (var (name, t) in feeds) facts.shapes[name] = t.Shape;
        var probe = forward.Clone();
        probe.Graph.Output.Clear();
        var wanted = new List<(string Output, string Tensor, bool IsShape)>();
        int k = 0;
        void Request(string tensor, bool isShape, string op, params (string, object)[] attributes)
        {
            var node = new NodeProto { OpType = op, Name = $"probe_{k}" };
            node.Input.Add(tensor);
            node.Output.Add($"probe_{k}_out");
            foreach (var (n, v) in attributes) node.Attribute.Add(GradientEmitter.Attribute(n, v));
            probe.Graph.Node.Add(node);
            probe.Graph.Output.Add(new ValueInfoProto { Name = node.Output[0], Type = TensorTypeOf(isShape ? DataTypes.Int64
                : DataTypes.Float) });
            wanted.Add((node.Output[0], tensor, isShape));
            k++;
        }
        foreach (var t in shapeOf.Distinct())
            if (!facts.shapes.ContainsKey(t)) Request(t, true, "Shape");
        foreach (var t in valueOf.Distinct())
        {
            if (initializers.TryGetValue(t, out var init) && TensorLiteral.FromTensorProto(init) is { } lit) facts.values[t] = lit;
            else Request(t, false, "Cast", ("to", (long)DataTypes.Float));
        }
        if (wanted.Count == 0) return facts;
        using var runner = new ModelRunner(probe.ToByteArray(), displayName: "forward probe");
        var results = runner.Run(feeds);
        foreach (var (output, tensor, isShape) in wanted)
        {
            var r = results[output];
            if (isShape) facts.shapes[tensor] = (long[])r.Values;
            else facts.values[tensor] = new TensorLiteral(DataTypes.Float, r.Shape, null, ((float[])r.Values).Select(v
                => (double)v).ToArray());
        }
        return facts;
    }

    static TypeProto TensorTypeOf(int elemType) => new() { TensorType = new TypeProto.Types.Tensor { ElemType = elemType } };
}

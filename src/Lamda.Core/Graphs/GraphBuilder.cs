using Google.Protobuf;
using Onnx;

namespace Lamda.Graphs;

/// <summary>
/// Builds small graphs in code with seeded random weights: test fixtures, the latency kernel suite and
/// the sample model. Names follow the canonical LamdaText ids so built graphs serialize canonically.
/// </summary>
internal sealed class GraphBuilder
{
    readonly Random rng;
    readonly InferenceResult shapes = new();

    public GraphBuilder(int seed = 0, long opset = 13)
    {
        rng = new Random(seed);
        Graph.IrVersion = 8;
        Graph.Opsets.Add(new OpsetId("", opset));
    }

    public Graph Graph { get; } = new();
    public WeightStore Weights { get; } = new() { Source = "built graph" };

    public EdgeOperand Input(string name, params long[] shape)
    {
        var id = "in" + Graph.Inputs.Count;
        var type = new TensorType(DataTypes.Float, shape.Select(d => new Dim(d)).ToArray());
        Graph.Inputs.Add(new GraphValue(id, name, type));
        shapes.Types[id] = type;
        return new EdgeOperand(id);
    }

    public void Output(EdgeOperand edge, string name)
    {
        Graph.Outputs.Add(new GraphValue(edge.Edge, name, Shape(edge)) { Index = edge.Index });
    }

    public TensorType Shape(EdgeOperand e) => shapes.TypeOf(e.Key);

    public long Channels(EdgeOperand e) => Shape(e).Channels ?? throw new InvalidOperationException($"channels of %{e.Key} unknown");

    /// <summary>Adds any node; attributes as (name, value) pairs.</summary>
    public EdgeOperand Op(string op, IEnumerable<Operand> inputs, params (string Name, AttributeValue Value)[] attributes)
    {
        var i = Graph.Nodes.Count;
        var node = new Node("n" + i, op, i.ToString(System.Globalization.CultureInfo.InvariantCulture));
        node.Inputs.AddRange(inputs);
        foreach (var (name, value) in attributes) node.Attributes.Add(new NodeAttribute(name, value));
        Graph.Nodes.Add(node);
        var r = ShapeInference.AnnotateChannels(Graph, Weights);
        foreach (var kv in r.Types) shapes.Types[kv.Key] = kv.Value;
        return new EdgeOperand(node.Output);
    }

    public WeightOperand Weight(string name, long[] dims, double scale, double offset = 0)
    {
        long count = dims.Aggregate(1L, (a, d) => a * d);
        var bytes = new byte[count * 4];
        for (long k = 0; k < count; k++)
            BitConverter.TryWriteBytes(bytes.AsSpan((int)(k * 4)), (float)(offset + scale * (rng.NextDouble() * 2 - 1)));
        var t = new TensorProto { Name = name, DataType = DataTypes.Float, RawData = ByteString.CopyFrom(bytes) };
        t.Dims.AddRange(dims);
        Weights.Add(name, t);
        return new WeightOperand(name);
    }

    string Next(string stem) => $"{stem}{Graph.Nodes.Count}";

    public EdgeOperand
        Conv(EdgeOperand x, long outChannels, long kernel = 3, long stride = 1, long pad = -1, long group = 1, bool bias = true)
    {
        long cin = Channels(x);
        if (pad < 0) pad = kernel / 2;
        var fanIn = cin / group * kernel * kernel;
        var w = Weight(Next("w"), [outChannels, cin / group, kernel, kernel], Math.Sqrt(3.0 / fanIn));
        var inputs = new List<Operand> { x, w };
        if (bias) inputs.Add(Weight(Next("b"), [outChannels], 0.05));
        return Op("Conv", inputs,
            ("dilations", AttributeValue.FromInts([1, 1])), ("group", AttributeValue.FromInt(group)),
            ("kernel_shape", AttributeValue.FromInts([kernel, kernel])), ("pads", AttributeValue.FromInts([pad, pad, pad, pad])),
            ("strides", AttributeValue.FromInts([stride, stride])));
    }

    public EdgeOperand BatchNorm(EdgeOperand x)
    {
        long c = Channels(x);
        return Op("BatchNormalization",
            [x, Weight(Next("bn_scale"), [c], 0.2, 1), Weight(Next("bn_bias"), [c], 0.1), Weight(Next("bn_mean"), [c], 0.1),
                Weight(Next("bn_var"), [c], 0.2, 1)],
            ("epsilon", AttributeValue.FromFloat(1e-5f)), ("momentum", AttributeValue.FromFloat(0.9f)));
    }

    public EdgeOperand Relu(EdgeOperand x) => Op("Relu", [x]);
    public EdgeOperand Add(EdgeOperand a, EdgeOperand b) => Op("Add", [a, b]);
    public EdgeOperand Concat(params EdgeOperand[] xs) => Op("Concat", xs, ("axis", AttributeValue.FromInt(1)));

    /// <summary>Max pooling; odd kernels are padded by kernel/2 (so a stride-1 pool keeps the size), even ones are not.</summary>
    public EdgeOperand MaxPool(EdgeOperand x, long kernel = 2, long stride = 2)
    {
        long p = kernel % 2 == 1 ? kernel / 2 : 0;
        return Op("MaxPool", [x], ("kernel_shape", AttributeValue.FromInts([kernel, kernel])),
            ("pads", AttributeValue.FromInts([p, p, p, p])), ("strides", AttributeValue.FromInts([stride, stride])));
    }

    public EdgeOperand GlobalAveragePool(EdgeOperand x) => Op("GlobalAveragePool", [x]);
    public EdgeOperand Flatten(EdgeOperand x) => Op("Flatten", [x], ("axis", AttributeValue.FromInt(1)));

    public EdgeOperand Gemm(EdgeOperand x, long outFeatures)
    {
        long cin = Channels(x);
        return Op("Gemm", [x, Weight(Next("fc_w"), [outFeatures, cin], Math.Sqrt(3.0 / cin)), Weight(Next("fc_b"), [outFeatures], 0.05)],
            ("alpha", AttributeValue.FromFloat(1f)), ("beta", AttributeValue.FromFloat(1f)), ("transB", AttributeValue.FromInt(1)));
    }
}

/// <summary>Models that Lamda ships or uses in its documentation, built deterministically.</summary>
internal static class SampleModels
{
    /// <summary>
    /// A small residual CNN on 1x32x32 images with 10 classes: Conv-BN-ReLU stem, a residual Add, a two-way
    /// Concat, pooling and a Gemm head. Exercises what adaptation must respect, in about 100 KB.
    /// </summary>
    public static GraphBuilder TinyNet()
    {
        var b = new GraphBuilder(seed: 7);
        var x = b.Input("input", 1, 3, 32, 32);
        var s = b.Relu(b.BatchNorm(b.Conv(x, 16, stride: 1)));
        var r = b.Relu(b.BatchNorm(b.Conv(s, 16)));
        r = b.BatchNorm(b.Conv(r, 16));
        s = b.Relu(b.Add(s, r));
        s = b.MaxPool(s);
        var left = b.Relu(b.Conv(s, 24, kernel: 1));
        var right = b.Relu(b.Conv(s, 24, kernel: 3));
        var cat = b.Concat(left, right);
        var y = b.Relu(b.Conv(cat, 64, stride: 2));
        y = b.Flatten(b.GlobalAveragePool(y));
        b.Output(b.Gemm(y, 10), "output");
        return b;
    }
}

using Google.Protobuf;
using Lamda.Graphs;
using Lamda.Runtime;
using Lamda.Training;
using Onnx;

namespace Lamda.Tests;

/// <summary>
/// A one-operator ONNX model for gradient checks: float operands are seeded random initializers (all trainable),
/// integer operands are constants, and the loss is sum(y * y) / 2 of the operator's output.
/// </summary>
public sealed class OneOp
{
    readonly ModelProto model = new() { IrVersion = 8, Graph = new GraphProto { Name = "one-op" } };
    readonly NodeProto node;
    readonly Random rng;
    public List<string> Trainable { get; } = [];

    public OneOp(string op, long opset, int seed = 1)
    {
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = opset });
        node = new NodeProto { OpType = op, Name = "n0" };
        node.Output.Add("y");
        rng = new Random(seed);
    }

    /// <summary>
    /// A trainable float operand, uniform in [lo, hi), with values kept at least <paramref name="gap"/> from
    /// <paramref name="kinks"/>.
    /// </summary>
    public OneOp Float(long[] shape, float lo = -1, float hi = 1, float[]? kinks = null, float gap = 0.05f)
    {
        var values = new float[shape.Aggregate(1L, (a, d) => a * d)];
        for (int i = 0; i < values.Length; i++)
        {
            do values[i] = lo + (hi - lo) * rng.NextSingle();
            while (kinks != null && kinks.Any(k => Math.Abs(values[i] - k) < gap));
        }
        return Tensor(shape, values, trainable: true);
    }

    /// <summary>Distinct values a fixed step apart in random order, so that no max is within a perturbation of another.</summary>
    public OneOp Distinct(long[] shape)
    {
        int n = (int)shape.Aggregate(1L, (a, d) => a * d);
        var values = Enumerable.Range(0, n).Select(i => i * 0.05f - n * 0.025f).OrderBy(_ => rng.Next()).ToArray();
        return Tensor(shape, values, trainable: true);
    }

    public OneOp Constant(long[] shape, float[] values) => Tensor(shape, values, trainable: false);

    /// <summary>A random float operand that is not trained (BatchNormalization's running statistics).</summary>
    public OneOp Fixed(long[] shape, float lo, float hi) =>
        Constant(shape, Enumerable.Range(0, (int)shape.Aggregate(1L, (a, d) => a * d)).Select(_
            => lo + (hi - lo) * rng.NextSingle()).ToArray());

    /// <summary>Declares extra outputs (Split); the loss reads only the first.</summary>
    public OneOp Outputs(int count)
    {
        for (int i = 1; i < count; i++) node.Output.Add($"y_{i}");
        return this;
    }

    public OneOp Ints(params long[] values)
    {
        var name = $"in{node.Input.Count}";
        model.Graph.Initializer.Add(TensorLiteral.Int64(values).ToTensorProto(name));
        node.Input.Add(name);
        return this;
    }

    public OneOp Empty() { node.Input.Add(""); return this; }

    public OneOp Attr(string name, object value) { node.Attribute.Add(GradientEmitter.Attribute(name, value)); return this; }

    OneOp Tensor(long[] shape, float[] values, bool trainable)
    {
        var name = $"in{node.Input.Count}";
        var t = new TensorProto { Name = name, DataType = DataTypes.Float,
            RawData = ByteString.CopyFrom(System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan())) };
        t.Dims.AddRange(shape);
        model.Graph.Initializer.Add(t);
        node.Input.Add(name);
        if (trainable) Trainable.Add(name);
        return this;
    }

    /// <summary>The model with loss = ReduceSum(y * y) / 2 as its only output.</summary>
    public ModelProto WithLoss()
    {
        var m = model.Clone();
        m.Graph.Node.Add(node.Clone());
        var square = new NodeProto { OpType = "Mul", Name = "square" };
        square.Input.Add("y"); square.Input.Add("y"); square.Output.Add("y2");
        var sum = new NodeProto { OpType = "ReduceSum", Name = "sum" };
        sum.Input.Add("y2"); sum.Output.Add("loss");
        sum.Attribute.Add(GradientEmitter.Attribute("keepdims", 0L));
        var half = new NodeProto { OpType = "Mul", Name = "half" };
        m.Graph.Initializer.Add(new TensorLiteral(DataTypes.Float, [], null, [0.5]).ToTensorProto("one_half"));
        half.Input.Add("loss"); half.Input.Add("one_half"); half.Output.Add("loss_half");
        m.Graph.Node.Add(square); m.Graph.Node.Add(sum); m.Graph.Node.Add(half);
        m.Graph.Output.Add(new ValueInfoProto { Name = "loss_half",
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = DataTypes.Float } } });
        return m;
    }
}

/// <summary>Compares the gradients of a <see cref="GradientModel"/> with central finite differences of its own loss.</summary>
public static class FiniteDifferences
{
    public record Mismatch(string Weight, int Index, double Analytic, double Numeric);

    public static List<Mismatch> Check(ModelProto forward, string loss, IReadOnlyList<string> trainable, float eps = 1e-2f,
        double relative = 2e-2, double absolute = 2e-3, int maxPerWeight = 24)
    {
        var gm = BackwardGraph.Build(forward, loss, trainable, new Dictionary<string, TensorData>());
        Assert.Empty(gm.Unreached);
        var weights = forward.Graph.Initializer.Where(t => trainable.Contains(t.Name))
            .ToDictionary(t => t.Name, t => FloatTensor.From(t));
        using var runner = new ModelRunner(gm.Model);
        Dictionary<string, TensorData> Feeds() => weights.ToDictionary(kv => kv.Key, kv => new TensorData(DataTypes.Float, kv.Value.Dims,
            kv.Value.Data.ToArray()));
        var results = runner.Run(Feeds());
        double Loss() => ((float[])runner.Run(Feeds())[gm.Loss].Values)[0];
        var bad = new List<Mismatch>();
        var rng = new Random(7);
        foreach (var (name, w) in weights)
        {
            var grad = (float[])results[gm.Gradients[name]].Values;
            Assert.Equal(w.Data.Length, grad.Length);
            var indices = Enumerable.Range(0, w.Data.Length).OrderBy(_ => rng.Next()).Take(maxPerWeight);
            foreach (var i in indices)
            {
                float keep = w.Data[i];
                w.Data[i] = keep + eps; double up = Loss();
                w.Data[i] = keep - eps; double down = Loss();
                w.Data[i] = keep;
                double numeric = (up - down) / (2 * eps);
                if (Math.Abs(numeric - grad[i]) > relative * Math.Max(Math.Abs(numeric), Math.Abs(grad[i])) + absolute)
                    bad.Add(new Mismatch(name, i, grad[i], numeric));
            }
        }
        return bad;
    }
}

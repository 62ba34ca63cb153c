using Google.Protobuf;
using Lamda.Graphs;
using Lamda.Runtime;
using Lamda.Training;
using Onnx;

namespace Lamda.Tests;

/// <summary>
/// The binary KL of a Sigmoid output, computed on the logits: it is the KL, its gradient matches finite differences,
/// and training stays finite when the logits saturate (the ppocr_det probability map is 0 or 1 almost everywhere).
/// </summary>
public class SigmoidLossTests
{
    /// <summary>logits (trainable, with saturated entries) -> Sigmoid -> y, and the SigmoidKl term on the logits against a fixed target.</summary>
    static (ModelProto Model, string Loss, float[] Logits, float[] Target) LogitModel()
    {
        float[] logits = [-60f, -8f, -2f, -0.5f, 0f, 0.7f, 3f, 9f, 45f, 80f];
        float[] target = [0f, 0.001f, 0.2f, 0.5f, 0.3f, 0.9f, 1f, 0f, 1f, 0.4f];
        var model = new ModelProto { IrVersion = 8, Graph = new GraphProto { Name = "logits" } };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 11 });
        model.Graph.Initializer.Add(LossTestModels.Tensor("z", [2, 5], logits));
        var sigmoid = new NodeProto { OpType = "Sigmoid", Name = "head" };
        sigmoid.Input.Add("z"); sigmoid.Output.Add("y");
        model.Graph.Node.Add(sigmoid);
        var kind = DistillationLoss.KindOf(model, "y");
        Assert.Equal(LossKind.SigmoidKl, kind);
        Assert.Equal("z", DistillationLoss.LossTensor(model, "y", kind));
        var loss = LossTestModels.AppendWithFixedTarget(model, new LossTerm("z", "t", kind, 1f, [2, 5]), target);
        return (model, loss, logits, target);
    }

    [Fact]
    public void Loss_on_logits_is_the_binary_kl_and_finite_when_saturated()
    {
        var (model, loss, logits, target) = LogitModel();
        using var runner = new ModelRunner(model.ToByteArray());
        double value = ((float[])runner.Run(new Dictionary<string, TensorData>())[loss].Values)[0];
        double expected = 0;
        for (int i = 0; i < logits.Length; i++)
        {
            double z = logits[i], t = target[i];
            // log sigmoid(z) and log(1 - sigmoid(z)) in double, stably.
            double logP = -Math.Log(1 + Math.Exp(-Math.Abs(z))) + Math.Min(z, 0), logQ = logP - z;
            double xlogx(double p) => p <= 0 ? 0 : p * Math.Log(p);
            expected += xlogx(t) + xlogx(1 - t) - t * logP - (1 - t) * logQ;
        }
        expected /= logits.Length;
        Assert.True(double.IsFinite(value));
        Assert.Equal(expected, value, 1e-3);
    }

    [Fact]
    public void Loss_gradient_matches_finite_differences_and_is_sigmoid_minus_target()
    {
        var (model, loss, logits, target) = LogitModel();
        var bad = FiniteDifferences.Check(model, loss, ["z"], eps: 1e-2f, relative: 2e-2, absolute: 2e-4);
        Assert.True(bad.Count == 0, string.Join("\n", bad));
        var gm = BackwardGraph.Build(model, loss, ["z"], new Dictionary<string, TensorData>());
        using var runner = new ModelRunner(gm.Model);
        var grad = (float[])runner.Run(new Dictionary<string, TensorData> { ["z"] = new(DataTypes.Float, [2, 5], logits) })
            [gm.Gradients["z"]].Values;
        for (int i = 0; i < logits.Length; i++)
            Assert.Equal((1 / (1 + Math.Exp(-logits[i])) - target[i]) / logits.Length, grad[i], 1e-5);
    }

    /// <summary>A conv head whose logits are in the hundreds: the old log(1 - sigmoid + eps) form saw 1 - s = 0 there.</summary>
    [Fact]
    public void Training_steps_stay_finite_with_saturated_sigmoids()
    {
        var teacher = Head(seed: 1, scale: 200f);
        var student = Head(seed: 2, scale: 150f);
        var rng = new Random(3);
        var inputs = new TensorData(DataTypes.Float, [4, 2, 6, 6], Enumerable.Range(0, 4 * 2 * 36).Select(_ => rng.NextSingle() * 2 - 1).ToArray());
        var options = new TrainOptions { Steps = 5, BatchSize = 2, LearningRate = 1e-2, Seed = 1 };
        var (tuned, report) = Distillation.FineTune(teacher.Graph, teacher.Weights, student.Graph, student.Weights, null, inputs, null,
            options);
        Assert.Equal(5, report.Steps);
        Assert.All(report.Losses, l => Assert.True(double.IsFinite(l)));
        Assert.All(tuned.Tensors.Values, t => Assert.All(FloatTensor.From(t).Data, v => Assert.True(float.IsFinite(v))));
    }

    internal static (Graph Graph, WeightStore Weights) Head(int seed, float scale)
    {
        var rng = new Random(seed);
        var w = Enumerable.Range(0, 2 * 2 * 9).Select(_ => scale * (rng.NextSingle() * 2 - 1)).ToArray();
        var model = new ModelProto { IrVersion = 8, Graph = new GraphProto { Name = "head" } };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 11 });
        model.Graph.Initializer.Add(LossTestModels.Tensor("w", [1, 2, 3, 3], w.Take(18).ToArray()));
        model.Graph.Initializer.Add(LossTestModels.Tensor("b", [1], [0.5f]));
        var conv = new NodeProto { OpType = "Conv", Name = "conv" };
        conv.Input.Add("x"); conv.Input.Add("w"); conv.Input.Add("b"); conv.Output.Add("z");
        conv.Attribute.Add(GradientEmitter.Attribute("pads", new long[] { 1, 1, 1, 1 }));
        var sigmoid = new NodeProto { OpType = "Sigmoid", Name = "prob" };
        sigmoid.Input.Add("z"); sigmoid.Output.Add("y");
        model.Graph.Node.Add(conv); model.Graph.Node.Add(sigmoid);
        model.Graph.Input.Add(Value("x", [-1, 2, 6, 6]));
        model.Graph.Output.Add(Value("y", [-1, 1, 6, 6]));
        var (g, weights) = Lamda.Onnx.OnnxImporter.Import(model, "head.onnx");
        return (g, weights);
    }

    static ValueInfoProto Value(string name, long[] dims)
    {
        var tensor = new TypeProto.Types.Tensor { ElemType = DataTypes.Float, Shape = new TensorShapeProto() };
        foreach (var d in dims)
            tensor.Shape.Dim.Add(d < 0 ? new TensorShapeProto.Types.Dimension { DimParam = "N" } : new TensorShapeProto.Types.Dimension { DimValue = d });
        return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = tensor } };
    }
}

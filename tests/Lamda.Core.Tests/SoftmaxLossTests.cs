using Google.Protobuf;
using Lamda.Graphs;
using Lamda.Runtime;
using Lamda.Training;
using Onnx;

namespace Lamda.Tests;

/// <summary>
/// The KL of a Softmax output at a temperature, computed on the student's logits against the teacher's probabilities:
/// it is T^2 KL(softmax(log t / T) || softmax(z / T)), and its gradient is T (p_s - p_t) per item, which finite
/// differences confirm.
/// </summary>
public class SoftmaxLossTests
{
    const int Items = 2, Positions = 3, Classes = 5;

    /// <summary>
    /// logits z [2, 3, 5] (trainable) -> Softmax over the classes -> y; the SoftmaxKl term on z against fixed target
    /// probabilities, one of which is exactly 0 (a float32 softmax underflows so).
    /// </summary>
    static (ModelProto Model, string Loss, float[] Logits, float[] Target) LogitModel(float temperature, int opset, long? axis)
    {
        var rng = new Random(7);
        var logits = Enumerable.Range(0, Items * Positions * Classes).Select(_ => 4 * (rng.NextSingle() * 2 - 1)).ToArray();
        var target = new float[logits.Length];
        for (int row = 0; row < Items * Positions; row++)
        {
            var scores = Enumerable.Range(0, Classes).Select(_ => Math.Exp(3 * rng.NextDouble())).ToArray();
            if (row == 1) scores[2] = 0;
            double sum = scores.Sum();
            for (int c = 0; c < Classes; c++) target[row * Classes + c] = (float)(scores[c] / sum);
        }
        var model = new ModelProto { IrVersion = 8, Graph = new GraphProto { Name = "logits" } };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = opset });
        model.Graph.Initializer.Add(LossTestModels.Tensor("z", [Items, Positions, Classes], logits));
        var softmax = new NodeProto { OpType = "Softmax", Name = "head" };
        softmax.Input.Add("z"); softmax.Output.Add("y");
        if (axis is { } a) softmax.Attribute.Add(GradientEmitter.Attribute("axis", a));
        model.Graph.Node.Add(softmax);
        var kind = DistillationLoss.KindOf(model, "y");
        Assert.Equal(LossKind.SoftmaxKl, kind);
        Assert.Equal("z", DistillationLoss.LossTensor(model, "y", kind));
        var term = new LossTerm("z", "t", kind, 1f, [Items, Positions, Classes], temperature, DistillationLoss.SoftmaxAxis(model, "y"));
        var loss = LossTestModels.AppendWithFixedTarget(model, term, target);
        return (model, loss, logits, target);
    }

    /// <summary>softmax(x / T) of one row, in double.</summary>
    static double[] Soft(IEnumerable<double> x, double temperature)
    {
        var scaled = x.Select(v => v / temperature).ToArray();
        double max = scaled.Max();
        var e = scaled.Select(v => Math.Exp(v - max)).ToArray();
        double sum = e.Sum();
        return e.Select(v => v / sum).ToArray();
    }

    /// <summary>Per row: the teacher's and the student's distributions at temperature T.</summary>
    static IEnumerable<(double[] Teacher, double[] Student)> Rows(float[] logits, float[] target, double temperature) =>
        Enumerable.Range(0, Items * Positions).Select(row =>
        {
            var t = target.Skip(row * Classes).Take(Classes).Select(p => Math.Log(Math.Max(p, 1e-30)));
            var z = logits.Skip(row * Classes).Take(Classes).Select(v => (double)v);
            return (Soft(t, temperature), Soft(z, temperature));
        });

    // Opset 13 with the default axis (the last); opset 11 with axis 2, which coerces [2, 3, 5] to rows of 5 as well.
    [Theory]
    [InlineData(1f, 13, null)]
    [InlineData(2f, 13, null)]
    [InlineData(4f, 11, 2L)]
    public void Loss_is_t_squared_kl_of_the_softened_distributions(float temperature, int opset, long? axis)
    {
        var (model, loss, logits, target) = LogitModel(temperature, opset, axis);
        using var runner = new ModelRunner(model.ToByteArray());
        double value = ((float[])runner.Run(new Dictionary<string, TensorData>())[loss].Values)[0];
        double expected = 0;
        foreach (var (p, q) in Rows(logits, target, temperature))
            for (int c = 0; c < Classes; c++)
                if (p[c] > 0) expected += p[c] * (Math.Log(p[c]) - Math.Log(q[c]));
        // Summed over classes, averaged over the items and positions.
        expected *= temperature * temperature / (Items * Positions);
        Assert.True(expected > 1e-3);
        Assert.Equal(expected, value, 1e-4 + 1e-4 * expected);
    }

    [Theory]
    [InlineData(1f)]
    [InlineData(2f)]
    public void Gradient_matches_finite_differences_and_is_t_times_the_difference_of_the_distributions(float temperature)
    {
        var (model, loss, logits, target) = LogitModel(temperature, 13, null);
        var bad = FiniteDifferences.Check(model, loss, ["z"], eps: 1e-2f, relative: 2e-2, absolute: 2e-4);
        Assert.True(bad.Count == 0, string.Join("\n", bad));
        var gm = BackwardGraph.Build(model, loss, ["z"], new Dictionary<string, TensorData>());
        using var runner = new ModelRunner(gm.Model);
        var grad = (float[])runner.Run(new Dictionary<string, TensorData>
            { ["z"] = new(DataTypes.Float, [Items, Positions, Classes], logits) })[gm.Gradients["z"]].Values;
        int row = 0;
        foreach (var (p, q) in Rows(logits, target, temperature))
        {
            for (int c = 0; c < Classes; c++)
                Assert.Equal(temperature * (q[c] - p[c]) / (Items * Positions), grad[row * Classes + c], 1e-5);
            row++;
        }
    }
}

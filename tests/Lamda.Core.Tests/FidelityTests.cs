using Google.Protobuf;
using Lamda.Data;
using Lamda.Evaluation;
using Lamda.Onnx;
using Lamda.Runtime;

namespace Lamda.Tests;

/// <summary>Fidelity with the base model, chosen from each output's shape and producer.</summary>
public class FidelityTests
{
    static TensorData Random(long[] shape, int seed)
    {
        var rng = new Random(seed);
        var values = new float[shape.Aggregate(1L, (a, d) => a * d)];
        for (int i = 0; i < values.Length; i++) values[i] = rng.NextSingle();
        return new TensorData(Graphs.DataTypes.Float, shape, values);
    }

    /// <summary>Text scenes as the detector reads them, smaller than their 640x640 to keep the test fast.</summary>
    static TensorData Scenes(int count, int size)
    {
        var spec = new ImagePreprocessing { Channels = "bgr", Mean = [0.485f, 0.456f, 0.406f], Std = [0.229f, 0.224f, 0.225f] };
        return ImageFolder.Load(ImageFolder.Files(Path.Combine(Shared.Folder!, "real", "scenes-val"))[..count], spec, size, size);
    }

    [SharedTheory]
    [InlineData("digits_cnn", FidelityKind.TopOne)]
    [InlineData("ppocr_cls", FidelityKind.TopOne)]
    [InlineData("ppocr_det", FidelityKind.MaskIoU)]
    public void A_model_agrees_fully_with_itself_and_less_once_pruned(string name, FidelityKind kind)
    {
        var (graph, weights) = TrainingTests.LoadAny(name);
        var (pruned, prunedWeights, _) = TrainingTests.Prune(graph, weights, 0.5);
        long[] shape = name switch { "digits_cnn" => [40, 1, 28, 28], "ppocr_cls" => [8, 3, 48, 96], _ => [2, 3, 64, 64] };
        var inputs = name switch
        {
            "digits_cnn" => DataSet.Load(Path.Combine(Shared.Folder!, "trained")).ValImages.Rows(0, 40),
            "ppocr_det" => Scenes(2, 160),
            _ => Random(shape, 1),
        };
        var baseBytes = OnnxExporter.Export(graph, weights).ToByteArray();
        var self = Fidelity.Measure(baseBytes, baseBytes, graph, inputs, batch: 8).Single();
        Assert.Equal(kind, self.Kind);
        Assert.Equal(1.0, self.Agreement);
        var other = Fidelity.Measure(baseBytes, OnnxExporter.Export(pruned, prunedWeights).ToByteArray(), graph, inputs, batch: 8).Single();
        Assert.Equal(kind, other.Kind);
        Assert.InRange(other.Agreement, 0.0, 0.999999);
    }

    [SharedFact]
    public void Top_one_agreement_is_the_share_of_inputs_with_the_same_class()
    {
        var (graph, weights) = TrainingTests.LoadAny("digits_cnn");
        var (pruned, prunedWeights, _) = TrainingTests.Prune(graph, weights, 0.5);
        var inputs = DataSet.Load(Path.Combine(Shared.Folder!, "trained")).ValImages.Rows(0, 50);
        var a = OnnxExporter.Export(graph, weights).ToByteArray();
        var b = OnnxExporter.Export(pruned, prunedWeights).ToByteArray();
        int ArgMax(float[] v, int row) => Enumerable.Range(0, 10).MaxBy(k => v[row * 10 + k]);
        var ya = (float[])Ort.Run(global::Onnx.ModelProto.Parser.ParseFrom(a), new() { ["input"] = inputs })["output"].Values;
        var yb = (float[])Ort.Run(global::Onnx.ModelProto.Parser.ParseFrom(b), new() { ["input"] = inputs })["output"].Values;
        double expected = Enumerable.Range(0, 50).Count(i => ArgMax(ya, i) == ArgMax(yb, i)) / 50.0;
        Assert.Equal(expected, Fidelity.Measure(a, b, graph, inputs, batch: 16).Single().Agreement, 12);
    }
}

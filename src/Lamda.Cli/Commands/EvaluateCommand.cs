using Lamda.Adaptation;
using Lamda.Evaluation;

namespace Lamda.Cli.Commands;

/// <summary>Accuracy of a model on a data folder's validation inputs, and its fidelity to a base model.</summary>
internal sealed class EvaluateCommand : Command
{
    /// <inheritdoc/>
    public override string Name => "evaluate";
    /// <inheritdoc/>
    public override string Summary => "accuracy on a data folder's validation inputs, and fidelity to a base model";
    /// <inheritdoc/>
    public override string Usage => """
        Usage: lamda evaluate MODEL.onnx --data DIR [--against BASE.onnx] [--batch 16]

        Reads DIR as 'lamda adapt --data' does (docs/dataset-folders.md) and prints, on its validation inputs, the
        top-1 accuracy of MODEL when they have labels, and with --against the agreement of every output of MODEL
        with BASE (top-1 for classes, per-position argmax for sequences, mask IoU at 0.3 for probability maps,
        1 - relative L2 error otherwise). BASE's accuracy is printed too when there are labels. --batch: inputs per
        run (1 for a model that runs only at batch 1).
        """;
    /// <inheritdoc/>
    public override string[] ValueOptions => ["--data", "--against", "--batch"];

    /// <inheritdoc/>
    public override int Run(Arguments args, TextWriter stdout, TextWriter stderr)
    {
        var path = args.Positional(0, "an ONNX model");
        args.NoMorePositionals(1);
        var (graph, _) = ModelSource.LoadOnnx(path);
        var dims = graph.Inputs[0].Type.Dims?.Select(d => d.IsKnown ? d.Value : -1).ToArray() ?? [];
        var data = AdaptData.Load(args.Required("--data"), dims, 0);
        stderr.WriteLine($"data: {data.Validation.Shape[0]} validation inputs ({data.Split})");
        var model = File.ReadAllBytes(path);
        int batch = Math.Max(1, args.Int("--batch", 16));
        if (data.Accuracy(model, batch) is { } accuracy) stdout.WriteLine($"accuracy {path}: {accuracy:P2}");
        if (args.Value("--against") is not { } basePath) return 0;
        var (baseGraph, _) = ModelSource.LoadOnnx(basePath);
        var baseModel = File.ReadAllBytes(basePath);
        if (data.Accuracy(baseModel, batch) is { } baseAccuracy) stdout.WriteLine($"accuracy {basePath}: {baseAccuracy:P2}");
        foreach (var r in Fidelity.Measure(baseModel, model, baseGraph, data.Validation, batch: batch))
            stdout.WriteLine($"fidelity {r.Output} ({r.Kind}): {r.Agreement:P2}");
        return 0;
    }
}

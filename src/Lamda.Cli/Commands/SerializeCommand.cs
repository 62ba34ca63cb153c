using Lamda.Graphs;
using Lamda.Onnx;
using Lamda.Text;

namespace Lamda.Cli.Commands;

internal sealed class SerializeCommand : Command
{
    public override string Name => "serialize";
    public override string Summary => "write a model's architecture as LamdaText";
    public override string Usage => """
        Usage: lamda serialize MODEL.onnx [-o FILE.lamda] [--normalize]

        Writes the LamdaText form of the model (stdout unless -o is given). Weights are referenced by name,
        never inlined; 'lamda deserialize FILE.lamda --weights MODEL.onnx' rebuilds the model.
          -o, --output FILE   write to FILE (atomically) instead of stdout
          --normalize         remove exporter noise first (Identity, Dropout, Constant, static shape math)
        """;
    public override string[] ValueOptions => ["-o|--output"];
    public override string[] FlagOptions => ["--normalize"];

    public override int Run(Arguments args, TextWriter stdout, TextWriter stderr)
    {
        var path = args.Positional(0, "an ONNX model");
        args.NoMorePositionals(1);
        var (graph, weights) = ModelSource.LoadOnnx(path);
        if (args.Flag("--normalize")) graph = Normalizer.Normalize(graph, weights).Graph;
        var text = LamdaTextWriter.Write(graph);
        if (args.Value("--output") is { } output)
        {
            ModelSource.CheckNotInput(output, path);
            AtomicFile.WriteText(output, text);
            stderr.WriteLine($"wrote {output} ({graph.Nodes.Count} nodes, {EstimatingTokenCounter.Instance.Count(text):N0} tokens)");
        }
        else stdout.Write(text);
        return 0;
    }
}

internal sealed class DeserializeCommand : Command
{
    public override string Name => "deserialize";
    public override string Summary => "build an ONNX model from LamdaText and a base model's weights";
    public override string Usage => """
        Usage: lamda deserialize FILE.lamda --weights BASE.onnx -o OUT.onnx

        Parses the LamdaText, resolves every @weight against BASE.onnx and writes an ONNX model. Every ch= and
        attribute must agree with the weights and shape inference (LT010 otherwise): the text must be exactly
        what 'lamda serialize' writes for the model it realizes. OUT.onnx is written atomically: an existing
        file is replaced only when everything succeeded.
        """;
    public override string[] ValueOptions => ["--weights", "-o|--output"];

    public override int Run(Arguments args, TextWriter stdout, TextWriter stderr)
    {
        var path = args.Positional(0, "a LamdaText file");
        args.NoMorePositionals(1);
        var weightsPath = args.Required("--weights");
        var output = args.Required("--output");
        ModelSource.CheckNotInput(output, path, weightsPath);
        var text = ModelSource.ReadText(path);
        var weights = ModelSource.LoadOnnx(weightsPath).Weights;
        var model = TextRealizer.Realize(text, path, weights);
        ModelFile.Save(model, output);
        stderr.WriteLine($"wrote {output} ({model.Graph.Node.Count} nodes)");
        return 0;
    }
}

internal sealed class NormalizeCommand : Command
{
    public override string Name => "normalize";
    public override string Summary => "remove exporter noise, keeping the model's outputs";
    public override string Usage => """
        Usage: lamda normalize MODEL.onnx -o OUT.onnx

        Removes Identity chains and inference-time Dropout, folds Constant nodes and static integer shape
        arithmetic into constants, and drops dead nodes. Outputs stay equal (within 1e-5) under ONNX Runtime.
        """;
    public override string[] ValueOptions => ["-o|--output"];

    public override int Run(Arguments args, TextWriter stdout, TextWriter stderr)
    {
        var path = args.Positional(0, "an ONNX model");
        args.NoMorePositionals(1);
        var output = args.Required("--output");
        ModelSource.CheckNotInput(output, path);
        var (graph, weights) = ModelSource.LoadOnnx(path);
        var (normalized, report) = Normalizer.Normalize(graph, weights);
        ModelFile.Save(OnnxExporter.Export(normalized, weights), output);
        var removed = report.Removed.Count == 0 ? "nothing"
            : string.Join(", ", report.Removed.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => $"{kv.Value} {kv.Key}"));
        stdout.WriteLine($"{report.NodesBefore} -> {report.NodesAfter} nodes (removed {removed}); wrote {output}");
        return 0;
    }
}

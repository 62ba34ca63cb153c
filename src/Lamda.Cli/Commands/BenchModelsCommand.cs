using Lamda.Latency;
using Lamda.Onnx;

namespace Lamda.Cli.Commands;

/// <summary>
/// Writes the held-out architectures of issue 14 (<see cref="HeldOutArchitectures"/>) as ONNX files, a folder for
/// <c>lamda bench-predictor --models DIR</c> and <c>lamda bench-adapt --models DIR</c>.
/// </summary>
internal sealed class BenchModelsCommand : Command
{
    /// <inheritdoc/>
    public override string Name => "bench-models";
    /// <inheritdoc/>
    public override string Summary => "write held-out torchvision-like architectures (random weights) for the benchmarks";
    /// <inheritdoc/>
    public override string Usage => $"""
        Usage: lamda bench-models -o DIR [--seed N] [--only NAME,...]

        Writes {string.Join(", ", HeldOutArchitectures.Names)}
        with the layer configurations of the torchvision models and seeded random weights (default seed 14),
        one NAME.onnx each. Calibration never sees them: they test how the predictor generalizes.
        """;
    /// <inheritdoc/>
    public override string[] ValueOptions => ["-o|--output", "--seed", "--only"];

    /// <inheritdoc/>
    public override int Run(Arguments args, TextWriter stdout, TextWriter stderr)
    {
        args.NoMorePositionals(0);
        var dir = args.Required("--output");
        int seed = args.Int("--seed", 14);
        var names = args.Value("--only")?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            ?? HeldOutArchitectures.Names.ToArray();
        Directory.CreateDirectory(dir);
        foreach (var name in names)
        {
            var b = HeldOutArchitectures.Build(name, seed);
            var path = Path.Combine(dir, name + ".onnx");
            File.WriteAllBytes(path, ModelFile.ToBytes(OnnxExporter.Export(b.Graph, b.Weights)));
            var kernels = KernelExtractor.Extract(b.Graph, b.Weights).Where(k => k.Class != KernelClass.Free).ToList();
            stdout.WriteLine($"wrote {path}: {b.Graph.Nodes.Count} nodes, {kernels.Count} kernels, {kernels.Sum(k => k.MMacs):F0} M MACs");
        }
        return 0;
    }
}

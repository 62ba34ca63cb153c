using System.Diagnostics;
using Lamda.Graphs;
using Lamda.Onnx;
using Lamda.Text;

namespace Lamda.Cli.Commands;

/// <summary>Times the text pipeline (the numbers recorded in docs/benchmarks.md).</summary>
internal sealed class BenchCommand : Command
{
    public override string Name => "bench";
    public override string Summary => "time import, serialize, parse, export and normalize on models";
    public override string Usage => """
        Usage: lamda bench [MODEL.onnx ...] [--runs N]

        For each model (default: googlenet.onnx from the shared models folder, found via ../shared or
        LAMDA_SHARED_DIR) prints the median time and managed allocation of each stage over N runs (default 20).
        """;
    public override string[] ValueOptions => ["--runs"];

    public override int Run(Arguments args, TextWriter stdout, TextWriter stderr)
    {
        int runs = Math.Max(1, args.Int("--runs", 20));
        var models = args.Positionals.ToList();
        if (models.Count == 0)
        {
            var shared = SharedFolder.Find() ?? throw new LamdaException(ErrorCodes.FileNotFound,
                "no model given and no shared models folder found (../shared/models or LAMDA_SHARED_DIR); pass MODEL.onnx.");
            models.Add(Path.Combine(shared, "models", "googlenet.onnx"));
        }
        stdout.WriteLine($"machine: {Environment.ProcessorCount} cores, {Environment.OSVersion}, .NET {Environment.Version}; median of " +
            $"{runs} runs");
        stdout.WriteLine($"{"model",-24} {"stage",-12} {"median ms",10} {"min ms",9} {"alloc MB",9}");
        foreach (var path in models)
        {
            var bytes = File.Exists(path) ? File.ReadAllBytes(path)
                : throw new LamdaException(ErrorCodes.FileNotFound, $"{path}: file not found.");
            var name = Path.GetFileNameWithoutExtension(path);
            var model = ModelFile.Parse(bytes, path);
            var (graph, weights) = OnnxImporter.Import(model, path);
            var text = LamdaTextWriter.Write(graph);
            Report(stdout, name, "import", runs, () => OnnxImporter.Import(model, path));
            Report(stdout, name, "serialize", runs, () => LamdaTextWriter.Write(graph));
            Report(stdout, name, "parse", runs, () => LamdaTextReader.Read(text, path));
            Report(stdout, name, "export", runs, () => OnnxExporter.Export(graph, weights));
            Report(stdout, name, "normalize", runs, () => Normalizer.Normalize(graph, weights));
            stdout.WriteLine($"{name,-24} {"(size)",-12} {graph.Nodes.Count,6} nodes {text.Length,8:N0} chars " +
                $"{EstimatingTokenCounter.Instance.Count(text),7:N0} tokens");
        }
        return 0;
    }

    static void Report(TextWriter w, string model, string stage, int runs, Func<object> work)
    {
        work(); // warm-up: JIT and caches
        var times = new double[runs];
        long allocated = 0;
        for (int i = 0; i < runs; i++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            var sw = Stopwatch.StartNew();
            GC.KeepAlive(work());
            sw.Stop();
            allocated += GC.GetAllocatedBytesForCurrentThread() - before;
            times[i] = sw.Elapsed.TotalMilliseconds;
        }
        Array.Sort(times);
        w.WriteLine($"{model,-24} {stage,-12} {times[runs / 2],10:F2} {times[0],9:F2} {allocated / (double)runs / (1 << 20),9:F2}");
    }
}

/// <summary>Finds the shared data folder: LAMDA_SHARED_DIR, else a 'shared' folder beside an ancestor of the working directory.</summary>
internal static class SharedFolder
{
    public static string? Find()
    {
        if (Environment.GetEnvironmentVariable("LAMDA_SHARED_DIR") is { Length: > 0 } env && Directory.Exists(env)) return env;
        for (var dir = new DirectoryInfo(Directory.GetCurrentDirectory()); dir != null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "shared");
            if (Directory.Exists(Path.Combine(candidate, "models"))) return candidate;
        }
        return null;
    }
}

using System.Diagnostics;
using Lamda.Adaptation;
using Lamda.Latency;
using Lamda.Onnx;
using Lamda.Runtime;

namespace Lamda.Cli.Commands;

/// <summary>The adaptation benchmark of issue 5: every shared model at 30%, 50% and 70% of its measured latency on host.</summary>
public sealed class BenchAdaptCommand : Command
{
    public override string Name => "bench-adapt";
    public override string Summary => "benchmark: adapt the shared models to 30/50/70% of their latency on host";
    public override string Usage => """
        Usage: lamda bench-adapt [--models DIR] [--targets 0.3,0.5,0.7]

        For each model in DIR (default: the shared models) measures the base latency on this machine, adapts it
        to each fraction of it on device 'host', then checks the output independently: it loads and runs in ONNX
        Runtime with the base's input/output shapes, and a fresh measurement is compared with the target.
        Prints each case, the mean absolute percentage error to target and the time per adaptation.
        """;
    public override string[] ValueOptions => ["--models", "--targets"];

    public override int Run(Arguments args, TextWriter stdout, TextWriter stderr)
    {
        args.NoMorePositionals(0);
        var dir = args.Value("--models") ?? Path.Combine(SharedFolder.Find() ?? throw new LamdaException(ErrorCodes.FileNotFound, "no shared models folder found; pass --models DIR."), "models");
        var fractions = (args.Value("--targets") ?? "0.3,0.5,0.7").Split(',').Select(f => double.Parse(f, System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        var profile = HostProfiles.GetOrCreate(new StderrProgress(stderr));
        var measure = new MeasureOptions { Runs = 30, MinSeconds = 1.0 };
        var errors = new List<double>();
        var times = new List<double>();
        int inBand = 0, cases = 0;
        stdout.WriteLine($"{"model",-20} {"target",6} {"base ms",8} {"target ms",9} {"result ms",9} {"ratio",6} {"iters",5} {"secs",5} check");
        foreach (var path in Directory.GetFiles(dir, "*.onnx").OrderBy(f => f, StringComparer.Ordinal))
        {
            var name = Path.GetFileNameWithoutExtension(path);
            var (graph, weights) = ModelSource.LoadOnnx(path);
            double baseMs = LatencyMeter.Measure(File.ReadAllBytes(path), graph, measure).P50Ms;
            foreach (var fraction in fractions)
            {
                cases++;
                double target = baseMs * fraction;
                var sw = Stopwatch.StartNew();
                string check;
                double? result = null;
                int iterations = 0;
                try
                {
                    var adapted = Adapter.Run(path, graph, weights, new AdaptOptions { TargetMs = target, Device = profile, MeasureOnHost = true });
                    times.Add(sw.Elapsed.TotalSeconds);
                    iterations = adapted.Report.Iterations.Count;
                    var bytes = Adapter.Bytes(adapted.Model);
                    var reloaded = OnnxImporter.Import(ModelFile.Parse(bytes, name)).Graph;
                    using (var runner = new ModelRunner(bytes))
                    {
                        var outputs = runner.Run(TensorData.RandomInputs(reloaded));
                        bool shapes = reloaded.Inputs.Select(i => i.Type.ToString()).SequenceEqual(graph.Inputs.Select(i => i.Type.ToString()))
                            && outputs.Values.Select(o => string.Join(",", o.Shape)).SequenceEqual(graph.Outputs.Select(o => string.Join(",", o.Type.Dims!.Select(d => d.IsKnown ? d.Value : 1))));
                        check = shapes ? "runs, shapes ok" : "SHAPES CHANGED";
                    }
                    result = LatencyMeter.Measure(bytes, reloaded, measure).P50Ms;
                    errors.Add(Math.Abs(result.Value - target) / target);
                    if (result <= target && result >= 0.85 * target) inBand++;
                    else check += result > target ? ", OVER TARGET" : ", BELOW 85%";
                }
                catch (LamdaException e)
                {
                    check = $"failed: {e.Code} {e.Message}";
                }
                stdout.WriteLine($"{name,-20} {fraction,6:P0} {baseMs,8:F3} {target,9:F3} {(result is { } r ? r.ToString("F3") : "-"),9} {(result is { } q ? (q / target).ToString("F3") : "-"),6} {iterations,5} {sw.Elapsed.TotalSeconds,5:F0} {check}");
            }
        }
        times.Sort();
        stdout.WriteLine($"cases {cases}; within [85%, 100%] of target: {inBand}/{cases}; MAPE to target {errors.DefaultIfEmpty().Average():P2}; seconds per adaptation: median {times.ElementAtOrDefault(times.Count / 2):F1}, max {times.DefaultIfEmpty().Max():F1}");
        return 0;
    }
}

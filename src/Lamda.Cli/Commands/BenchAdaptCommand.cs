using System.Diagnostics;
using Lamda.Adaptation;
using Lamda.Graphs;
using Lamda.Latency;
using Lamda.Onnx;
using Lamda.Runtime;

namespace Lamda.Cli.Commands;

/// <summary>
/// The adaptation benchmark of issues 5 and 14: every shared model at 30%, 50% and 70% of its measured latency on
/// host, each result checked independently by an interleaved comparison against its base model.
/// </summary>
internal sealed class BenchAdaptCommand : Command
{
    public override string Name => "bench-adapt";
    public override string Summary => "benchmark: adapt the shared models to 30/50/70% of their latency on host";
    public override string Usage => """
        Usage: lamda bench-adapt [--models DIR] [--targets 0.3,0.5,0.7] [--input-shape 1,3,640,640]

        For each model in DIR (default: the shared models) measures the base latency on this machine (interleaved
        against Lamda's reference network), adapts it to each fraction of it on device 'host', then checks the
        output independently: it loads and runs in ONNX Runtime with the base's input/output shapes, and its
        latency is measured in interleaved rounds against the base itself: the ratio is the fraction reached.
        Prints each case with the noise of its check, the share within [85%, 103%] of the budget, the mean
        absolute percentage error to target and the time per adaptation. Each budget is relative (as --latency 50%).
        A model with dynamic input dims runs at --input-shape, or at each size listed in MODEL.onnx.shapes beside it.
        """;
    public override string[] ValueOptions => ["--models", "--targets", InputShapes.Option];

    /// <summary>One adaptation's outcome: the ratio check against the base (null when it failed) and what it says.</summary>
    sealed record Outcome(Comparison? Against, double Reached, double Seconds, int Iterations, string Check);

    public override int Run(Arguments args, TextWriter stdout, TextWriter stderr)
    {
        args.NoMorePositionals(0);
        var dir = args.Value("--models")
            ?? Path.Combine(SharedFolder.Find()
            ?? throw new LamdaException(ErrorCodes.FileNotFound, "no shared models folder found; pass --models DIR."), "models");
        var fractions =
            (args.Value("--targets") ?? "0.3,0.5,0.7").Split(',').Select(f
            => double.Parse(f, System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        var profile = HostProfiles.GetOrCreate(new StderrProgress(stderr));
        var compare = new CompareOptions();
        var outcomes = new List<Outcome>();
        stdout.WriteLine($"{"model",-20} {"target",6} {"base ms",8} {"target ms",9} {"result ms",9} {"ratio",6} {"noise",6} "
            + $"{"iters",5} {"secs",5} check");
        foreach (var path in Directory.GetFiles(dir, "*.onnx").OrderBy(f => f, StringComparer.Ordinal))
        foreach (var (name, graph, weights) in Sized(path, args.Value(InputShapes.Option)))
        {
            var baseModel = new ModelUnderTest(File.ReadAllBytes(path), graph, name);
            var measuredBase = LatencyMeter.MeasureAgainst(baseModel, ReferenceNetwork.Build(), compare);
            double baseMs = measuredBase.CandidateMs;
            var quietBase = new QuietReference();
            quietBase.ObserveAsCandidate(measuredBase, compare);
            foreach (var fraction in fractions)
            {
                var o = Adapt(path, baseModel, weights, profile, fraction, compare, quietBase);
                outcomes.Add(o);
                double target = baseMs * fraction;
                string result = o.Against is { } a ? (a.Ratio * baseMs).ToString("F3") : "-";
                string reached = o.Against != null ? o.Reached.ToString("F3") : "-", noise = o.Against?.Noise.ToString("P1") ?? "-";
                stdout.WriteLine($"{name,-20} {fraction,6:P0} {baseMs,8:F3} {target,9:F3} {result,9} {reached,6} {noise,6} "
                    + $"{o.Iterations,5} {o.Seconds,5:F0} {o.Check}");
            }
        }
        var done = outcomes.Where(o => o.Against != null).ToList();
        var times = done.Select(o => o.Seconds).Order().ToList();
        int inBand = done.Count(o => o.Reached is >= 0.85 and <= 1.03);
        double mape = done.Select(o => Math.Abs(o.Reached - 1)).DefaultIfEmpty().Average();
        stdout.WriteLine($"cases {outcomes.Count}; within [85%, 103%] of target: {inBand}/{outcomes.Count}; MAPE to target {mape:P2}; "
            + $"seconds per adaptation: median {times.ElementAtOrDefault(times.Count / 2):F1}, max {times.DefaultIfEmpty().Max():F1}");
        return 0;
    }

    static IEnumerable<(string Name, Graph Graph, WeightStore Weights)> Sized(string path, string? inputShape)
    {
        var (loaded, weights) = ModelSource.LoadOnnx(path);
        return BenchShapes.Sized(path, loaded, inputShape).Select(s => (s.Name, s.Graph, weights));
    }

    static Outcome Adapt(string path, ModelUnderTest baseModel, WeightStore weights, DeviceProfile profile, double fraction,
        CompareOptions compare, QuietReference quietBase)
    {
        var sw = Stopwatch.StartNew();
        try
        {
            // A relative budget, as 'lamda adapt --latency 50%' sets it: the loop judges candidates by their ratio to the
            // base, the figure the check below takes too (an absolute target from this command's own base figure moved
            // the loop's aim by the difference between two measurements of the base).
            var options = new AdaptOptions { TargetFraction = fraction, Device = profile, MeasureOnHost = true };
            var adapted = Adapter.Run(path, baseModel.Graph, weights, options);
            double seconds = sw.Elapsed.TotalSeconds;
            var bytes = Adapter.Bytes(adapted.Model);
            var reloaded = OnnxImporter.Import(ModelFile.Parse(bytes, baseModel.Name)).Graph;
            string check = ShapesHold(bytes, reloaded, baseModel.Graph) ? "runs, shapes ok" : "SHAPES CHANGED";
            // Independent of the loop's own figures: the adapted model against its base, in the same rounds, on a quiet
            // machine as far as this model's checks so far can tell.
            var against = quietBase.MeasureAgainst(new ModelUnderTest(bytes, reloaded, baseModel.Name + " adapted"), baseModel, compare);
            double reached = against.Ratio / fraction;
            if (reached is < 0.85 or > 1.03) check += reached > 1.03 ? ", OVER 103%" : ", BELOW 85%";
            if (against.IsNoisy) check += ", noisy check";
            return new Outcome(against, reached, seconds, adapted.Report.Iterations.Count, check);
        }
        catch (LamdaException e)
        {
            return new Outcome(null, 0, sw.Elapsed.TotalSeconds, 0, $"failed: {e.Code} {e.Message}");
        }
    }

    /// <summary>The adapted model runs in ONNX Runtime and keeps the base's input and output shapes.</summary>
    static bool ShapesHold(byte[] bytes, Graph reloaded, Graph original)
    {
        using var runner = new ModelRunner(bytes);
        var outputs = runner.Run(TensorData.RandomInputs(reloaded));
        return reloaded.Inputs.Select(i => i.Type.ToString()).SequenceEqual(original.Inputs.Select(i => i.Type.ToString()))
            && outputs.Values.Select(o => string.Join(",", o.Shape))
                .SequenceEqual(original.Outputs.Select(o => string.Join(",", o.Type.Dims!.Select(d => d.IsKnown ? d.Value : 1))));
    }
}

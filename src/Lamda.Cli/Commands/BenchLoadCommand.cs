using System.Diagnostics;
using Lamda.Adaptation;
using Lamda.Graphs;
using Lamda.Latency;

namespace Lamda.Cli.Commands;

/// <summary>
/// The measurement behind <see cref="CompareOptions.LoadTolerance"/>: how outside load moves the ratio of a model to its
/// base. Rounds of the model, its base and the reference network, one after another for a while, sorted by how far the
/// base ran over its quietest round.
/// </summary>
internal sealed class BenchLoadCommand : Command
{
    // Classes of rounds by the base's round median over its quietest: the edges, as shares over it.
    static readonly double[] Edges = [0.05, 0.15, 0.30, 0.60];

    public override string Name => "bench-load";
    public override string Summary => "benchmark: how outside load moves a model's latency ratio to its base";
    public override string Usage => """
        Usage: lamda bench-load MODEL.onnx --against BASE.onnx [--seconds 240] [--input-shape 1,3,640,640]

        Times rounds of MODEL, BASE and Lamda's reference network one after another (a block of runs of about 25 ms
        each, its median kept) for --seconds, on one thread, under the machine lock. Prints the rounds by how far
        BASE ran over its quietest round (within 5%, 5-15%, 15-30%, 30-60%, over 60%) with the median ratio of MODEL
        to BASE and of BASE to the reference in each, and the spells of load: runs of rounds with BASE over 15% of its
        quietest (the comparisons' load tolerance). On a quiet machine every round is in the first classes; where a
        class further down has another ratio, load moves the ratio and comparisons must wait it out.
        """;
    public override string[] ValueOptions => ["--against", "--seconds", InputShapes.Option];

    sealed record Round(double AtSeconds, double Model, double Base, double Reference);

    public override int Run(Arguments args, TextWriter stdout, TextWriter stderr)
    {
        var path = args.Positional(0, "an ONNX model");
        args.NoMorePositionals(1);
        var basePath = args.Required("--against");
        int seconds = Math.Max(1, args.Int("--seconds", 240));
        var rounds = Time(Load(path, args), Load(basePath, args), seconds, new StderrProgress(stderr));
        double quietest = rounds.Min(r => r.Base);
        stdout.WriteLine($"{rounds.Count} rounds in {seconds} s; base's quietest round {quietest:F3} ms");
        stdout.WriteLine($"{"base over quietest",-20} {"rounds",7} {"model/base",11} {"base/reference",15}");
        double lower = 0;
        foreach (var upper in Edges.Append(double.PositiveInfinity))
        {
            var inClass = rounds.Where(r => r.Base / quietest - 1 >= lower && r.Base / quietest - 1 < upper).ToList();
            string label = double.IsPositiveInfinity(upper) ? $"over {lower:P0}" : $"{lower:P0}-{upper:P0}";
            string ratios = inClass.Count == 0 ? $"{"-",11} {"-",15}"
                : $"{Median(inClass.Select(r => r.Model / r.Base)),11:F4} {Median(inClass.Select(r => r.Base / r.Reference)),15:F4}";
            stdout.WriteLine($"{label,-20} {inClass.Count,7} {ratios}");
            lower = upper;
        }
        var spells = Spells(rounds, quietest * (1 + new CompareOptions().LoadTolerance));
        stdout.WriteLine(spells.Count == 0 ? "no spell of load"
            : $"{spells.Count} spells of load, {spells.Sum():F1} s in all; longest {spells.Max():F1} s, median {Median(spells):F1} s");
        return 0;
    }

    static ModelUnderTest Load(string path, Arguments args)
    {
        var (graph, _) = ModelSource.LoadOnnx(path);
        if (args.Value(InputShapes.Option) is { } shape) graph = InputShapes.Parse(shape).Pin(graph, path);
        InputShapes.RequireStatic(graph, path);
        return new ModelUnderTest(File.ReadAllBytes(path), graph, path);
    }

    static List<Round> Time(ModelUnderTest model, ModelUnderTest baseModel, double seconds, IProgress<string> progress)
    {
        using var held = MachineLock.Acquire(progress);
        using var a = new PreparedModel(model, threads: 1);
        using var b = new PreparedModel(baseModel, threads: 1);
        using var c = new PreparedModel(ReferenceNetwork.Build(), threads: 1);
        ITimedRun[] arms = [a, b, c];
        var runs = arms.Select(arm => RunsFor(arm)).ToArray();
        var rounds = new List<Round>();
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed.TotalSeconds < seconds)
        {
            var medians = arms.Select((arm, i) => InterleavedRounds.Median(arm, runs[i])).ToArray();
            rounds.Add(new Round(clock.Elapsed.TotalSeconds, medians[0], medians[1], medians[2]));
            if (rounds.Count % 500 == 0) progress.Report($"{rounds.Count} rounds, {clock.Elapsed.TotalSeconds:F0} s");
        }
        return rounds;
    }

    /// <summary>Runs for a block of about 25 ms, from the fastest of ten warm-up runs.</summary>
    static int RunsFor(ITimedRun arm)
    {
        double fastest = Enumerable.Range(0, 10).Min(_ => arm.RunMs());
        return (int)Math.Clamp(Math.Ceiling(25 / Math.Max(fastest, 1e-3)), 3, 200);
    }

    /// <summary>Durations (s) of the runs of rounds with the base over <paramref name="loadedMs"/>, ended by three quiet rounds.</summary>
    static List<double> Spells(List<Round> rounds, double loadedMs)
    {
        var spells = new List<double>();
        double? start = null, last = null;
        int quiet = 0;
        foreach (var r in rounds)
        {
            if (r.Base > loadedMs) (start, last, quiet) = (start ?? r.AtSeconds, r.AtSeconds, 0);
            else if (start != null && ++quiet >= 3)
            {
                spells.Add(last!.Value - start.Value);
                start = null;
            }
        }
        if (start != null) spells.Add(last!.Value - start.Value);
        return spells;
    }

    static double Median(IEnumerable<double> values) => InterleavedRounds.MedianOf(values.ToArray());
}

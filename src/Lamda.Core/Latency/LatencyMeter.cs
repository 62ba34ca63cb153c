using System.Diagnostics;
using Lamda.Graphs;
using Lamda.Runtime;

namespace Lamda.Latency;

/// <summary>How latency is measured: the protocol used by <c>lamda measure</c> and by the synthesis loop on <c>host</c>.</summary>
public sealed record MeasureOptions
{
    /// <summary>Intra-op threads; 1 for <c>host</c> unless a device profile says otherwise.</summary>
    public int Threads { get; init; } = 1;
    /// <summary>Untimed runs first, so that allocation and caches settle.</summary>
    public int Warmup { get; init; } = 10;
    /// <summary>Timed runs; at least this many, and more until <see cref="MinSeconds"/> have elapsed (capped at 1000).</summary>
    public int Runs { get; init; } = 30;
    /// <summary>Least time spent in timed runs, in seconds.</summary>
    public double MinSeconds { get; init; } = 1.0;
    /// <summary>Seed of the model's random inputs.</summary>
    public int Seed { get; init; } = 0;
}

/// <summary>Summary of timed runs. <see cref="Cv"/> is the coefficient of variation (stddev / mean).</summary>
public sealed record LatencyStats(double P50Ms, double P90Ms, double MeanMs, double MinMs, double Cv, int Runs, int Threads)
{
    /// <summary>Above this cv the machine is too noisy for a single measurement to be trusted.</summary>
    public const double NoisyCv = 0.1;
    /// <summary>True when the spread of the runs is above <see cref="NoisyCv"/>.</summary>
    public bool IsNoisy => Cv > NoisyCv;

    internal static LatencyStats From(IReadOnlyList<double> samplesMs, int threads)
    {
        var sorted = samplesMs.OrderBy(x => x).ToArray();
        double mean = sorted.Average();
        double sd = Math.Sqrt(sorted.Sum(x => (x - mean) * (x - mean)) / Math.Max(1, sorted.Length - 1));
        return new LatencyStats(InterleavedRounds.PercentileOf(sorted, 0.5), InterleavedRounds.PercentileOf(sorted, 0.9), mean,
            sorted[0], mean > 0 ? sd / mean : 0, sorted.Length, threads);
    }
}

/// <summary>A model to time: its bytes, its graph (for the inputs) and a name for messages.</summary>
public sealed record ModelUnderTest(byte[] Bytes, Graph Graph, string Name = "model")
{
    internal static ModelUnderTest Of(GraphBuilder b, string name = "model") => new(KernelSuite.ToBytes(b), b.Graph, name);
}

/// <summary>A model loaded in ONNX Runtime with its inputs bound, timed one run at a time.</summary>
internal sealed class PreparedModel : ITimedRun, IDisposable
{
    readonly ModelRunner runner;
    readonly ModelRunner.PreparedRun run;

    public PreparedModel(ModelUnderTest model, int threads, int seed = 0)
    {
        runner = new ModelRunner(model.Bytes, new RunnerOptions { IntraOpThreads = threads }, model.Name);
        run = runner.Prepare(TensorData.RandomInputs(model.Graph, seed));
    }

    public double RunMs()
    {
        long t0 = Stopwatch.GetTimestamp();
        run.Run();
        return Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
    }

    public void Dispose()
    {
        run.Dispose();
        runner.Dispose();
    }
}

/// <summary>
/// Measures inference latency with ONNX Runtime on this machine: CPU provider, all graph optimizations,
/// sequential execution, batch 1 (symbolic dims become 1), seeded random inputs, inputs bound once so only
/// <c>Run</c> is timed. Every timing holds the machine's measurement lock (<see cref="MachineLock"/>).
/// </summary>
public static class LatencyMeter
{
    /// <summary>
    /// Times <paramref name="model"/> (ONNX bytes; <paramref name="graph"/> gives its inputs) with ONNX Runtime on this
    /// machine: warm-up, then timed runs until both the run count and the time are reached.
    /// </summary>
    public static LatencyStats
        Measure(byte[] model, Graph graph, MeasureOptions? options = null, string displayName = "model", IProgress<string>? progress = null)
    {
        options ??= new MeasureOptions();
        using var held = MachineLock.Acquire(progress);
        using var prepared = new PreparedModel(new ModelUnderTest(model, graph, displayName), options.Threads, options.Seed);
        for (int i = 0; i < options.Warmup; i++) prepared.RunMs();
        var samples = new List<double>(options.Runs);
        var total = Stopwatch.StartNew();
        while (samples.Count < options.Runs || (total.Elapsed.TotalSeconds < options.MinSeconds && samples.Count < 1000))
        {
            samples.Add(prepared.RunMs());
            if (progress != null && samples.Count % 10 == 0) progress.Report($"{samples.Count} runs");
        }
        return LatencyStats.From(samples, options.Threads);
    }

    /// <summary>
    /// The protocol that survives outside load: <paramref name="candidate"/> and <paramref name="reference"/>
    /// timed in alternating rounds (<see cref="InterleavedRounds"/>), under the machine lock. The reference is
    /// the base model when there is one (the adaptation loop, bench-adapt's check) or
    /// <see cref="ReferenceNetwork"/>.
    /// </summary>
    public static Comparison MeasureAgainst(ModelUnderTest candidate, ModelUnderTest reference, CompareOptions? options = null,
        IProgress<string>? progress = null)
    {
        options ??= new CompareOptions();
        using var held = MachineLock.Acquire(progress);
        using var a = new PreparedModel(candidate, options.Threads, options.Seed);
        using var b = new PreparedModel(reference, options.Threads, options.Seed);
        return new InterleavedRounds(options).Run(a, b, progress);
    }
}

/// <summary>
/// A fixed reference network for comparisons without a base model and for checking a cached profile: a small
/// convolutional network of about a millisecond on one core, always the same (built from a constant seed).
/// </summary>
public static class ReferenceNetwork
{
    /// <summary>The reference network, exported and ready to measure.</summary>
    public static ModelUnderTest Build()
    {
        var b = new GraphBuilder(seed: 14);
        var x = b.Input("x", 1, 3, 96, 96);
        var y = b.Relu(b.Conv(x, 32, stride: 2));
        y = b.Relu(b.Conv(y, 32, group: 32));
        y = b.Relu(b.Conv(y, 64, kernel: 1));
        y = b.Relu(b.Conv(y, 64, stride: 2));
        y = b.Relu(b.Add(b.Conv(y, 64, kernel: 1), y));
        b.Output(b.Gemm(b.Flatten(b.GlobalAveragePool(y)), 10), "y");
        return ModelUnderTest.Of(b, "reference network");
    }
}

using System.Diagnostics;
using Lamda.Graphs;
using Lamda.Runtime;

namespace Lamda.Latency;

/// <summary>How latency is measured: the protocol used by <c>lamda measure</c> and by the synthesis loop on <c>host</c>.</summary>
public sealed record MeasureOptions
{
    /// <summary>Intra-op threads; 1 for <c>host</c> unless a device profile says otherwise.</summary>
    public int Threads { get; init; } = 1;
    public int Warmup { get; init; } = 10;
    /// <summary>Timed runs; at least this many, and more until <see cref="MinSeconds"/> have elapsed (capped at 1000).</summary>
    public int Runs { get; init; } = 30;
    public double MinSeconds { get; init; } = 1.0;
    public int Seed { get; init; } = 0;
}

/// <summary>Summary of timed runs. <see cref="Cv"/> is the coefficient of variation (stddev / mean).</summary>
public sealed record LatencyStats(double P50Ms, double P90Ms, double MeanMs, double MinMs, double Cv, int Runs, int Threads)
{
    /// <summary>Above this cv the machine is too noisy for a single measurement to be trusted.</summary>
    public const double NoisyCv = 0.1;
    public bool IsNoisy => Cv > NoisyCv;

    public static LatencyStats From(IReadOnlyList<double> samplesMs, int threads)
    {
        var sorted = samplesMs.OrderBy(x => x).ToArray();
        double mean = sorted.Average();
        double sd = Math.Sqrt(sorted.Sum(x => (x - mean) * (x - mean)) / Math.Max(1, sorted.Length - 1));
        return new LatencyStats(Percentile(sorted, 0.5), Percentile(sorted, 0.9), mean, sorted[0], mean > 0 ? sd / mean : 0, sorted.Length, threads);
    }

    static double Percentile(double[] sorted, double p)
    {
        double pos = p * (sorted.Length - 1);
        int lo = (int)Math.Floor(pos), hi = (int)Math.Ceiling(pos);
        return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
    }
}

/// <summary>
/// Measures inference latency with ONNX Runtime on this machine: CPU provider, all graph optimizations,
/// sequential execution, batch 1 (symbolic dims become 1), seeded random inputs, inputs bound once so only
/// <c>Run</c> is timed.
/// </summary>
public static class LatencyMeter
{
    public static LatencyStats Measure(byte[] model, Graph graph, MeasureOptions? options = null, string displayName = "model", IProgress<string>? progress = null)
    {
        options ??= new MeasureOptions();
        using var runner = new ModelRunner(model, new RunnerOptions { IntraOpThreads = options.Threads }, displayName);
        using var run = runner.Prepare(TensorData.RandomInputs(graph, options.Seed));
        for (int i = 0; i < options.Warmup; i++) run.Run();
        var samples = new List<double>(options.Runs);
        var total = Stopwatch.StartNew();
        while (samples.Count < options.Runs || (total.Elapsed.TotalSeconds < options.MinSeconds && samples.Count < 1000))
        {
            long t0 = Stopwatch.GetTimestamp();
            run.Run();
            samples.Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
            if (progress != null && samples.Count % 10 == 0) progress.Report($"{samples.Count} runs");
        }
        return LatencyStats.From(samples, options.Threads);
    }
}

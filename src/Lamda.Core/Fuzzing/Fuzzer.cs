using System.Diagnostics;

namespace Lamda.Fuzzing;

/// <summary>
/// One reader under test: a valid seed input, the file extension the reader dispatches on, and what reading a
/// file means (parse it and use what was parsed, as the CLI would).
/// </summary>
internal sealed record FuzzTarget(string Name, string Extension, byte[] Seed, bool IsText, Action<string> Read);

internal enum FuzzOutcome { Accepted, Refused, Uncoded, Hang }

/// <summary>The result of one case; <see cref="Detail"/> is the error code, or the exception for a bug.</summary>
internal sealed record FuzzCase(string Target, int Index, FuzzOutcome Outcome, string? Detail);

internal sealed class FuzzReport
{
    public Dictionary<string, Dictionary<FuzzOutcome, int>> Counts { get; } = new(StringComparer.Ordinal);
    /// <summary>Error codes seen per target, for the report: which refusals the readers give.</summary>
    public Dictionary<string, SortedDictionary<string, int>> Codes { get; } = new(StringComparer.Ordinal);
    public List<FuzzCase> Bugs { get; } = [];
    public TimeSpan Elapsed { get; set; }
    public TimeSpan Slowest { get; set; }
    public int Total => Counts.Values.Sum(c => c.Values.Sum());

    public void Add(FuzzCase c, TimeSpan took)
    {
        var counts = Counts.TryGetValue(c.Target, out var x) ? x : Counts[c.Target] = [];
        counts[c.Outcome] = counts.GetValueOrDefault(c.Outcome) + 1;
        if (c.Outcome == FuzzOutcome.Refused && c.Detail != null)
        {
            var codes = Codes.TryGetValue(c.Target, out var y) ? y : Codes[c.Target] = new(StringComparer.Ordinal);
            codes[c.Detail] = codes.GetValueOrDefault(c.Detail) + 1;
        }
        if (c.Outcome is FuzzOutcome.Uncoded or FuzzOutcome.Hang) Bugs.Add(c);
        if (took > Slowest) Slowest = took;
    }
}

/// <summary>
/// A seeded, in-process mutation fuzzer. Case <c>i</c> of seed <c>S</c> always mutates the same target the same
/// way, so a case that finds a bug is reproduced by its (seed, index) and kept as a regression test. Every case
/// must end in success or a <see cref="LamdaException"/> with a code; any other exception is a bug, and a case
/// that runs longer than the timeout is reported as a hang (its thread is abandoned, not killed).
/// </summary>
internal sealed class Fuzzer(IReadOnlyList<FuzzTarget> targets, string workDirectory, TimeSpan timeout)
{
    public FuzzReport Run(int count, int seed, IProgress<string>? progress = null)
    {
        var report = new FuzzReport();
        var total = Stopwatch.StartNew();
        for (int i = 0; i < count; i++)
        {
            var t0 = Stopwatch.GetTimestamp();
            var c = RunCase(seed, i);
            report.Add(c, Stopwatch.GetElapsedTime(t0));
            if (progress != null && (i + 1) % 1000 == 0) progress.Report($"{i + 1}/{count} cases, {report.Bugs.Count} bugs");
        }
        report.Elapsed = total.Elapsed;
        return report;
    }

    /// <summary>The input of case <paramref name="index"/> of <paramref name="seed"/>: its target and the mutated bytes.</summary>
    public (FuzzTarget Target, byte[] Input) CaseInput(int seed, int index)
    {
        var target = targets[index % targets.Count];
        var rng = new Random(unchecked(seed * 1_000_003 + index));
        return (target, Mutator.Mutate(target.Seed, target.IsText, rng));
    }

    public FuzzCase RunCase(int seed, int index)
    {
        var (target, input) = CaseInput(seed, index);
        var path = Path.Combine(workDirectory, $"case{index}{target.Extension}");
        File.WriteAllBytes(path, input);
        try { return Judge(target, index, path); }
        finally { try { File.Delete(path); } catch (IOException) { } }
    }

    FuzzCase Judge(FuzzTarget target, int index, string path)
    {
        var run = Task.Run(() => target.Read(path));
        try
        {
            if (!run.Wait(timeout)) return new(target.Name, index, FuzzOutcome.Hang, $"still running after {timeout.TotalSeconds:0} s");
            return new(target.Name, index, FuzzOutcome.Accepted, null);
        }
        catch (AggregateException e) when (e.InnerException is LamdaException { Code.Length: > 0 } coded)
        {
            return new(target.Name, index, FuzzOutcome.Refused, coded.Code);
        }
        catch (AggregateException e)
        {
            var inner = e.InnerException ?? e;
            return new(target.Name, index, FuzzOutcome.Uncoded, $"{inner.GetType().Name}: {inner.Message}\n{inner.StackTrace}");
        }
    }
}

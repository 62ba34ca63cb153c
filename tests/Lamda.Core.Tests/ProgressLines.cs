namespace Lamda.Tests;

/// <summary>Collects every progress line reported, in order (thread-safe: calibration reports from worker threads).</summary>
internal sealed class ProgressLines(List<string> lines) : IProgress<string>
{
    public void Report(string value) { lock (lines) lines.Add(value); }
}

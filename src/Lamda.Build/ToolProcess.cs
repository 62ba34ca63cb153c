using System.Diagnostics;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

namespace Lamda.Build;

/// <summary>
/// The <c>lamda</c> tool as a child process, run the way a <c>ToolTask</c> runs its tool: the command line is logged
/// at normal verbosity, its output streams into the build log, and <see cref="Kill"/> (the build's Cancel, Ctrl+C)
/// ends it with its children at once rather than when the search is done.
/// </summary>
sealed class ToolProcess(TaskLoggingHelper log)
{
    readonly object gate = new();
    Process? running;
    bool cancelled;

    public bool Cancelled { get { lock (gate) return cancelled; } }

    /// <summary>Runs <c>dotnet TOOL args</c>; the exit code, or -1 when the build was cancelled.</summary>
    public int Run(string toolPath, IReadOnlyList<string> args)
    {
        var host = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } h ? h : "dotnet";
        var start = new ProcessStartInfo(host) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(toolPath);
        foreach (var a in args) start.ArgumentList.Add(a);
        log.LogCommandLine(MessageImportance.Normal, string.Join(" ", start.ArgumentList.Prepend(host).Select(Quote)));
        using var process = new Process { StartInfo = start };
        process.ErrorDataReceived += (_, e) => Forward(e.Data);
        process.OutputDataReceived += (_, e) => Forward(e.Data);
        lock (gate)
        {
            if (cancelled) return -1;
            if (!process.Start()) throw new LamdaException("LAMDA052", "could not start the lamda tool.");
            running = process;
        }
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();
        process.WaitForExit();
        lock (gate) running = null;
        return Cancelled ? -1 : process.ExitCode;
    }

    /// <summary>Progress reaches the log; warnings and errors arrive through the messages file, with their codes.</summary>
    void Forward(string? line)
    {
        if (line == null || line.StartsWith("warning: ", StringComparison.Ordinal)
            || line.StartsWith("lamda adapt: error ", StringComparison.Ordinal)) return;
        log.LogMessage(MessageImportance.Normal, "Lamda: " + line);
    }

    public void Kill()
    {
        lock (gate)
        {
            cancelled = true;
            try { running?.Kill(entireProcessTree: true); }
            catch (InvalidOperationException) { } // it has just exited
        }
    }

    static string Quote(string a) =>
        a.Length > 0 && !a.Any(c => char.IsWhiteSpace(c) || c == '"') ? a : "\"" + a.Replace("\"", "\\\"") + "\"";
}

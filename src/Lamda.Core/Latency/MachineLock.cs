namespace Lamda.Latency;

/// <summary>
/// One timing at a time per machine: parallel builds and test runs that measure latency at the same time on
/// a few cores spoil each other's figures (issue 14: three adaptations measured together on 2 cores, one
/// landed at 31% of its base for a 50% budget). Every timing holds this lock, an exclusive lock on a file in
/// the cache directory, so measurements queue for the CPU instead. Re-entrant on the thread that holds it:
/// a calibration that holds it may call measurements that take it again.
/// </summary>
internal static class MachineLock
{
    [ThreadStatic] static int depth;
    static int stderrReported;

    /// <summary>The lock file (LAMDA_CACHE_DIR/measure.lock unless <paramref name="folder"/> is given).</summary>
    public static string PathIn(string? folder = null) => Path.Combine(folder ?? LamdaPaths.CacheDirectory, "measure.lock");

    /// <summary>
    /// Waits for the machine's measurement lock and holds it until disposed. Reports one progress line when it
    /// has to wait, naming the lock file: to <paramref name="progress"/>, or else on standard error, which the
    /// build task relays from the tool (a measurement deep in the adaptation loop has no progress of its own).
    /// </summary>
    public static IDisposable Acquire(IProgress<string>? progress = null, string? folder = null)
    {
        if (depth > 0) { depth++; return new Release(null); }
        var path = PathIn(folder);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        bool reported = false;
        for (int attempt = 0; ; attempt++)
        {
            try
            {
                // FileShare.None is an exclusive flock on Unix and a share-mode lock on Windows: both are released
                // by the OS if the process dies, so a crashed measurer never blocks the machine.
                var stream = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, 1, FileOptions.None);
                depth = 1;
                return new Release(stream);
            }
            catch (IOException)
            {
                // On standard error once per process: an adaptation waits before many of its measurements, and a build
                // log wants to know that its item waits, not each time (27 lines for three parallel projects).
                if (!reported && (progress != null || Interlocked.Exchange(ref stderrReported, 1) == 0))
                    Report(progress, $"waiting for another latency measurement on this machine to finish (lock {path})");
                reported = true;
                Thread.Sleep(Math.Min(200, 10 + attempt * 10));
            }
        }
    }

    static void Report(IProgress<string>? progress, string line)
    {
        if (progress != null) progress.Report(line);
        else Console.Error.WriteLine(line);
    }

    sealed class Release(FileStream? stream) : IDisposable
    {
        bool done;

        public void Dispose()
        {
            if (done) return;
            done = true;
            if (--depth == 0) stream?.Dispose();
        }
    }
}

using System.Security.Cryptography;
using System.Text.Json;
using Lamda.Onnx;

namespace Lamda.Build;

/// <summary>
/// Content-addressed store of adapted models: <c>models/KEY.onnx</c> with <c>models/KEY.json</c> recording its
/// SHA-256. Entries are written atomically (temporary file, then rename) and verified on every read; a per-key
/// lock file serializes parallel builds that need the same entry, so only one of them synthesizes it.
/// </summary>
internal sealed class ModelCache(string directory)
{
    public string Directory { get; } = directory;

    string ModelPath(string key) => Path.Combine(Directory, "models", key + ".onnx");
    /// <summary>The entry's architecture in LamdaText (what a lock file holds).</summary>
    public string TextPath(string key) => Path.Combine(Directory, "models", key + ".lamda");
    string EntryPath(string key) => Path.Combine(Directory, "models", key + ".json");

    public sealed record Entry(string Sha256, long Length, string LamdaVersion, string CreatedUtc, string Source);

    public enum Lookup { Hit, Miss, Corrupt }

    /// <summary>
    /// Checks an entry without changing anything. The entry file is written last, so a model without one is a
    /// store still in progress (or one that crashed): <see cref="Lookup.Miss"/>. Only an entry that exists but
    /// does not match its model is <see cref="Lookup.Corrupt"/>.
    /// </summary>
    public Lookup Check(string key)
    {
        var model = ModelPath(key);
        var entry = EntryPath(key);
        if (!File.Exists(entry)) return Lookup.Miss;
        try
        {
            var e = JsonSerializer.Deserialize<Entry>(File.ReadAllText(entry));
            if (e != null && File.Exists(model) && new FileInfo(model).Length == e.Length && Hash(model) == e.Sha256) return Lookup.Hit;
        }
        catch (Exception ex) when (ex is IOException or JsonException or UnauthorizedAccessException) { }
        return Lookup.Corrupt;
    }

    /// <summary>
    /// Deletes an entry and the temporary files of earlier attempts at it (a build killed while the tool ran
    /// leaves its partial output in tmp/); call only while holding the key's lock, so no live build owns them.
    /// </summary>
    public void Discard(string key)
    {
        TryDelete(EntryPath(key));
        TryDelete(ModelPath(key));
        TryDelete(TextPath(key));
        var tmp = Path.Combine(Directory, "tmp");
        if (System.IO.Directory.Exists(tmp))
            foreach (var pattern in new[] { key + ".*", "." + key + ".*" }) // the tool's own atomic-write temporaries start with '.'
                foreach (var leftover in System.IO.Directory.EnumerateFiles(tmp, pattern)) TryDelete(leftover);
    }

    /// <summary>Stores a finished model under the key (atomically) and returns the cached path.</summary>
    public string Store(string key, string builtModel, string? builtText, string source) =>
        Guarded("store the adapted model", () => StoreUnguarded(key, builtModel, builtText, source));

    string StoreUnguarded(string key, string builtModel, string? builtText, string source)
    {
        var model = ModelPath(key);
        System.IO.Directory.CreateDirectory(Path.GetDirectoryName(model)!);
        var info = new FileInfo(builtModel);
        var entry = new Entry(Hash(builtModel), info.Length, LamdaPaths.Version, DateTime.UtcNow.ToString("o"), source);
        if (builtText != null && File.Exists(builtText)) File.Move(builtText, TextPath(key), overwrite: true);
        File.Move(builtModel, model, overwrite: true);
        AtomicFile.WriteText(EntryPath(key), JsonSerializer.Serialize(entry));
        return model;
    }

    public string PathOf(string key) => ModelPath(key);

    /// <summary>A temporary path inside the cache for the tool to write into (same volume, so the final rename is atomic).</summary>
    public string TemporaryPath(string key)
    {
        var dir = Path.Combine(Directory, "tmp");
        Guarded("create its tmp folder", () => System.IO.Directory.CreateDirectory(dir));
        return Path.Combine(dir, $"{key}.{Environment.ProcessId}.{Guid.NewGuid():N}.onnx");
    }

    /// <summary>
    /// Takes the per-key lock, waiting for another build that holds it. Lock files are never deleted: deleting
    /// one on release would let a third build lock a new file under the same name while a second still holds
    /// the old one.
    /// </summary>
    /// <remarks>
    /// The lock is the open file itself (FileShare.None, an advisory lock the OS drops when its process dies),
    /// not the file's existence: a lock file left by a killed build blocks nobody. Only a sharing violation
    /// means "held by another build" and is waited for; any other failure (read-only or full cache) is a
    /// <see cref="ErrorCodes.WriteFailed"/> at once instead of a wait until the timeout.
    /// </remarks>
    public IDisposable Lock(string key, TimeSpan timeout)
    {
        var dir = Path.Combine(Directory, "locks");
        Guarded("create its locks folder", () => System.IO.Directory.CreateDirectory(dir));
        var path = Path.Combine(dir, key + ".lock");
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            try { return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, 1, FileOptions.None); }
            catch (IOException e) when (IsSharingViolation(e))
            {
                if (DateTime.UtcNow >= deadline)
                    throw new LamdaException(ErrorCodes.WriteFailed,
                        $"another build has held the cache lock '{path}' for {timeout.TotalMinutes:0} minutes; " +
                        "if no build is running, delete the file.");
                Thread.Sleep(200);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw Unwritable("take the lock " + path, e); }
        }
    }

    /// <summary>Windows reports ERROR_SHARING_VIOLATION or ERROR_LOCK_VIOLATION; Unix the errno of flock, EWOULDBLOCK (11).</summary>
    static bool IsSharingViolation(IOException e) =>
        OperatingSystem.IsWindows() ? (e.HResult & 0xFFFF) is 32 or 33 : e.HResult == 11;

    T Guarded<T>(string what, Func<T> action)
    {
        try { return action(); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw Unwritable(what, e); }
    }

    LamdaException Unwritable(string what, Exception e) => new(ErrorCodes.WriteFailed,
        $"the Lamda cache '{Directory}' cannot be written (could not {what}: {e.Message}). Free disk space, or set " +
        "LamdaCacheDirectory (or LAMDA_CACHE_DIR) to a writable folder.", e);

    static string Hash(string path)
    {
        using var s = File.OpenRead(path);
        return Convert.ToHexString(SHA256.HashData(s)).ToLowerInvariant();
    }

    static void TryDelete(string path)
    {
        try { if (File.Exists(path)) File.Delete(path); } catch (IOException) { }
    }
}

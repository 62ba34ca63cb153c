using Lamda.Adaptation;
using Lamda.Latency;
using Lamda.Onnx;
using Microsoft.Build.Framework;
using Task = Microsoft.Build.Utilities.Task;

namespace Lamda.Build;

/// <summary>
/// Adapts each <c>LamdaModel</c> item to its latency budget and device, through the content-addressed cache.
/// Synthesis runs in the <c>lamda</c> tool as a child process (as Grpc.Tools runs protoc): ONNX Runtime's native
/// code and long searches stay out of the long-lived MSBuild node. Errors name the project, the item and what to do;
/// each item ends with one summary line at the default verbosity.
/// </summary>
public sealed class LamdaAdapt : Task, ICancelableTask
{
    /// <summary>The LamdaModel items to adapt, with their metadata (Latency, Device, Data, Generator...).</summary>
    [Required] public ITaskItem[] Models { get; set; } = [];
    /// <summary>Cache folder; the per-user Lamda cache when empty.</summary>
    public string CacheDirectory { get; set; } = "";
    /// <summary>The lamda tool (an apphost or lamda.dll) that adapts a model out of the build process.</summary>
    [Required] public string ToolPath { get; set; } = "";
    /// <summary>The project being built; relative item paths (models, data folders, profiles) resolve against its folder.</summary>
    [Required] public string ProjectPath { get; set; } = "";
    /// <summary>Minutes to wait for another build that is synthesizing the same model.</summary>
    public int LockTimeoutMinutes { get; set; } = 30;

    /// <summary>The adapted models, one per LamdaModel item, for the targets to embed.</summary>
    [Output] public ITaskItem[] AdaptedModels { get; set; } = [];

    ToolProcess? tool;
    ItemLog itemLog = null!;

    /// <summary>Stops the running tool when the build is cancelled (Ctrl+C), so that no partial cache entry is left.</summary>
    public void Cancel() => tool?.Kill();

    /// <summary>Adapts every item (from the cache when its key is there) and reports errors with their codes; false on any error.</summary>
    public override bool Execute()
    {
        var folder = string.IsNullOrEmpty(CacheDirectory) ? Path.Combine(LamdaPaths.CacheDirectory, "build") : CacheDirectory;
        var cache = new ModelCache(folder);
        itemLog = new ItemLog(Log, ProjectPath);
        tool = new ToolProcess(Log);
        var requests = new ItemRequests(ProjectPath, itemLog);
        var adapted = new List<ITaskItem>();
        foreach (var item in Models)
        {
            if (tool.Cancelled) break;
            try
            {
                if (requests.From(item) is { } request && AdaptOne(item, request, cache)) adapted.Add(item);
            }
            catch (LamdaException e)
            {
                itemLog.Error(item, e.Code, e.Message);
            }
        }
        AdaptedModels = adapted.ToArray();
        return !Log.HasLoggedErrors && !tool.Cancelled;
    }

    bool AdaptOne(ITaskItem item, AdaptRequest request, ModelCache cache)
    {
        var warning = DeviceCatalog.BuiltIn.FirstOrDefault(p => p.Name == request.Device)?.UncalibratedWarning;
        bool uncalibrated = warning != null;
        if (uncalibrated)
            itemLog.Warn(item, "LAMDA050", $"{warning} The latency budget is checked against it; set Device=\"FILE\" on the item.");
        var key = CacheKey.Compute(request);
        var hit = cache.Check(key) == ModelCache.Lookup.Hit;
        if (hit) Log.LogMessage(MessageImportance.Normal, $"Lamda: {item.ItemSpec}: cache hit {key}");
        else if (!Synthesize(item, request, cache, key, uncalibrated, out hit)) return false;

        var lockPath = item.GetMetadata("LockPath");
        bool locked = string.Equals(item.GetMetadata("Lock"), "true", StringComparison.OrdinalIgnoreCase);
        if (locked && request.FromLock == null && File.Exists(cache.TextPath(key)))
        {
            File.Copy(cache.TextPath(key), lockPath);
            Log.LogMessage(MessageImportance.High,
                $"Lamda: wrote lock file {lockPath}; commit it to review the architecture, delete it to search again.");
        }
        var output = item.GetMetadata("OutputPath");
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(output))!);
        var temp = output + "." + Guid.NewGuid().ToString("N") + ".tmp";
        File.Copy(cache.PathOf(key), temp, overwrite: true);
        File.Move(temp, output, overwrite: true);
        LogSummary(item, cache.PathOf(key), hit);
        return true;
    }

    /// <summary>
    /// Runs the tool under the cache entry's lock; <paramref name="hit"/> tells whether a parallel build made the entry meanwhile.
    /// </summary>
    bool Synthesize(ITaskItem item, AdaptRequest request, ModelCache cache, string key, bool uncalibrated, out bool hit)
    {
        using var _ = cache.Lock(key, TimeSpan.FromMinutes(LockTimeoutMinutes));
        // Under the lock: another build may have finished the entry while this one waited, and only here
        // may a corrupt entry be judged and discarded.
        var status = cache.Check(key);
        hit = status == ModelCache.Lookup.Hit;
        if (hit)
        {
            Log.LogMessage(MessageImportance.Normal, $"Lamda: {item.ItemSpec}: cache hit {key} (made by a parallel build)");
            return true;
        }
        if (status == ModelCache.Lookup.Corrupt)
            itemLog.Warn(item, "LAMDA051", $"the cache entry {key} in '{cache.Directory}' was corrupt; it was discarded and is rebuilt.");
        cache.Discard(key);
        Log.LogMessage(MessageImportance.Normal,
            $"Lamda: adapting {item.ItemSpec} to {item.GetMetadata("Latency")} on {item.GetMetadata("Device")} (cache key {key})");
        var built = cache.TemporaryPath(key);
        var builtText = Path.ChangeExtension(built, ".lamda");
        if (!RunTool(item, request, built, builtText, skipCodes: uncalibrated ? ["LAMDA050"] : [])) return false;
        cache.Store(key, built, builtText, item.ItemSpec);
        return true;
    }

    bool RunTool(ITaskItem item, AdaptRequest request, string output, string text, IReadOnlyCollection<string> skipCodes)
    {
        if (!File.Exists(ToolPath))
            return itemLog.Error(item, "LAMDA052",
                $"the lamda tool was not found at '{ToolPath}'. Restore the Lamda.Build package, or set LamdaToolPath.");
        var messages = Path.ChangeExtension(output, ".messages.jsonl");
        var args = request.ToArguments().Concat(["-o", output, "--messages", messages]).ToList();
        if (request.FromLock == null) args.AddRange(["--write-lock", text]);
        try
        {
            int exit = tool!.Run(ToolPath, args);
            if (exit == -1)
            {
                Log.LogMessage(MessageImportance.High, $"Lamda: {item.ItemSpec}: cancelled; the lamda tool was stopped.");
                return false;
            }
            var reported = ToolMessage.ReadAll(messages);
            foreach (var w in reported.Where(m => m.Kind == ToolMessage.Warning && !skipCodes.Contains(m.Code))) itemLog.Warn(item, w.Code,
                w.Text);
            if (exit == 0 && File.Exists(output)) return true;
            var errors = reported.Where(m => m.Kind == ToolMessage.Error).ToList();
            if (errors.Count == 0) return itemLog.Error(item, ErrorCodes.RuntimeFailed,
                $"the lamda tool failed (exit code {exit}); see its output above.");
            foreach (var e in errors) itemLog.Error(item, e.Code, e.Text);
            return false;
        }
        finally
        {
            File.Delete(messages);
            if (!File.Exists(text) || tool!.Cancelled) File.Delete(text);
        }
    }

    /// <summary>
    /// One line per item at the default verbosity, from the provenance the tool stamped into the model: so a cache
    /// hit says as much as the build that made the entry.
    /// </summary>
    void LogSummary(ITaskItem item, string model, bool hit)
    {
        var provenance = ModelProvenance.Read(ModelFile.Load(model));
        var figures = provenance?.Summary() ?? "no provenance recorded in the model";
        Log.LogMessage(MessageImportance.High, $"Lamda: {item.ItemSpec} on {figures}; cache {(hit ? "hit" : "miss")}");
    }
}

using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Lamda.Adaptation;
using Lamda.Latency;
using Microsoft.Build.Framework;
using Task = Microsoft.Build.Utilities.Task;

namespace Lamda.Build;

/// <summary>
/// Adapts each <c>LamdaModel</c> item to its latency budget and device, through the content-addressed cache.
/// Synthesis runs in the <c>lamda</c> tool as a child process (as Grpc.Tools runs protoc): ONNX Runtime's native
/// code and long searches stay out of the long-lived MSBuild node. Errors name the project, the item and what to do.
/// </summary>
public sealed partial class LamdaAdapt : Task
{
    [Required] public ITaskItem[] Models { get; set; } = [];
    /// <summary>Cache folder; the per-user Lamda cache when empty.</summary>
    public string CacheDirectory { get; set; } = "";
    [Required] public string ToolPath { get; set; } = "";
    [Required] public string ProjectPath { get; set; } = "";
    /// <summary>Minutes to wait for another build that is synthesizing the same model.</summary>
    public int LockTimeoutMinutes { get; set; } = 30;

    [Output] public ITaskItem[] AdaptedModels { get; set; } = [];

    public override bool Execute()
    {
        var cache = new ModelCache(string.IsNullOrEmpty(CacheDirectory) ? Path.Combine(LamdaPaths.CacheDirectory, "build") : CacheDirectory);
        var adapted = new List<ITaskItem>();
        foreach (var item in Models)
        {
            try
            {
                if (AdaptOne(item, cache)) adapted.Add(item);
            }
            catch (LamdaException e)
            {
                Error(item, e.Code, e.Message);
            }
        }
        AdaptedModels = adapted.ToArray();
        return !Log.HasLoggedErrors;
    }

    bool AdaptOne(ITaskItem item, ModelCache cache)
    {
        var model = item.GetMetadata("FullPath");
        var output = item.GetMetadata("OutputPath");
        if (!File.Exists(model))
            return Error(item, ErrorCodes.FileNotFound, $"model file not found at '{model}'. Check the Include path of the LamdaModel item.");
        var latencyText = item.GetMetadata("Latency");
        if (string.IsNullOrWhiteSpace(latencyText))
            return Error(item, ErrorCodes.BadBudget, "has no Latency. Add Latency=\"5ms\" (units ms, us or s) to the LamdaModel item.");
        double latency;
        try { latency = LatencyBudget.ParseMs(latencyText); }
        catch (LamdaException e) { return Error(item, e.Code, e.Message + " Set the Latency metadata of the LamdaModel item."); }
        var device = item.GetMetadata("Device");
        var devicePath = ResolveDevice(item, device);
        if (devicePath == null) return false;
        if (DeviceCatalog.BuiltIn.FirstOrDefault(p => p.Name == devicePath)?.UncalibratedWarning is { } uncalibrated)
            Warning(item, "LAMDA050", $"{uncalibrated} The latency budget is checked against it; set Device=\"FILE\" on the item.");

        int seed = int.TryParse(item.GetMetadata("Seed"), NumberStyles.Integer, CultureInfo.InvariantCulture, out var s) ? s : 0;
        string? data = Optional(item, "Data"), maxDrop = Optional(item, "MaxAccuracyDrop");
        var generator = Optional(item, "Generator") ?? "search";
        string? dataPath = data == null ? null : Path.GetFullPath(data, Path.GetDirectoryName(ProjectPath)!);
        if (!ResolveGenerator(item, generator, out var llm, out var llmContext)) return false;
        bool locked = string.Equals(item.GetMetadata("Lock"), "true", StringComparison.OrdinalIgnoreCase);
        var lockPath = item.GetMetadata("LockPath");
        // An existing lock decides the architecture (no search); its content is part of the cache key.
        var fromLock = locked && File.Exists(lockPath) ? lockPath : null;
        var key = CacheKey.Compute(new CacheKey.Inputs(model, latency, devicePath, fromLock != null ? "lock:" + CacheKey.HashFile(fromLock) : generator, seed, maxDrop, dataPath,
            fromLock != null ? null : llm, llmContext));

        if (cache.Check(key) == ModelCache.Lookup.Hit)
            Log.LogMessage(MessageImportance.Normal, $"Lamda: {item.ItemSpec}: cache hit {key}");
        else
        {
            using var _ = cache.Lock(key, TimeSpan.FromMinutes(LockTimeoutMinutes));
            // Under the lock: another build may have finished the entry while this one waited, and only here
            // may a corrupt entry be judged and discarded.
            var status = cache.Check(key);
            if (status == ModelCache.Lookup.Hit)
                Log.LogMessage(MessageImportance.Normal, $"Lamda: {item.ItemSpec}: cache hit {key} (made by a parallel build)");
            else
            {
                if (status == ModelCache.Lookup.Corrupt)
                    Warning(item, "LAMDA051", $"the cache entry {key} in '{cache.Directory}' was corrupt; it was discarded and is rebuilt.");
                cache.Discard(key);
                Log.LogMessage(MessageImportance.Normal, $"Lamda: adapting {item.ItemSpec} to {latencyText} on {device} (cache key {key})");
                var built = cache.TemporaryPath(key);
                var builtText = Path.ChangeExtension(built, ".lamda");
                if (!RunTool(item, model, latency, devicePath, seed, generator, llm, llmContext, dataPath, maxDrop, built, builtText, fromLock)) return false;
                cache.Store(key, built, builtText, item.ItemSpec);
            }
        }
        if (locked && fromLock == null && File.Exists(cache.TextPath(key)))
        {
            File.Copy(cache.TextPath(key), lockPath);
            Log.LogMessage(MessageImportance.High, $"Lamda: wrote lock file {lockPath}; commit it to review the architecture, delete it to search again.");
        }
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(output))!);
        var temp = output + "." + Guid.NewGuid().ToString("N") + ".tmp";
        File.Copy(cache.PathOf(key), temp, overwrite: true);
        File.Move(temp, output, overwrite: true);
        return true;
    }

    string? ResolveDevice(ITaskItem item, string device)
    {
        if (string.IsNullOrWhiteSpace(device))
        {
            Error(item, ErrorCodes.UnknownDevice, $"has no Device. Known devices: {string.Join(", ", DeviceCatalog.Names)}; or the path of a profile file.");
            return null;
        }
        if (device.EndsWith(".json", StringComparison.OrdinalIgnoreCase) || device.Contains('/') || device.Contains('\\'))
        {
            var full = Path.GetFullPath(device, Path.GetDirectoryName(ProjectPath)!);
            if (!File.Exists(full)) { Error(item, ErrorCodes.FileNotFound, $"device profile '{device}' not found (looked at '{full}')."); return null; }
            return full;
        }
        if (!DeviceCatalog.Names.Contains(device))
        {
            Error(item, ErrorCodes.UnknownDevice, $"unknown device '{device}'. Known devices: {string.Join(", ", DeviceCatalog.Names)}; or the path of a profile file made with 'lamda device-profile'.");
            return null;
        }
        return device;
    }

    /// <summary>
    /// Checks Generator and, for <c>llm</c>, the GGUF named by LlmModel (relative to the project), so that a typo is
    /// reported against the item before any work starts.
    /// </summary>
    bool ResolveGenerator(ITaskItem item, string generator, out string? llmPath, out string? llmContext)
    {
        llmPath = llmContext = null;
        if (generator is not ("search" or "llm"))
            return Error(item, ErrorCodes.BadArgument, $"unknown Generator '{generator}'. Use Generator=\"search\" (the default) or Generator=\"llm\" with LlmModel=\"path/to/model.gguf\".");
        var llm = Optional(item, "LlmModel");
        if (generator == "search")
        {
            if (llm != null) Warning(item, "LAMDA053", $"LlmModel '{llm}' is ignored: it is used only with Generator=\"llm\".");
            return true;
        }
        if (llm == null)
            return Error(item, ErrorCodes.BadArgument, "Generator=\"llm\" needs LlmModel=\"path/to/model.gguf\" (a llama.cpp GGUF model; see the README, 'The LLM generator').");
        llmPath = Path.GetFullPath(llm, Path.GetDirectoryName(ProjectPath)!);
        if (!File.Exists(llmPath))
            return Error(item, ErrorCodes.FileNotFound, $"LlmModel '{llm}' not found (looked at '{llmPath}'). Give the path of a GGUF model, relative to the project.");
        llmContext = Optional(item, "LlmContext");
        if (llmContext != null && !(int.TryParse(llmContext, NumberStyles.Integer, CultureInfo.InvariantCulture, out var c) && c > 0))
            return Error(item, ErrorCodes.BadArgument, $"LlmContext '{llmContext}' is not a positive number of tokens.");
        return true;
    }

    bool RunTool(ITaskItem item, string model, double latency, string device, int seed, string generator, string? llm, string? llmContext, string? data, string? maxDrop, string output, string text, string? fromLock)
    {
        if (!File.Exists(ToolPath))
            return Error(item, "LAMDA052", $"the lamda tool was not found at '{ToolPath}'. Restore the Lamda.Build package, or set LamdaToolPath.");
        var args = new List<string> { ToolPath, "adapt", model, "--latency", latency.ToString("R", CultureInfo.InvariantCulture) + "ms", "--device", device, "-o", output, "--seed", seed.ToString(CultureInfo.InvariantCulture) };
        // A lock decides the architecture: no generator runs.
        if (fromLock != null) args.AddRange(["--from-lock", fromLock]);
        else
        {
            args.AddRange(["--write-lock", text, "--generator", generator]);
            if (llm != null) args.AddRange(["--llm-model", llm]);
            if (llmContext != null) args.AddRange(["--llm-context", llmContext]);
        }
        if (data != null) args.AddRange(["--data", data]);
        if (maxDrop != null) args.AddRange(["--max-accuracy-drop", maxDrop]);
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in args) start.ArgumentList.Add(a);
        using var process = Process.Start(start) ?? throw new LamdaException("LAMDA052", "could not start the lamda tool.");
        var errors = new List<(string Code, string Message)>();
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data == null) return;
            var m = ToolError().Match(e.Data);
            if (m.Success) lock (errors) errors.Add((m.Groups[1].Value, m.Groups[2].Value));
            else if (!e.Data.StartsWith("warning: device", StringComparison.Ordinal)) Log.LogMessage(MessageImportance.Normal, "Lamda: " + e.Data);
        };
        process.OutputDataReceived += (_, e) => { if (e.Data != null) Log.LogMessage(MessageImportance.Normal, "Lamda: " + e.Data); };
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();
        process.WaitForExit();
        if (process.ExitCode == 0 && File.Exists(output)) return true;
        if (errors.Count == 0) errors.Add(("LAMDA008", $"the lamda tool failed (exit code {process.ExitCode})."));
        foreach (var (code, message) in errors) Error(item, code, message);
        if (File.Exists(output)) File.Delete(output);
        return false;
    }

    [GeneratedRegex(@"error (LAMDA\d{3}|LT\d{3}): (.*)$")]
    private static partial Regex ToolError();

    static string? Optional(ITaskItem item, string name) => item.GetMetadata(name) is { Length: > 0 } v ? v : null;

    bool Error(ITaskItem item, string code, string message)
    {
        Log.LogError("Lamda", code, null, ProjectPath, 0, 0, 0, 0, $"LamdaModel '{item.ItemSpec}': {message}");
        return false;
    }

    void Warning(ITaskItem item, string code, string message) =>
        Log.LogWarning("Lamda", code, null, ProjectPath, 0, 0, 0, 0, $"LamdaModel '{item.ItemSpec}': {message}");
}

using System.Globalization;
using Lamda.Adaptation;
using Lamda.Latency;
using Microsoft.Build.Framework;

namespace Lamda.Build;

/// <summary>
/// Reads a <c>LamdaModel</c> item's metadata into an <see cref="AdaptRequest"/>, with paths resolved against the
/// project. Bad metadata is reported against the item, before any work starts, and gives no request.
/// </summary>
sealed class ItemRequests(string projectPath, ItemLog log)
{
    readonly string projectDirectory = Path.GetDirectoryName(projectPath)!;

    public AdaptRequest? From(ITaskItem item)
    {
        var model = item.GetMetadata("FullPath");
        if (!File.Exists(model))
            return log.Fail<AdaptRequest>(item, ErrorCodes.FileNotFound,
                $"model file not found at '{model}'. Check the Include path of the LamdaModel item.");
        var latencyText = item.GetMetadata("Latency");
        if (string.IsNullOrWhiteSpace(latencyText))
            return log.Fail<AdaptRequest>(item, ErrorCodes.BadBudget,
                "has no Latency. Add Latency=\"5ms\" (units ms, us or s) or Latency=\"50%\" to the LamdaModel item.");
        LatencyTarget latency;
        try { latency = LatencyBudget.Parse(latencyText); }
        catch (LamdaException e) { return log.Fail<AdaptRequest>(item, e.Code,
            e.Message + " Set the Latency metadata of the LamdaModel item."); }
        var device = ResolveDevice(item, item.GetMetadata("Device"));
        if (device == null) return null;
        var generator = Optional(item, "Generator") ?? "search";
        if (!ResolveGenerator(item, generator, out var llm, out var llmContext)) return null;
        int seed = int.TryParse(item.GetMetadata("Seed"), NumberStyles.Integer, CultureInfo.InvariantCulture, out var s) ? s : 0;
        var lockPath = item.GetMetadata("LockPath");
        bool locked = string.Equals(item.GetMetadata("Lock"), "true", StringComparison.OrdinalIgnoreCase);
        return new AdaptRequest
        {
            ModelPath = model,
            Latency = latency,
            Device = device,
            Generator = generator,
            Seed = seed,
            MaxAccuracyDrop = Optional(item, "MaxAccuracyDrop"),
            DataDirectory = Optional(item, "Data") is { } data ? Path.GetFullPath(data, projectDirectory) : null,
            LlmModel = llm,
            LlmContext = llmContext,
            InputShape = Optional(item, "InputShape"),
            // An existing lock decides the architecture (no search).
            FromLock = locked && File.Exists(lockPath) ? lockPath : null,
            Train = !string.Equals(item.GetMetadata("Train"), "false", StringComparison.OrdinalIgnoreCase),
            TrainTime = Optional(item, "TrainTime"),
            TrainSteps = Optional(item, "TrainSteps") is { } steps
                && int.TryParse(steps, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) ? n : null,
        };
    }

    string? ResolveDevice(ITaskItem item, string device)
    {
        var known = string.Join(", ", DeviceCatalog.Names);
        if (string.IsNullOrWhiteSpace(device))
            return log.Fail<string>(item, ErrorCodes.UnknownDevice,
                $"has no Device. Known devices: {known}; or the path of a profile file.");
        if (device.EndsWith(".json", StringComparison.OrdinalIgnoreCase) || device.Contains('/') || device.Contains('\\'))
        {
            var full = Path.GetFullPath(device, projectDirectory);
            return File.Exists(full) ? full : log.Fail<string>(item, ErrorCodes.FileNotFound,
                $"device profile '{device}' not found (looked at '{full}').");
        }
        if (!DeviceCatalog.Names.Contains(device))
            return log.Fail<string>(item, ErrorCodes.UnknownDevice,
                $"unknown device '{device}'. Known devices: {known}; or the path of a profile file made with 'lamda device-profile'.");
        return device;
    }

    /// <summary>Checks Generator and, for <c>llm</c>, the GGUF named by LlmModel (relative to the project).</summary>
    bool ResolveGenerator(ITaskItem item, string generator, out string? llmPath, out string? llmContext)
    {
        llmPath = llmContext = null;
        if (generator is not ("search" or "llm"))
            return log.Error(item, ErrorCodes.BadArgument,
                $"unknown Generator '{generator}'. Use Generator=\"search\" (the default) or Generator=\"llm\" "
                + "with LlmModel=\"path/to/model.gguf\".");
        var llm = Optional(item, "LlmModel");
        if (generator == "search")
        {
            if (llm != null) log.Warn(item, "LAMDA053", $"LlmModel '{llm}' is ignored: it is used only with Generator=\"llm\".");
            return true;
        }
        if (llm == null)
            return log.Error(item, ErrorCodes.BadArgument,
                "Generator=\"llm\" needs LlmModel=\"path/to/model.gguf\" (a llama.cpp GGUF model; see the README, 'The LLM generator').");
        llmPath = Path.GetFullPath(llm, projectDirectory);
        if (!File.Exists(llmPath))
            return log.Error(item, ErrorCodes.FileNotFound,
                $"LlmModel '{llm}' not found (looked at '{llmPath}'). Give the path of a GGUF model, relative to the project.");
        llmContext = Optional(item, "LlmContext");
        if (llmContext != null && !(int.TryParse(llmContext, NumberStyles.Integer, CultureInfo.InvariantCulture, out var c) && c > 0))
            return log.Error(item, ErrorCodes.BadArgument, $"LlmContext '{llmContext}' is not a positive number of tokens.");
        return true;
    }

    static string? Optional(ITaskItem item, string name) => item.GetMetadata(name) is { Length: > 0 } v ? v : null;
}

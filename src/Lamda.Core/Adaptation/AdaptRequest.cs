using System.Globalization;

namespace Lamda.Adaptation;

/// <summary>
/// One adaptation as a user asks for it, in the one shape that the build task and the <c>lamda adapt</c> command
/// share: the task builds it from item metadata, derives the cache key from it and passes it to the tool as
/// <see cref="ToArguments"/>; the tool builds the same request from those options. Paths are absolute.
/// </summary>
internal sealed record AdaptRequest
{
    public required string ModelPath { get; init; }
    public required LatencyTarget Latency { get; init; }
    /// <summary>A built-in device name, <c>host</c>, or the full path of a profile file.</summary>
    public required string Device { get; init; }
    public string Generator { get; init; } = "search";
    public int Seed { get; init; }
    /// <summary>As written (<c>2%</c>); null when accuracy is not checked.</summary>
    public string? MaxAccuracyDrop { get; init; }
    public string? DataDirectory { get; init; }
    public string? LlmModel { get; init; }
    public string? LlmContext { get; init; }
    /// <summary>As written (<c>1,3,640,640</c> or <c>x=1,3,640,640 y=1,4</c>); null for a model with static inputs.</summary>
    public string? InputShape { get; init; }
    /// <summary>A lock file that decides the architecture (no generator runs).</summary>
    public string? FromLock { get; init; }
    /// <summary>Fine-tune the accepted candidate on the data's calibration inputs (with data only).</summary>
    public bool Train { get; init; } = true;
    /// <summary>The fine-tuning's time budget as written (<c>3m</c>); null for the default.</summary>
    public string? TrainTime { get; init; }
    /// <summary>The fine-tuning's step budget; null for the default.</summary>
    public int? TrainSteps { get; init; }

    /// <summary>The options of <c>lamda adapt</c> that make this request (without the output paths).</summary>
    public IReadOnlyList<string> ToArguments()
    {
        var args = new List<string>
        {
            "adapt", ModelPath, "--latency", Latency.ToString(), "--device", Device, "--seed", Seed.ToString(CultureInfo.InvariantCulture),
        };
        if (FromLock != null) args.AddRange(["--from-lock", FromLock]);
        else
        {
            args.AddRange(["--generator", Generator]);
            if (LlmModel != null) args.AddRange(["--llm-model", LlmModel]);
            if (LlmContext != null) args.AddRange(["--llm-context", LlmContext]);
        }
        if (DataDirectory != null) args.AddRange(["--data", DataDirectory]);
        if (MaxAccuracyDrop != null) args.AddRange(["--max-accuracy-drop", MaxAccuracyDrop]);
        if (!Train) args.Add("--no-train");
        if (TrainTime != null) args.AddRange(["--train-time", TrainTime]);
        if (TrainSteps is { } steps) args.AddRange(["--train-steps", steps.ToString(CultureInfo.InvariantCulture)]);
        if (InputShape != null) args.AddRange([InputShapes.Option, InputShape]);
        return args;
    }
}

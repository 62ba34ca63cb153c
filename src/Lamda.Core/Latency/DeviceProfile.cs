using System.Text.Json;
using System.Text.Json.Serialization;
using Lamda.Onnx;

namespace Lamda.Latency;

/// <summary>Where a number came from: measured on the device (Lamda version, date, machine) or a cited public spec.</summary>
public sealed record Provenance
{
    /// <summary>"measured" or "spec".</summary>
    public string Method { get; init; } = "spec";
    public string? LamdaVersion { get; init; }
    public string? OnnxRuntimeVersion { get; init; }
    public string? Date { get; init; }
    public string? Machine { get; init; }
    /// <summary>For spec numbers: the public source they come from.</summary>
    public string? Reference { get; init; }
    public string? Notes { get; init; }
}

public sealed record ExecutionSettings
{
    public string Provider { get; init; } = "CPU";
    public int Threads { get; init; } = 1;
}

/// <summary>Public hardware figures, each with its source; used by uncalibrated (spec) profiles.</summary>
public sealed record HardwareSpec
{
    public int Cores { get; init; }
    public double PeakGflops { get; init; }
    public double MemoryBandwidthGBs { get; init; }
    public string? Processor { get; init; }
    public string Source { get; init; } = "";
}

/// <summary>
/// Latency model of one kernel class: milliseconds = sum of coefficients times features
/// [1, aligned MACs, misaligned MACs, input, output, weight elements] (millions), with its own fit quality
/// and provenance.
/// </summary>
public sealed record KernelModel
{
    public double[] Coefficients { get; init; } = new double[Kernel.FeatureCount];
    public int Samples { get; init; }
    /// <summary>Mean absolute percentage error of the fit on the kernel suite (measured profiles).</summary>
    public double? FitMape { get; init; }
    public string Provenance { get; init; } = "";
    /// <summary>
    /// Measured profiles: trees over the kernel's descriptors that predict the natural log of the ratio between
    /// what the kernel costs in context and what the linear model says (null: the linear model alone).
    /// </summary>
    public BoostedTrees? Correction { get; init; }

    /// <summary>Largest correction applied, as a log ratio: the trees refine the linear model, never replace it.</summary>
    public const double MaxLogCorrection = 1.5;

    public double Predict(double[] features)
    {
        double t = 0;
        for (int i = 0; i < Coefficients.Length && i < features.Length; i++) t += Coefficients[i] * features[i];
        return Math.Max(0, t);
    }

    /// <param name="kernel">the kernel to predict</param>
    /// <param name="channels">the channel granularity the kernel's features are computed with</param>
    /// <param name="modelMWeights">weights of the whole model the kernel runs in (millions)</param>
    public double Predict(Kernel kernel, ChannelGranularity channels, double modelMWeights)
    {
        double ms = Predict(kernel.Features(channels));
        if (Correction != null) ms *= Math.Exp(Math.Clamp(Correction.Predict(kernel.Descriptors(channels, modelMWeights)), -MaxLogCorrection, MaxLogCorrection));
        return ms;
    }
}

/// <summary>
/// How kernel latencies compose into whole-model latency:
/// ms = OverheadMs + Scale * sum(kernels) + ReorderMsPerMElement * reordered elements + NodeMs * kernels.
/// </summary>
public sealed record Composition
{
    public double Scale { get; init; } = 1;
    /// <summary>Milliseconds per million elements that cross between the blocked and the plain layout (reorders).</summary>
    public double ReorderMsPerMElement { get; init; }
    /// <summary>Milliseconds per kernel the runtime dispatches, beyond what the kernel models cover (the executor's own work).</summary>
    public double NodeMs { get; init; }
    public double OverheadMs { get; init; }
    public int Samples { get; init; }
    public string Provenance { get; init; } = "";
}

/// <summary>
/// A device as Lamda knows it: how models run there and the parameters of the latency model, with the
/// provenance of every number. Stored as JSON (docs/latency.md has the schema).
/// </summary>
public sealed record DeviceProfile
{
    public const string CurrentSchema = "lamda-device-profile/1";

    public string Schema { get; init; } = CurrentSchema;
    public string Name { get; init; } = "";
    public string Description { get; init; } = "";
    /// <summary>True when the latency model was fitted to measurements taken on the device itself.</summary>
    public bool Calibrated { get; init; }
    public ExecutionSettings Execution { get; init; } = new();
    public HardwareSpec? Hardware { get; init; }
    /// <summary>Channel tiles and blocks of the runtime's convolution kernels on this device.</summary>
    public ChannelGranularity Channels { get; init; } = ChannelGranularity.None;
    public Provenance Provenance { get; init; } = new();
    public Dictionary<string, KernelModel> Kernels { get; init; } = [];
    public Composition Composition { get; init; } = new();

    /// <summary>Shown wherever an uncalibrated profile is used.</summary>
    public string Label => Calibrated ? "calibrated" : "uncalibrated estimate";

    /// <summary>The one warning for an uncalibrated profile (report, CLI and build task), or null when calibrated.</summary>
    public string? UncalibratedWarning => Calibrated ? null
        : $"device '{Name}' uses an uncalibrated estimate from public specs; for real figures, run 'lamda device-profile -o FILE' "
          + "on the device and use FILE as the device.";

    static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    public void Save(string path) => AtomicFile.WriteText(path, ToJson() + "\n");

    public static DeviceProfile Parse(string json, string displayName)
    {
        DeviceProfile? p;
        try { p = JsonSerializer.Deserialize<DeviceProfile>(json, Json); }
        catch (JsonException e)
        {
            throw new LamdaException(ErrorCodes.BadProfile, $"{displayName}: not a valid device profile ({e.Message}). Re-create it with 'lamda device-profile -o FILE' on the device.", e);
        }
        if (p == null) throw new LamdaException(ErrorCodes.BadProfile, $"{displayName}: empty device profile. Re-create it with 'lamda device-profile'.");
        p.Validate(displayName);
        return p;
    }

    public static DeviceProfile Load(string path)
    {
        if (!File.Exists(path)) throw new LamdaException(ErrorCodes.FileNotFound, $"{path}: device profile not found.");
        return Parse(File.ReadAllText(path), path);
    }

    void Validate(string displayName)
    {
        void Fail(string what) => throw new LamdaException(ErrorCodes.BadProfile, $"{displayName}: {what}. Re-create the profile with 'lamda device-profile -o FILE' on the device.");
        if (Schema != CurrentSchema) Fail($"unsupported schema '{Schema}' (this Lamda reads {CurrentSchema})");
        if (string.IsNullOrWhiteSpace(Name)) Fail("the profile has no name");
        if (Execution.Threads < 1) Fail("execution.threads must be at least 1");
        if (Channels is null || Channels.OutputTile < 1 || Channels.InputBlock < 1 || Channels.DepthwiseBlock < 1) Fail("channels.outputTile, inputBlock and depthwiseBlock must be at least 1");
        if (Kernels.Count == 0) Fail("the profile has no kernel models");
        foreach (var (cls, m) in Kernels)
        {
            if (m.Coefficients is not { Length: Kernel.FeatureCount }) Fail($"kernel model '{cls}' must have {Kernel.FeatureCount} coefficients");
            if (m.Coefficients.Any(c => !double.IsFinite(c) || c < 0)) Fail($"kernel model '{cls}' has a negative or non-finite coefficient");
            if (m.Correction is { } t && (!double.IsFinite(t.LearningRate) || !double.IsFinite(t.Bias) || t.Trees is null || t.Trees.Any(tree => tree is null || !tree.IsWellFormed(Kernel.DescriptorCount))))
                Fail($"kernel model '{cls}' has a malformed correction (trees must be complete, with finite values and features below {Kernel.DescriptorCount})");
        }
        if (!double.IsFinite(Composition.Scale) || Composition.Scale <= 0 || !double.IsFinite(Composition.OverheadMs) || !double.IsFinite(Composition.NodeMs)
            || !double.IsFinite(Composition.ReorderMsPerMElement) || Composition.ReorderMsPerMElement < 0)
            Fail("composition must have a positive scale, a non-negative reorder cost and finite overheads");
    }
}

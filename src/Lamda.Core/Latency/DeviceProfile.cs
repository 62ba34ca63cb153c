using System.Text.Json;
using System.Text.Json.Serialization;
using Lamda.Onnx;

namespace Lamda.Latency;

/// <summary>Where a number came from: measured on the device (Lamda version, date, machine) or a cited public spec.</summary>
public sealed record Provenance
{
    /// <summary>"measured" or "spec".</summary>
    public string Method { get; init; } = "spec";
    /// <summary>The Lamda version that made the profile.</summary>
    public string? LamdaVersion { get; init; }
    /// <summary>The ONNX Runtime version the profile was measured with.</summary>
    public string? OnnxRuntimeVersion { get; init; }
    /// <summary>Widest SIMD extension of the CPU the profile was measured on (AVX2, AVX-512, NEON...).</summary>
    public string? Isa { get; init; }
    /// <summary>When the profile was made (ISO 8601).</summary>
    public string? Date { get; init; }
    /// <summary>The machine it was measured on (host name, CPU model).</summary>
    public string? Machine { get; init; }
    /// <summary>For spec numbers: the public source they come from.</summary>
    public string? Reference { get; init; }
    /// <summary>Anything else a reader of the profile should know.</summary>
    public string? Notes { get; init; }
}

/// <summary>How ONNX Runtime is set up when a profile is measured and used.</summary>
public sealed record ExecutionSettings
{
    /// <summary>The execution provider (CPU).</summary>
    public string Provider { get; init; } = "CPU";
    /// <summary>Intra-op threads of the sessions.</summary>
    public int Threads { get; init; } = 1;
}

/// <summary>Public hardware figures, each with its source; used by uncalibrated (spec) profiles.</summary>
public sealed record HardwareSpec
{
    /// <summary>CPU cores.</summary>
    public int Cores { get; init; }
    /// <summary>Peak FP32 compute in GFLOP/s.</summary>
    public double PeakGflops { get; init; }
    /// <summary>Peak memory bandwidth in GB/s.</summary>
    public double MemoryBandwidthGBs { get; init; }
    /// <summary>The processor, as its data sheet names it.</summary>
    public string? Processor { get; init; }
    /// <summary>The public documents the figures come from, and what was assumed.</summary>
    public string Source { get; init; } = "";
}

/// <summary>
/// Latency model of one kernel class: milliseconds = coefficients dotted with the kernel's
/// <see cref="KernelFeatures"/> (in <see cref="KernelFeatures.ToVector"/>'s order), with its own fit quality
/// and provenance.
/// </summary>
public sealed record KernelModel
{
    /// <summary>The linear model's coefficients: a constant, then one per feature.</summary>
    public double[] Coefficients { get; init; } = new double[Kernel.FeatureCount];
    /// <summary>Kernels of the suite the model was fitted on (0 for spec profiles).</summary>
    public int Samples { get; init; }
    /// <summary>Mean absolute percentage error of the fit on the kernel suite (measured profiles).</summary>
    public double? FitMape { get; init; }
    /// <summary>Where the coefficients come from, for reports.</summary>
    public string Provenance { get; init; } = "";
    /// <summary>
    /// Measured profiles: trees over the kernel's descriptors that predict the natural log of the ratio between
    /// what the kernel costs in context and what the linear model says (null: the linear model alone).
    /// </summary>
    public BoostedTrees? Correction { get; init; }

    /// <summary>Largest correction applied, as a log ratio: the trees refine the linear model, never replace it.</summary>
    public const double MaxLogCorrection = 1.5;

    /// <summary>Milliseconds under the linear model alone (never negative).</summary>
    public double Predict(KernelFeatures features) => Math.Max(0, features.Dot(Coefficients));

    /// <param name="kernel">the kernel to predict</param>
    /// <param name="channels">the channel granularity the kernel's features are computed with</param>
    /// <param name="footprint">what a run of the whole model the kernel runs in touches</param>
    /// <param name="cache">what a core of the device caches</param>
    public double Predict(Kernel kernel, ChannelGranularity channels, ModelFootprint footprint, CoreCache cache)
    {
        double ms = Predict(kernel.Features(channels, cache));
        if (Correction != null) ms *=
            Math.Exp(Math.Clamp(Correction.Predict(kernel.Descriptors(channels, footprint)), -MaxLogCorrection, MaxLogCorrection));
        return ms;
    }
}

/// <summary>What a profile's calibration says about its own quality, and the reference it was measured against.</summary>
public sealed record CalibrationCheck
{
    /// <summary>Generated networks kept out of every fit, and the profile's errors on them.</summary>
    public int HeldOutNetworks { get; init; }
    /// <summary>Mean absolute percentage error on the held-out networks.</summary>
    public double HeldOutMape { get; init; }
    /// <summary>Fraction of the held-out networks predicted within 10%.</summary>
    public double HeldOutWithin10 { get; init; }
    /// <summary>Median relative spread of the interleaved rounds during calibration (see <see cref="Comparison.Noise"/>).</summary>
    public double Noise { get; init; }
    /// <summary>True when calibration ran on a noisy machine: its figures should be rebuilt on a quiet one.</summary>
    public bool Noisy { get; init; }
    /// <summary>The fixed reference network's latency at calibration (ms): a cached profile is checked against it.</summary>
    public double ReferenceMs { get; init; }
    /// <summary>
    /// The reference network's figure every timing of the profile was put on (ms, <see cref="ProfileBuilder.Yardstick"/>): a
    /// prediction stands for its ratio to the reference network times this. 0 in profiles made before it was stored.
    /// </summary>
    public double YardstickMs { get; init; }
}

/// <summary>
/// A device as Lamda knows it: how models run there and the parameters of the latency model, with the
/// provenance of every number. Stored as JSON (docs/latency.md has the schema).
/// </summary>
public sealed record DeviceProfile
{
    /// <summary>
    /// Bumped whenever a feature, a coefficient's meaning or the composition changes (2: channel blocks from ORT's layout;
    /// 3: traffic beyond the cache, <see cref="KernelFeatures.BeyondCache"/>; 4: rows copied to columns off the blocked layout,
    /// <see cref="KernelFeatures.PlainRows"/>; 5: a blocked convolution's work on padding rows apart,
    /// <see cref="KernelFeatures.PaddedWork"/>; 6: reordered elements beyond the cache priced apart,
    /// <see cref="Composition.ReorderBeyondCacheMsPerMElement"/>; 7: the long-run term's doublings counted up to the
    /// longest calibration network, <see cref="Composition.LongRunCapMs"/>; 8: a plain convolution's columns beyond the
    /// first-level cache, <see cref="KernelFeatures.ColumnsBeyondL1"/>, and the cache's size, <see cref="L1Bytes"/>).
    /// </summary>
    public const string CurrentSchema = "lamda-device-profile/8";

    /// <summary>
    /// Earlier schemas still read, with the coefficients they lack, so that their predictions are what they were: no cost for
    /// traffic beyond the cache (added in 3) or rows copied to columns (4), and work on padding rows at the price of the rest
    /// of the work (5), which is how they counted it; no price apart for reordered elements beyond the cache (6), and no
    /// limit to the long-run term's doublings (7): those composition terms are absent from their files and read as zero; and
    /// no price for columns beyond the first-level cache (8). A device profile made on a board stays usable.
    /// Each maps to the number of coefficients its kernel models have.
    /// </summary>
    static readonly Dictionary<string, int> EarlierSchemas = new()
    {
        ["lamda-device-profile/2"] = Kernel.FeatureCount - 4,
        ["lamda-device-profile/3"] = Kernel.FeatureCount - 3,
        ["lamda-device-profile/4"] = Kernel.FeatureCount - 2,
        ["lamda-device-profile/5"] = Kernel.FeatureCount - 1,
        ["lamda-device-profile/6"] = Kernel.FeatureCount - 1,
        ["lamda-device-profile/7"] = Kernel.FeatureCount - 1,
    };

    // Where the padded work's coefficient is, and the aligned work's whose price it takes in an earlier schema (the order
    // is KernelFeatures'; its names are the one list of it).
    static readonly int PaddedWorkIndex = Array.IndexOf(KernelFeatures.Names, "paddedWork"),
        AlignedWorkIndex = Array.IndexOf(KernelFeatures.Names, "alignedWork");

    /// <summary>Per-core cache assumed where a profile does not say (1 MiB: the L2 of a core of recent x86 and Arm servers).</summary>
    public const long DefaultCacheBytes = 1 << 20;

    /// <summary>First-level data cache assumed where a profile does not say (32 KiB, as most x86 and Arm cores have).</summary>
    public const long DefaultL1Bytes = 32 << 10;

    /// <summary>Schemas this Lamda recognizes but no longer reads, with why.</summary>
    static readonly Dictionary<string, string> RetiredSchemas = new()
    {
        ["lamda-device-profile/1"] =
            "it was written by an older Lamda whose channel blocks came from timing and whose composition could be negative",
    };

    /// <summary>The profile file's schema version; files of another version are refused with a clear error.</summary>
    public string Schema { get; init; } = CurrentSchema;
    /// <summary>The device name reports and cache keys use.</summary>
    public string Name { get; init; } = "";
    /// <summary>What the device is, for people.</summary>
    public string Description { get; init; } = "";
    /// <summary>True when the latency model was fitted to measurements taken on the device itself.</summary>
    public bool Calibrated { get; init; }
    /// <summary>How ONNX Runtime runs models on the device (provider, threads).</summary>
    public ExecutionSettings Execution { get; init; } = new();
    /// <summary>The public hardware figures of a spec profile; null for measured profiles.</summary>
    public HardwareSpec? Hardware { get; init; }
    /// <summary>Channel tiles and blocks of the runtime's convolution kernels on this device.</summary>
    public ChannelGranularity Channels { get; init; } = ChannelGranularity.None;
    /// <summary>The cache of one core (its L2, in bytes): tensors larger than this are read and written at another cost.</summary>
    public long CacheBytes { get; init; } = DefaultCacheBytes;

    /// <summary>The first-level data cache of one core, in bytes.</summary>
    public long L1Bytes { get; init; } = DefaultL1Bytes;

    /// <summary><see cref="CacheBytes"/> in millions of float32 elements, the unit of the kernel features.</summary>
    [JsonIgnore]
    public double CacheMElements => CacheBytes / 4e6;

    /// <summary>What a core caches, in the kernel features' units.</summary>
    [JsonIgnore]
    public CoreCache Cache => new(CacheMElements, L1Bytes / 4e6);

    /// <summary>How the profile was made and from what.</summary>
    public Provenance Provenance { get; init; } = new();
    /// <summary>The latency model of each kernel class (<see cref="KernelClass"/>).</summary>
    public Dictionary<string, KernelModel> Kernels { get; init; } = [];
    /// <summary>How kernels' predictions add up to a model's latency.</summary>
    public Composition Composition { get; init; } = new();
    /// <summary>Calibrated profiles: held-out error, noise and the reference latency (null for spec profiles).</summary>
    public CalibrationCheck? Check { get; init; }

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

    /// <summary>The profile as the JSON a profile file holds.</summary>
    public string ToJson() => JsonSerializer.Serialize(this, Json);

    /// <summary>Writes the profile to <paramref name="path"/> atomically (a reader never sees half a file).</summary>
    public void Save(string path) => AtomicFile.WriteText(path, ToJson() + "\n");

    /// <summary>
    /// Reads a profile from JSON; invalid content or another schema is a coded error naming <paramref name="displayName"/>.
    /// </summary>
    public static DeviceProfile Parse(string json, string displayName)
    {
        DeviceProfile? p;
        try { p = JsonSerializer.Deserialize<DeviceProfile>(json, Json); }
        catch (JsonException e)
        {
            throw new LamdaException(ErrorCodes.BadProfile,
                $"{displayName}: not a valid device profile ({e.Message}). Re-create it with 'lamda device-profile -o FILE' on the device.",
                e);
        }
        if (p == null) throw new LamdaException(
            ErrorCodes.BadProfile, $"{displayName}: empty device profile. Re-create it with 'lamda device-profile'.");
        if (EarlierSchemas.TryGetValue(p.Schema, out int count)) p = p.WithFeaturesAdded(count);
        p.Validate(displayName);
        return p;
    }

    /// <summary>Reads the profile file at <paramref name="path"/> (see <see cref="Parse"/>).</summary>
    public static DeviceProfile Load(string path)
    {
        if (!File.Exists(path)) throw new LamdaException(ErrorCodes.FileNotFound, $"{path}: device profile not found.");
        return Parse(File.ReadAllText(path), path);
    }

    /// <summary>A profile of an earlier schema whose models have <paramref name="count"/> coefficients, in the current schema
    /// (<see cref="EarlierSchemas"/>).</summary>
    DeviceProfile WithFeaturesAdded(int count) => this with
    {
        Schema = CurrentSchema,
        Kernels = Kernels.ToDictionary(kv => kv.Key, kv => kv.Value with
        {
            Coefficients = kv.Value.Coefficients is { } c && c.Length == count ? Extended(c) : kv.Value.Coefficients,
        }),
    };

    static double[] Extended(double[] c)
    {
        var extended = new double[Kernel.FeatureCount];
        c.CopyTo(extended, 0);
        if (c.Length <= PaddedWorkIndex) extended[PaddedWorkIndex] = c[AlignedWorkIndex];
        return extended;
    }

    void Validate(string displayName)
    {
        void Fail(string what)
            => throw new LamdaException(
            ErrorCodes.BadProfile,
            $"{displayName}: {what}. Re-create the profile with 'lamda device-profile -o FILE' on the device.");
        if (RetiredSchemas.TryGetValue(Schema, out var why))
            Fail($"schema '{Schema}' is no longer read ({why}; this Lamda reads {CurrentSchema})");
        if (Schema != CurrentSchema) Fail($"unsupported schema '{Schema}' (this Lamda reads {CurrentSchema})");
        if (string.IsNullOrWhiteSpace(Name)) Fail("the profile has no name");
        if (Execution.Threads < 1) Fail("execution.threads must be at least 1");
        if (CacheBytes < 1024) Fail("cacheBytes must be at least 1024");
        if (L1Bytes < 1024) Fail("l1Bytes must be at least 1024");
        if (Channels is null || Channels.OutputTile < 1 || Channels.InputBlock < 1 || Channels.DepthwiseBlock < 1)
            Fail("channels.outputTile, inputBlock and depthwiseBlock must be at least 1");
        if (Kernels.Count == 0) Fail("the profile has no kernel models");
        foreach (var (cls, m) in Kernels)
        {
            if (m.Coefficients is not { Length: Kernel.FeatureCount })
                Fail($"kernel model '{cls}' must have {Kernel.FeatureCount} coefficients");
            if (m.Coefficients.Any(c => !double.IsFinite(c) || c < 0))
                Fail($"kernel model '{cls}' has a negative or non-finite coefficient");
            if (m.Correction is { } t
                && (!double.IsFinite(t.LearningRate) || !double.IsFinite(t.Bias) || t.Trees is null
                || t.Trees.Any(tree => tree is null || !tree.IsWellFormed(Kernel.DescriptorCount))))
                Fail($"kernel model '{cls}' has a malformed correction (trees must be complete, with finite values and features below " +
                    $"{Kernel.DescriptorCount})");
        }
        if (Composition is null || !Composition.IsPhysical)
            Fail("composition must have a positive scale and finite, non-negative reorder, per-kernel and fixed costs");
    }
}

/// <summary>What one core of a device caches, in millions of float32 elements (the kernel features' unit).</summary>
/// <param name="MElements">its own largest level (<see cref="DeviceProfile.CacheBytes"/>)</param>
/// <param name="L1MElements">its first-level data cache (<see cref="DeviceProfile.L1Bytes"/>)</param>
public readonly record struct CoreCache(double MElements, double L1MElements = DeviceProfile.DefaultL1Bytes / 4e6);

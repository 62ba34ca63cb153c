using System.Text.Json;

namespace Lamda.Latency;

/// <summary>
/// The devices Lamda knows by name, and resolution of a device argument: a built-in name, <c>host</c>, or a
/// path to a profile file.
/// </summary>
public static class DeviceCatalog
{
    /// <summary>The device name of this machine: measured, and calibrated on first use.</summary>
    public const string Host = "host";

    /// <summary>Built-in devices other than host, from public specifications (uncalibrated estimates).</summary>
    public static IReadOnlyList<DeviceProfile> BuiltIn => builtIn.Value;

    // Lazy: the profiles are derived from the efficiency table below, which must be initialized first.
    static readonly Lazy<IReadOnlyList<DeviceProfile>> builtIn =
        new(() => ReadSpecs().Select(d => SpecProfile(d.Name, d.Description, d.Hardware, d.OverheadMs, d.Channels)).ToList());

    /// <summary>One built-in device as BuiltInDevices.json lists it: public figures and where they come from.</summary>
    sealed record DeviceSpec(string Name, string Description, HardwareSpec Hardware, double OverheadMs, ChannelGranularity? Channels);

    /// <summary>The built-in devices' figures are data, kept in a JSON resource beside this file.</summary>
    static List<DeviceSpec> ReadSpecs()
    {
        using var stream = typeof(DeviceCatalog).Assembly.GetManifestResourceStream("Lamda.Latency.BuiltInDevices.json")
            ?? throw new InvalidOperationException("the built-in device table is not embedded in Lamda.Core");
        var options = new JsonSerializerOptions { PropertyNamingPolicy = JsonNamingPolicy.CamelCase };
        return JsonSerializer.Deserialize<List<DeviceSpec>>(stream, options)!;
    }

    /// <summary>Fraction of peak compute each kernel class reaches in ONNX Runtime's CPU kernels (an assumption, documented in
    /// docs/latency.md).</summary>
    static readonly Dictionary<string, double> ComputeEfficiency = new()
    {
        [KernelClass.Conv] = 0.45, [KernelClass.Pointwise] = 0.55, [KernelClass.Depthwise] = 0.08, [KernelClass.GroupConv] = 0.2,
        [KernelClass.ConvTranspose] = 0.3, [KernelClass.Gemm] = 0.5, [KernelClass.MatMul] = 0.3,
    };

    const double MemoryEfficiency = 0.5;
    /// <summary>Assumed slowdown per MAC when channels miss the SIMD block (measured ~2-3x on x86 hosts).</summary>
    const double MisalignedPenalty = 2.0;

    /// <summary>
    /// A roofline-style linear model from public figures: compute time at the class's efficiency plus memory
    /// time for inputs, outputs and weights at half the peak bandwidth, plus a per-kernel overhead.
    /// </summary>
    static DeviceProfile
        SpecProfile(string name, string description, HardwareSpec hw, double overheadMs, ChannelGranularity? channels = null)
    {
        double memMs = 4.0 / (hw.MemoryBandwidthGBs * MemoryEfficiency); // ms per million float32 elements
        var kernels = new Dictionary<string, KernelModel>();
        foreach (var cls in KernelClass.All)
        {
            // Spec profiles have one model per class; the misaligned MAC coefficient carries the penalty.
            double macMs = ComputeEfficiency.TryGetValue(cls, out var eff) ? 2.0 / (hw.PeakGflops * eff) : 0; // ms per million MACs
            kernels[cls] = new KernelModel
            {
                // Padded rows priced as work: the spec does not say whether the board's runtime skips them.
                Coefficients = [overheadMs, macMs, macMs * MisalignedPenalty, memMs, memMs, memMs, 0, 0, 0, macMs, 0],
                Provenance =
                    "derived from the hardware spec: 2/(peak GFLOP/s x efficiency) per MMAC, 4/(bandwidth x 0.5) per M elements " +
                    "(docs/latency.md)",
            };
        }
        return new DeviceProfile
        {
            Name = name,
            Description = description,
            Calibrated = false,
            Execution = new ExecutionSettings { Provider = "CPU", Threads = hw.Cores },
            Hardware = hw,
            Channels = channels ?? new ChannelGranularity(4, 4, 4),
            Provenance = new Provenance { Method = "spec", Reference = hw.Source,
                Notes = "Uncalibrated estimate. Run 'lamda device-profile -o FILE' on the device and pass FILE as the device for real " +
                "predictions." },
            Kernels = kernels,
            Composition = new Composition { Scale = 1, OverheadMs = 0.05, Provenance = "assumed session overhead" },
        };
    }

    /// <summary>Every device name Lamda knows: host first, then the built-in ones.</summary>
    public static IEnumerable<string> Names => BuiltIn.Select(p => p.Name).Prepend(Host);

    /// <summary>
    /// Resolves a device argument. A path (or anything ending in .json) is loaded as a profile file; <c>host</c>
    /// is the calibrated profile of this machine (built on first use by <paramref name="hostProfile"/>).
    /// </summary>
    public static DeviceProfile Resolve(string device, Func<DeviceProfile>? hostProfile = null)
    {
        if (device.EndsWith(".json", StringComparison.OrdinalIgnoreCase) || device.Contains('/') || device.Contains('\\')
            || File.Exists(device))
            return DeviceProfile.Load(device);
        if (device == Host)
            return hostProfile != null ? hostProfile() : HostProfiles.GetOrCreate(null);
        return BuiltIn.FirstOrDefault(p => p.Name == device)
            ?? throw new LamdaException(
                ErrorCodes.UnknownDevice,
                $"unknown device '{device}'. Known devices: {string.Join(", ", Names)}; or pass the path of a profile made with 'lamda " +
                    "device-profile -o FILE'.");
    }
}

namespace Lamda.Latency;

/// <summary>
/// The devices Lamda knows by name, and resolution of a device argument: a built-in name, <c>host</c>, or a
/// path to a profile file.
/// </summary>
public static class DeviceCatalog
{
    public const string Host = "host";

    /// <summary>Built-in devices other than host, from public specifications (uncalibrated estimates).</summary>
    public static IReadOnlyList<DeviceProfile> BuiltIn => builtIn.Value;

    // Lazy: the profiles are derived from the efficiency table below, which must be initialized first.
    static readonly Lazy<IReadOnlyList<DeviceProfile>> builtIn = new(() =>
    [
        SpecProfile("raspberry-pi-4", "Raspberry Pi 4 Model B, ONNX Runtime CPU", new HardwareSpec
        {
            Processor = "Broadcom BCM2711, 4x Cortex-A72 @ 1.5 GHz", Cores = 4, PeakGflops = 48, MemoryBandwidthGBs = 12.8,
            Source = "Raspberry Pi 4 Model B product brief (raspberrypi.com); Arm Cortex-A72 technical reference manual: 2x128-bit NEON " +
                "FMA pipes (8 FP32 FLOP/cycle/core assumed); LPDDR4-3200, 32-bit bus",
        }, overheadMs: 0.03),
        SpecProfile("jetson-nano", "NVIDIA Jetson Nano (4 GB), ONNX Runtime CPU provider (the GPU is not modelled)", new HardwareSpec
        {
            Processor = "4x Cortex-A57 @ 1.43 GHz", Cores = 4, PeakGflops = 45.8, MemoryBandwidthGBs = 25.6,
            Source = "NVIDIA Jetson Nano module data sheet (DA_09366): 4x A57 @ 1.43 GHz, 4 GB LPDDR4 25.6 GB/s; 8 FP32 FLOP/cycle/core " +
                "assumed",
        }, overheadMs: 0.03),
        SpecProfile("jetson-xavier-nx", "NVIDIA Jetson Xavier NX, ONNX Runtime CPU provider (the GPU is not modelled)", new HardwareSpec
        {
            Processor = "6x NVIDIA Carmel ARMv8.2 @ 1.4 GHz", Cores = 6, PeakGflops = 134.4, MemoryBandwidthGBs = 59.7,
            Source = "NVIDIA Jetson Xavier NX module data sheet (DS-09693): 6-core Carmel @ 1.4 GHz, 8 GB LPDDR4x 59.7 GB/s; 16 FP32 " +
                "FLOP/cycle/core assumed",
        }, overheadMs: 0.015),
        SpecProfile("intel-i7-laptop", "Laptop with an Intel Core i7-1165G7 (Tiger Lake), ONNX Runtime CPU", new HardwareSpec
        {
            Processor = "Intel Core i7-1165G7, 4 cores @ 2.8 GHz base, AVX-512", Cores = 4, PeakGflops = 358, MemoryBandwidthGBs = 68.3,
            Source = "Intel ARK, Core i7-1165G7: 4 cores, 2.8 GHz base, LPDDR4x-4266 (68.3 GB/s); " +
                "32 FP32 FLOP/cycle/core (one AVX-512 FMA)",
        }, overheadMs: 0.006, channels: new ChannelGranularity(16, 16, 16)),
    ]);

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
                Coefficients = [overheadMs, macMs, macMs * MisalignedPenalty, memMs, memMs, memMs, 0],
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

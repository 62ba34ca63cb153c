using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace Lamda.Latency;

/// <summary>
/// What decides how ONNX Runtime runs a model on this machine: the CPU, its widest vector instruction set
/// (ORT's MLAS kernels pick their block sizes from it: 8 floats with AVX2, 16 with AVX-512) and the ORT
/// version. It goes into the host fingerprint and into every calibrated profile.
/// </summary>
internal static class HostIdentity
{
    /// <summary>The widest SIMD extension the CPU offers: AVX-512, AVX2, AVX, SSE4.1, NEON or none.</summary>
    public static string Isa { get; } = DetectIsa();

    static string DetectIsa()
    {
        if (Avx512F.IsSupported) return "AVX-512";
        if (Avx2.IsSupported) return "AVX2";
        if (Avx.IsSupported) return "AVX";
        if (Sse41.IsSupported) return "SSE4.1";
        if (AdvSimd.IsSupported) return "NEON";
        return "none";
    }

    public static string OnnxRuntimeVersion { get; } =
        typeof(Microsoft.ML.OnnxRuntime.InferenceSession).Assembly.GetName().Version?.ToString(3) ?? "unknown";

    /// <summary>CPU model, logical cores and OS, e.g. "AMD EPYC, 2 logical cores, Debian GNU/Linux 12".</summary>
    public static string Machine { get; } = DescribeMachine();

    static string DescribeMachine()
    {
        string cpu = RuntimeInformation.ProcessArchitecture.ToString();
        try
        {
            if (File.Exists("/proc/cpuinfo"))
                cpu = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))
                    ?.Split(':', 2)[1].Trim() ?? cpu;
        }
        catch (IOException) { }
        return $"{cpu}, {Environment.ProcessorCount} logical cores, {RuntimeInformation.OSDescription}";
    }

    /// <summary>
    /// The cache of one core in bytes: the largest per-core level (L2 on current x86 and Arm servers) that Linux lists
    /// under /sys/devices/system/cpu/cpu0/cache, or <see cref="DeviceProfile.DefaultCacheBytes"/> where it cannot be read.
    /// Levels shared by several cores (the L3) are not one core's: a map that fits there is still read at another cost.
    /// </summary>
    public static long CacheBytes { get; } = LargestDataCache(level => level is "1" or "2") ?? DeviceProfile.DefaultCacheBytes;

    /// <summary>
    /// The first-level data cache of one core in bytes, as Linux lists it, or <see cref="DeviceProfile.DefaultL1Bytes"/> where
    /// it cannot be read.
    /// </summary>
    public static long L1Bytes { get; } = LargestDataCache(level => level == "1") ?? DeviceProfile.DefaultL1Bytes;

    /// <summary>The largest data (or unified) cache of the levels <paramref name="levels"/> accepts that Linux lists under
    /// /sys/devices/system/cpu/cpu0/cache, or null.</summary>
    static long? LargestDataCache(Func<string, bool> levels)
    {
        const string root = "/sys/devices/system/cpu/cpu0/cache";
        try
        {
            if (!Directory.Exists(root)) return null;
            long best = 0;
            foreach (var index in Directory.GetDirectories(root, "index*"))
            {
                string Read(string name) =>
                    File.Exists(Path.Combine(index, name)) ? File.ReadAllText(Path.Combine(index, name)).Trim() : "";
                if (Read("type") == "Instruction" || !levels(Read("level"))) continue;
                var size = Read("size");
                long factor = size.EndsWith('K') ? 1024 : size.EndsWith('M') ? 1 << 20 : 1;
                if (long.TryParse(size.TrimEnd('K', 'M'), out var n)) best = Math.Max(best, n * factor);
            }
            return best >= 1024 ? best : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return null; }
    }

    /// <summary>Short hash of machine, ISA and ORT version (with <paramref name="extra"/>), for cache file names.</summary>
    public static string Fingerprint(string extra = "")
    {
        var text = $"{Machine}|{Isa}|{OnnxRuntimeVersion}|{extra}";
        var hash = System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(text));
        return Convert.ToHexString(hash, 0, 6).ToLowerInvariant();
    }
}

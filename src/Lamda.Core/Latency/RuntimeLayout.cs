using System.Collections.Concurrent;
using System.Text.Json;
using Lamda.Graphs;
using Lamda.Onnx;
using Microsoft.ML.OnnxRuntime;

namespace Lamda.Latency;

/// <summary>The shape class that decides whether ONNX Runtime runs a convolution in its blocked layout.</summary>
internal readonly record struct ConvShape(long InChannels, long OutChannels, long Group, long Kernel);

/// <summary>
/// Which convolutions ONNX Runtime runs in its blocked (NCHWc) layout, asked of ONNX Runtime itself: a
/// one-convolution model is optimized with all graph optimizations and the optimized graph ORT saves
/// (SessionOptions.OptimizedModelFilePath) is read back. No timing is involved, so the answer does not move
/// with outside load; timing-derived blocks did (three calibrations on one machine gave 4, 8 and 32).
/// Answers are memoized per shape class; the derived channel block is cached on disk per ORT version and ISA.
/// </summary>
internal static class RuntimeLayout
{
    static readonly ConcurrentDictionary<ConvShape, bool> answers = new();
    /// <summary>Changes when <see cref="Detect"/> asks other questions, so that cached answers are not reused.</summary>
    const string DetectionRevision = "layout-2";
    static readonly Lazy<ChannelGranularity> granularity = new(LoadOrDetect);

    /// <summary>Whether ORT rewrites this convolution into its NCHWc domain (runs it blocked).</summary>
    public static bool IsBlocked(ConvShape shape) => answers.GetOrAdd(shape, Ask);

    /// <summary>
    /// The granularities of ORT's blocked layout on this machine, found by asking ORT about a few convolutions
    /// (ORT 1.31 on AVX-512: tile 16, blocks of 4). The tile is the NCHWc block (8 floats with AVX2, 16 with
    /// AVX-512): output channels are padded to it, a regular convolution with at most that many input channels
    /// reads the plain layout directly, and a grouped one runs blocked when each group's channels fill whole
    /// tiles. Input channels and depthwise channels are taken in smaller blocks. Where ORT has no blocked layout
    /// every convolution runs plain and all three are 1.
    /// </summary>
    public static ChannelGranularity Granularity => granularity.Value;

    static bool Regular(long cin) => IsBlocked(new ConvShape(cin, 32, 1, 3));
    static bool Depthwise(long c) => IsBlocked(new ConvShape(c, c, c, 3));

    internal static ChannelGranularity Detect()
    {
        long[] sizes = [2, 4, 8, 16, 32, 64];
        long tile = sizes.FirstOrDefault(t => Regular(t - 1) && !Regular(t + 1));
        if (tile == 0) return ChannelGranularity.None;
        long input = sizes.Prepend(1).FirstOrDefault(b => Regular(2 * tile + b) && !Regular(2 * tile + b + Math.Max(1, b / 2)), tile);
        long depthwise = sizes.FirstOrDefault(d => Depthwise(d) && Depthwise(2 * d) && !Depthwise(d + d / 2), tile);
        return new ChannelGranularity((int)tile, (int)input, (int)depthwise);
    }

    static ChannelGranularity LoadOrDetect()
    {
        var path = Path.Combine(LamdaPaths.CacheDirectory, "layout", $"nchwc-{HostIdentity.Fingerprint(DetectionRevision)}.json");
        try
        {
            if (File.Exists(path) && JsonSerializer.Deserialize<ChannelGranularity>(File.ReadAllText(path)) is { OutputTile: >= 1 } cached)
                return cached;
        }
        catch (Exception e) when (e is JsonException or IOException) { } // unreadable: asked again and rewritten
        var detected = Detect();
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            AtomicFile.WriteText(path, JsonSerializer.Serialize(detected));
        }
        // A read-only cache only costs the few questions again next time.
        catch (Exception e) when (e is LamdaException or IOException or UnauthorizedAccessException) { }
        return detected;
    }

    static bool Ask(ConvShape shape)
    {
        var b = new GraphBuilder(seed: 1);
        var x = b.Input("x", 1, shape.InChannels, 8, 8);
        b.Output(b.Relu(b.Conv(x, shape.OutChannels, kernel: shape.Kernel, group: shape.Group)), "y");
        var folder = Directory.CreateTempSubdirectory("lamda-layout-").FullName;
        try
        {
            var optimized = Path.Combine(folder, "optimized.onnx");
            using (var options = new SessionOptions
            {
                GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL, OptimizedModelFilePath = optimized, IntraOpNumThreads = 1,
                // ORT warns that a model saved after NCHWc rewriting is hardware specific: that is the point here.
                LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR,
            })
            using (new InferenceSession(KernelSuite.ToBytes(b), options)) { }
            return ModelFile.Load(optimized).Graph.Node
                .Any(n => n.OpType == "Conv" && n.Domain.Contains("nchwc", StringComparison.Ordinal));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}

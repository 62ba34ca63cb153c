using Lamda.Graphs;

namespace Lamda.Latency;

public sealed record KernelPrediction(Kernel Kernel, double Ms);

/// <summary>A predicted latency with its per-kernel breakdown.</summary>
public sealed record Prediction(string Device, bool Calibrated, double LatencyMs, IReadOnlyList<KernelPrediction> Kernels);

/// <summary>
/// Predicts latency on a device from its profile, nn-Meter style: the graph is mapped to the kernels the
/// runtime executes (with its fusions), each kernel's latency comes from the regression of its class, and
/// the sum is composed into whole-model latency. Fast enough for the inner search loop (no allocation of
/// tensors, one shape-inference pass).
/// </summary>
public sealed class LatencyPredictor(DeviceProfile profile)
{
    public DeviceProfile Profile { get; } = profile;

    public Prediction Predict(Graph graph, WeightStore weights, InferenceResult? inference = null)
    {
        var kernels = KernelExtractor.Extract(graph, weights, inference);
        var parts = new List<KernelPrediction>(kernels.Count);
        var (aligned, misaligned) = (0.0, 0.0);
        foreach (var k in kernels)
        {
            double ms = KernelMs(k);
            parts.Add(new KernelPrediction(k, ms));
            if (IsMisaligned(k)) misaligned += ms; else aligned += ms;
        }
        var c = Profile.Composition;
        return new Prediction(Profile.Name, Profile.Calibrated, c.Scale * aligned + c.MisalignedScale * misaligned + c.OverheadMs, parts);
    }

    /// <summary>Kernel-latency sums of aligned and misaligned kernels, before composition (for calibration).</summary>
    public (double Aligned, double Misaligned) KernelSums(Graph graph, WeightStore weights)
    {
        var (aligned, misaligned) = (0.0, 0.0);
        foreach (var k in KernelExtractor.Extract(graph, weights))
            if (IsMisaligned(k)) misaligned += KernelMs(k); else aligned += KernelMs(k);
        return (aligned, misaligned);
    }

    bool IsMisaligned(Kernel k) => k.Class != KernelClass.Free && k.Features(Profile.Channels)[2] > 0;

    public double KernelMs(Kernel k)
    {
        if (k.Class == KernelClass.Free) return 0;
        var model = Profile.Kernels.GetValueOrDefault(k.Class)
            ?? Profile.Kernels.GetValueOrDefault(Fallback(k.Class))
            ?? Profile.Kernels.GetValueOrDefault(KernelClass.Elementwise);
        return model?.Predict(k.Features(Profile.Channels)) ?? 0;
    }

    static string Fallback(string cls) => cls switch
    {
        KernelClass.GroupConv or KernelClass.ConvTranspose => KernelClass.Conv,
        KernelClass.Copy or KernelClass.Concat => KernelClass.Elementwise,
        _ => KernelClass.Elementwise,
    };
}

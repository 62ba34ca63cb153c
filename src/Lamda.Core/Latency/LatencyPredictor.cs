using Lamda.Graphs;

namespace Lamda.Latency;

/// <summary>One kernel and its predicted latency.
/// </summary>
/// <param name="Kernel">the kernel, with the nodes ONNX Runtime fuses into it</param>
/// <param name="Ms">its predicted milliseconds</param>
public sealed record KernelPrediction(Kernel Kernel, double Ms);

/// <summary>A predicted latency with its per-kernel breakdown.</summary>
public sealed record Prediction(string Device, bool Calibrated, double LatencyMs, IReadOnlyList<KernelPrediction> Kernels);

/// <summary>
/// Predicts latency on a device from its profile, nn-Meter style: the graph is mapped to the kernels the
/// runtime executes (with its fusions), each kernel's latency comes from the model of its class, and the sum
/// is composed into whole-model latency (layout reorders between kernels, per-node dispatch, fixed overhead).
/// Fast enough for the inner search loop (no allocation of tensors, one shape-inference pass).
/// </summary>
public sealed class LatencyPredictor(DeviceProfile profile)
{
    /// <summary>The device profile predictions come from.</summary>
    public DeviceProfile Profile { get; } = profile;

    /// <summary>
    /// The latency of <paramref name="graph"/> on the profile's device: its kernels as ONNX Runtime would run them,
    /// each predicted, composed into the model's latency. <paramref name="inference"/> saves inferring shapes again.
    /// </summary>
    public Prediction Predict(Graph graph, WeightStore weights, InferenceResult? inference = null)
    {
        var kernels = BlockedLayout.Mark(KernelExtractor.Extract(graph, weights, inference), Profile.Channels);
        var footprint = ModelFootprint.Of(kernels);
        var parts = new List<KernelPrediction>(kernels.Count);
        foreach (var k in kernels) parts.Add(new KernelPrediction(k, KernelMs(k, footprint)));
        double total = Profile.Composition.Predict(CompositionFeatures(graph, kernels, parts.Sum(p => p.Ms)));
        return new Prediction(Profile.Name, Profile.Calibrated, total, parts);
    }

    /// <summary>What the profile's <see cref="Composition"/> sees of a model.</summary>
    public CompositionFeatures CompositionFeatures(Graph graph, WeightStore weights)
    {
        var kernels = BlockedLayout.Mark(KernelExtractor.Extract(graph, weights), Profile.Channels);
        var footprint = ModelFootprint.Of(kernels);
        return CompositionFeatures(graph, kernels, kernels.Sum(k => KernelMs(k, footprint)));
    }

    CompositionFeatures CompositionFeatures(Graph graph, List<Kernel> kernels, double kernelSum)
    {
        var outputs = graph.Outputs.Select(o => o.Key).ToHashSet(StringComparer.Ordinal);
        var reorders = BlockedLayout.Reorders(kernels, Profile.Channels, outputs, Profile.CacheMElements);
        return new(kernelSum, reorders.MElements, kernels.Count(k => k.Class != KernelClass.Free), reorders.BeyondCacheMElements);
    }

    /// <summary>One kernel's latency in a model with the <paramref name="footprint"/> of <see cref="ModelFootprint.Of"/>.</summary>
    public double KernelMs(Kernel k, ModelFootprint footprint)
    {
        if (k.Class == KernelClass.Free) return 0;
        // Most specific model first; grouped and transposed convolutions borrow the convolution model, and
        // anything else without its own model is costed as elementwise work.
        var model = MostSpecific(k)
            ?? (k.Class is KernelClass.GroupConv or KernelClass.ConvTranspose ? Profile.Kernels.GetValueOrDefault(KernelClass.Conv) : null)
            ?? Profile.Kernels.GetValueOrDefault(KernelClass.Elementwise);
        return model?.Predict(k, Profile.Channels, footprint, Profile.Cache) ?? 0;
    }

    /// <summary>The model of the kernel's most specific key the profile has (see <see cref="Kernel.ModelKeys"/>); no allocation
    /// for keys without a suffix (this runs for every kernel of every candidate in the search).</summary>
    KernelModel? MostSpecific(Kernel k)
    {
        for (var key = k.ModelKey(Profile.Channels); ; key = key[..key.LastIndexOf('/')])
        {
            if (Profile.Kernels.TryGetValue(key, out var model)) return model;
            if (!key.Contains('/')) return null;
        }
    }
}

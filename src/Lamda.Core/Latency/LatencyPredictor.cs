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
        double total = c.Scale * aligned + c.MisalignedScale * misaligned + c.ReorderMsPerMElement * ReorderedElements(kernels)
            + c.AlignedKernelMs * AlignedConvolutions(kernels) + c.OverheadMs;
        // Composition terms can be negative; never predict below the sum's smallest plausible share.
        return new Prediction(Profile.Name, Profile.Calibrated, Math.Max(total, 0.25 * (aligned + misaligned)), parts);
    }

    /// <summary>Composition features: aligned and misaligned kernel sums (ms), reordered elements (millions), aligned convolutions.</summary>
    public double[] CompositionFeatures(Graph graph, WeightStore weights)
    {
        var kernels = KernelExtractor.Extract(graph, weights);
        var (aligned, misaligned) = (0.0, 0.0);
        foreach (var k in kernels)
            if (IsMisaligned(k)) misaligned += KernelMs(k); else aligned += KernelMs(k);
        return [1, aligned, misaligned, ReorderedElements(kernels), AlignedConvolutions(kernels)];
    }

    int AlignedConvolutions(List<Kernel> kernels) =>
        kernels.Count(k => k.Class is KernelClass.Conv or KernelClass.Pointwise or KernelClass.Depthwise && !IsMisaligned(k) && k.InChannels > 4);

    /// <summary>
    /// Elements (millions) that must change layout: a convolution runs in the blocked layout when aligned and in
    /// the plain one otherwise; other kernels follow their producer. Every convolution input produced in the
    /// other layout is reordered.
    /// </summary>
    double ReorderedElements(List<Kernel> kernels)
    {
        var producer = new Dictionary<string, int>(StringComparer.Ordinal);
        var blocked = new bool[kernels.Count];
        double reordered = 0;
        for (int i = 0; i < kernels.Count; i++)
        {
            var k = kernels[i];
            var first = k.Nodes[0].Inputs.Count > 0 ? k.Nodes[0].Inputs[0] as EdgeOperand : null;
            bool inputBlocked = first != null && producer.TryGetValue(first.Edge, out var p) && blocked[p];
            bool conv = k.Class is KernelClass.Conv or KernelClass.Pointwise or KernelClass.Depthwise or KernelClass.GroupConv;
            blocked[i] = conv ? !IsMisaligned(k) && k.InChannels > 4 || (!IsMisaligned(k) && inputBlocked) : inputBlocked;
            if (conv && k.InChannels > 4 && blocked[i] != inputBlocked) reordered += k.MInputs;
            foreach (var n in k.Nodes) producer[n.Output] = i;
        }
        return reordered;
    }

    bool IsMisaligned(Kernel k) => k.Class != KernelClass.Free && k.Features(Profile.Channels)[2] > 0;

    public double KernelMs(Kernel k)
    {
        if (k.Class == KernelClass.Free) return 0;
        // Most specific model first; grouped and transposed convolutions borrow the convolution model, and
        // anything else without its own model is costed as elementwise work.
        var model = Profile.Kernels.GetValueOrDefault(k.ModelKey(Profile.Channels))
            ?? Profile.Kernels.GetValueOrDefault(k.Class)
            ?? (k.Class is KernelClass.GroupConv or KernelClass.ConvTranspose ? Profile.Kernels.GetValueOrDefault(KernelClass.Conv) : null)
            ?? Profile.Kernels.GetValueOrDefault(KernelClass.Elementwise);
        return model?.Predict(k.Features(Profile.Channels)) ?? 0;
    }
}

namespace Lamda.Latency;

/// <summary>
/// What one run of a whole model touches, in millions of elements: its weights, and those plus every kernel's output
/// (the activations it writes and the next kernel reads). Between two runs of a kernel the rest of the model passes
/// through the caches, so whether the kernel finds its weights and input still there depends on all of it, not on its
/// own size. The weights alone did not say it: in calibration networks of 2-2.6 million weights a classifier's Gemm
/// cost 65-125 ps a weight in context, while mobilenet_v3_small's, in a model of 2.5 million weights with small
/// activation maps, cost 45-50; with what a run touches among the trees' descriptors the kernel sums of the held-out
/// families were predicted with 3.4-4.6% error where they had 4.5-5.5% (four calibrations, docs/benchmarks.md).
/// </summary>
/// <param name="MWeights">the model's weights (millions)</param>
/// <param name="MTouched">its weights plus every kernel's output elements (millions)</param>
public readonly record struct ModelFootprint(double MWeights, double MTouched)
{
    /// <summary>The footprint of a model run as <paramref name="kernels"/> (a free kernel, a reshape, writes nothing).</summary>
    public static ModelFootprint Of(IEnumerable<Kernel> kernels)
    {
        double weights = 0, outputs = 0;
        foreach (var k in kernels)
        {
            weights += k.MWeights;
            if (k.Class != KernelClass.Free) outputs += k.MOutputs;
        }
        return new ModelFootprint(weights, weights + outputs);
    }
}

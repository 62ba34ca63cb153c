using Lamda.Graphs;
using Lamda.Onnx;

namespace Lamda.Latency;

/// <summary>
/// ONNX Runtime's own per-kernel times of one model, to be set against a prediction kernel by kernel
/// (`lamda predict --profile-nodes`): where a whole-model error comes from is only visible per node.
/// </summary>
internal static class NodeProfile
{
    /// <summary>
    /// Profiles the model with ORT's profiler on one thread (under the machine lock). The result's
    /// <see cref="KernelProfile.Kernels"/> have this model's own profiler cost per node taken off.
    /// </summary>
    /// <param name="graph">the normalized graph, as the predictor sees it</param>
    /// <param name="weights">its weights</param>
    public static KernelProfile Measure(Graph graph, WeightStore weights) =>
        KernelProfiler.Profile(graph, weights, threads: 1, runs: 40, warmup: 10);
}

using Lamda.Runtime;

namespace Lamda.Training;

/// <summary>
/// Runs a <see cref="GradientModel"/> on a batch split into equal shards, one ONNX Runtime session of one thread per
/// shard, all at once, and averages their losses and gradients: data parallelism across the cores. Every loss term
/// is a mean over the batch, so the average of equal shards is the whole batch's loss and gradient, up to the order
/// of float sums.
/// It pays because one session's threads wait on each other at every operator: the recognizer's training step (batch
/// 16 at 48x320 on a 2-core Intel host) took 1.20-1.23 s with one session of two threads and 1.08-1.11 s with two
/// shards of 8, each on one thread (docs/training.md).
/// </summary>
internal sealed class ShardedGradientRunner : IDisposable
{
    readonly GradientModel model;
    readonly ModelRunner[] runners;

    /// <param name="model">the gradient model, built for one shard's rows (the batch divided by <paramref name="shards"/>)</param>
    /// <param name="shards">how many shards a batch is split into; 1 runs the whole batch on one session</param>
    /// <param name="threads">ONNX Runtime threads of a session when there is one shard</param>
    public ShardedGradientRunner(GradientModel model, int shards, int threads)
    {
        this.model = model;
        var options = new RunnerOptions { IntraOpThreads = shards > 1 ? 1 : threads };
        runners = new ModelRunner[shards];
        try
        {
            for (int i = 0; i < shards; i++) runners[i] = new ModelRunner(model.Model, options, "gradient model");
        }
        catch { Dispose(); throw; }
    }

    /// <summary>
    /// The shards a batch of <paramref name="batch"/> inputs splits into on <paramref name="threads"/> threads: one per
    /// thread when the batch divides evenly among them (the gradient model has one shard's static shapes), else one (a
    /// single session of <paramref name="threads"/> threads).
    /// </summary>
    public static int ShardsFor(int batch, int threads) => threads > 1 && batch % threads == 0 ? threads : 1;

    /// <summary>The first rows of a batch's feeds that one shard runs: what the gradient model is built on.</summary>
    public static Dictionary<string, TensorData> Shard(IReadOnlyDictionary<string, TensorData> batch, int shards, int index)
    {
        var shard = new Dictionary<string, TensorData>(StringComparer.Ordinal);
        foreach (var (name, value) in batch)
        {
            long rows = value.Shape[0] / shards;
            shard[name] = value.Rows(index * rows, rows);
        }
        return shard;
    }

    /// <summary>
    /// The batch's mean loss and the gradient of every trainable weight. <paramref name="batch"/> holds the inputs whose
    /// first dimension is the batch (data, targets, labels); <paramref name="weights"/> the weights every shard shares.
    /// </summary>
    public (double Loss, Dictionary<string, float[]> Gradients) Run(IReadOnlyDictionary<string, TensorData> batch,
        IReadOnlyDictionary<string, TensorData> weights)
    {
        var results = new Dictionary<string, TensorData>[runners.Length];
        Parallel.For(0, runners.Length, new ParallelOptions { MaxDegreeOfParallelism = runners.Length }, i =>
        {
            var feeds = runners.Length == 1 ? new Dictionary<string, TensorData>(batch, StringComparer.Ordinal)
                : Shard(batch, runners.Length, i);
            foreach (var (name, w) in weights) feeds[name] = w;
            results[i] = runners[i].Run(feeds);
        });
        double loss = results.Average(r => (double)((float[])r[model.Loss].Values)[0]);
        var gradients = new Dictionary<string, float[]>(StringComparer.Ordinal);
        foreach (var (weight, output) in model.Gradients)
        {
            var sum = (float[])results[0][output].Values;
            for (int i = 1; i < results.Length; i++)
            {
                var part = (float[])results[i][output].Values;
                for (int k = 0; k < sum.Length; k++) sum[k] += part[k];
            }
            if (results.Length > 1)
            {
                float scale = 1f / results.Length;
                for (int k = 0; k < sum.Length; k++) sum[k] *= scale;
            }
            gradients[weight] = sum;
        }
        return (loss, gradients);
    }

    public void Dispose()
    {
        foreach (var r in runners) r?.Dispose();
    }
}

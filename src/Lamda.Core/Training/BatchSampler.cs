using Lamda.Graphs;
using Lamda.Runtime;

namespace Lamda.Training;

/// <summary>
/// Seeded batches of a fixed size: the items in a new random order each epoch, a batch that crosses the end of an
/// epoch continuing into the next, so every batch has the size the gradient model was built for.
/// </summary>
internal sealed class BatchSampler
{
    readonly int count, size;
    readonly Random rng;
    int[] order = [];
    int next;

    public BatchSampler(int count, int size, int seed)
    {
        this.count = count;
        this.size = size;
        rng = new Random(seed);
    }

    public int[] Next()
    {
        var batch = new int[size];
        for (int i = 0; i < size; i++)
        {
            if (next == order.Length)
            {
                order = Enumerable.Range(0, count).ToArray();
                rng.Shuffle(order);
                next = 0;
            }
            batch[i] = order[next++];
        }
        return batch;
    }

    /// <summary>The rows <paramref name="items"/> of a tensor, along its first dimension.</summary>
    public static TensorData Gather(TensorData t, IReadOnlyList<int> items)
    {
        long per = t.Count / t.Shape[0];
        var shape = t.Shape.ToArray();
        shape[0] = items.Count;
        Array values = t.Values switch
        {
            float[] f => Rows(f, items, per),
            long[] l => Rows(l, items, per),
            _ => throw new ArgumentException($"cannot batch {t.Values.GetType().Name}"),
        };
        return new TensorData(t.ElemType, shape, values);
    }

    static T[] Rows<T>(T[] source, IReadOnlyList<int> items, long per)
    {
        var result = new T[items.Count * per];
        for (int i = 0; i < items.Count; i++) Array.Copy(source, items[i] * per, result, i * per, per);
        return result;
    }
}

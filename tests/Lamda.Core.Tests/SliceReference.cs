namespace Lamda.Tests;

/// <summary>Reference solutions for slicing, written independently of the production DP.</summary>
public static class SliceReference
{
    /// <summary>Independent optimum: Dijkstra over boundary positions (a different algorithm from the DP).</summary>
    internal static int ShortestPathOptimum(int[] tokens, int[] severed, int max)
    {
        int n = tokens.Length;
        var dist = Enumerable.Repeat(int.MaxValue, n + 1).ToArray();
        var queue = new PriorityQueue<int, int>();
        dist[0] = 0;
        queue.Enqueue(0, 0);
        while (queue.TryDequeue(out int i, out int d))
        {
            if (d > dist[i]) continue;
            int sum = 0;
            for (int j = i; j < n; j++)
            {
                sum += tokens[j];
                if (sum > max) break;
                int next = d + (j + 1 < n ? severed[j] : 0);
                if (next < dist[j + 1]) { dist[j + 1] = next; queue.Enqueue(j + 1, next); }
            }
        }
        return dist[n];
    }
}

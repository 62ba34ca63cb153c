using Lamda.Graphs;
using Lamda.Text;

namespace Lamda.Slicing;

/// <summary>A contiguous run of node lines, by index in serialized order (inclusive).</summary>
internal sealed record Slice(int FirstNode, int LastNode, int Tokens);

/// <summary>The optimal cut of a graph's node lines.</summary>
internal sealed record SlicePlan(int MaxTokens, int TotalTokens, int SeveredEdges, IReadOnlyList<Slice> Slices);

/// <summary>
/// The slicing problem of the LAMDA paper (Algorithm 1): cut the node sequence into contiguous slices of at
/// most <c>maxTokens</c> tokens each, minimizing the number of edges severed by the cuts.
/// </summary>
internal static class Slicer
{
    /// <summary>Plans slices for a graph; tokens are those of each node's LamdaText line (with its newline).</summary>
    public static SlicePlan Plan(Graph graph, int maxTokens, ITokenCounter counter)
    {
        var tokens = graph.Nodes.Select(n => counter.Count(LamdaTextWriter.NodeLine(n) + "\n")).ToArray();
        return Plan(tokens, SeveredAt(graph), maxTokens, graph.Nodes);
    }

    /// <summary>
    /// C(j) for each boundary j (a cut after node j): the number of distinct edges produced at or before j and
    /// read after j. An edge that spans several cuts is counted at each of them, since each slice interface
    /// must carry it. Graph inputs are available to every slice and are never severed.
    /// </summary>
    public static int[] SeveredAt(Graph graph)
    {
        int n = graph.Nodes.Count;
        var position = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < n; i++) position[graph.Nodes[i].Output] = i;
        var lastUse = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < n; i++)
            foreach (var e in graph.Nodes[i].EdgeInputs)
                if (position.ContainsKey(e.Edge)) lastUse[e.Key] = i;
        // Difference array over boundaries: edge produced at p, last read at q, crosses cuts p..q-1.
        var diff = new int[n + 1];
        foreach (var (key, q) in lastUse)
        {
            int dot = key.IndexOf('.');
            int p = position[dot < 0 ? key : key[..dot]];
            if (q <= p) continue;
            diff[p]++;
            diff[q]--;
        }
        var c = new int[Math.Max(0, n - 1)];
        for (int j = 0, run = 0; j < n - 1; j++) { run += diff[j]; c[j] = run; }
        return c;
    }

    /// <summary>
    /// O(N^2) dynamic programme. best[j] = fewest severed edges for nodes 0..j-1 cut into fitting slices, where
    /// the last slice ends at j-1; best[j] = min over i of best[i] + C(i-1) (no cost when i = 0) subject to
    /// T(i, j-1) &lt;= maxTokens. The argmin is kept to reconstruct the boundaries.
    /// </summary>
    public static SlicePlan Plan(int[] tokens, int[] severed, int maxTokens, IReadOnlyList<Node>? nodes = null)
    {
        if (maxTokens <= 0) throw new LamdaException(ErrorCodes.BadArgument, $"--max-tokens must be positive, got {maxTokens}.");
        int n = tokens.Length;
        for (int i = 0; i < n; i++)
            if (tokens[i] > maxTokens)
            {
                var what = nodes != null ? $"node {nodes[i].Id} ({nodes[i].Op})" : $"node {i}";
                throw new LamdaException(ErrorCodes.SliceTooLarge,
                    $"{what} alone needs {tokens[i]} tokens, more than the limit of {maxTokens}; raise --max-tokens to at least " +
                        $"{tokens[i]}.");
            }
        var prefix = new long[n + 1];
        for (int i = 0; i < n; i++) prefix[i + 1] = prefix[i] + tokens[i];
        var best = new int[n + 1];
        var from = new int[n + 1];
        Array.Fill(best, int.MaxValue);
        best[0] = 0;
        for (int j = 1; j <= n; j++)
        {
            // Walk i downward so the token sum only grows; stop once the slice no longer fits.
            for (int i = j - 1; i >= 0 && prefix[j] - prefix[i] <= maxTokens; i--)
            {
                if (best[i] == int.MaxValue) continue;
                int cost = best[i] + (i > 0 ? severed[i - 1] : 0);
                if (cost < best[j]) { best[j] = cost; from[j] = i; }
            }
        }
        var slices = new List<Slice>();
        for (int j = n; j > 0; j = from[j])
            slices.Add(new Slice(from[j], j - 1, (int)(prefix[j] - prefix[from[j]])));
        slices.Reverse();
        return new SlicePlan(maxTokens, (int)prefix[n], n == 0 ? 0 : best[n], slices);
    }
}

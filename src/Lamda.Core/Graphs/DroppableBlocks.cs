namespace Lamda.Graphs;

/// <summary>
/// A block whose output has its input's shape, so that the model still runs with the block taken out (a depth edit): the
/// readers of <see cref="Exit"/>'s output read <see cref="Entry"/> instead, and <see cref="Body"/> and <see cref="Exit"/> go.
/// A residual block <c>Add(skip, branch(skip))</c> (exit: the Add, entry: the skip, body: the branch), or, in a model
/// without residual blocks, a unit that everything passes through on both sides (a ShuffleNet unit with its channel
/// shuffle, a SqueezeNet fire module, an inception module that keeps its width).
/// </summary>
internal sealed record DroppableBlock(Node Exit, EdgeOperand Entry, IReadOnlyList<Node> Body);

/// <summary>Finds the blocks a depth edit may drop (<see cref="DroppableBlock"/>), and removes them.</summary>
internal static class DroppableBlocks
{
    /// <summary>Nodes a block may hold at most.</summary>
    const int MaxNodes = 64;

    /// <summary>
    /// The residual blocks whose input and output shapes match; in a model without any, the units between two tensors of the
    /// same shape that every path passes through (so a model with residual blocks is edited exactly as before).
    /// </summary>
    public static List<DroppableBlock> Find(Graph graph, WeightStore weights)
    {
        var inference = ShapeInference.Run(graph, weights, batchOne: true);
        var residual = Residual(graph, inference);
        return residual.Count > 0 ? residual : Units(graph, inference);
    }

    static HashSet<string> Outputs(Graph graph) =>
        graph.Outputs.Select(o => o.Edge).Concat(graph.Captures.Select(c => c.Edge)).ToHashSet(StringComparer.Ordinal);

    static List<DroppableBlock> Residual(Graph graph, InferenceResult inference)
    {
        var producers = graph.Producers();
        var consumers = graph.Consumers();
        var outputs = Outputs(graph);
        var blocks = new List<DroppableBlock>();
        foreach (var add in
            graph.Nodes.Where(n => n.Op == "Add" && n.Domain.Length == 0 && n.Inputs.Count == 2 && n.Inputs.All(i => i is EdgeOperand)))
        {
            if (outputs.Contains(add.Output)) continue;
            var a = (EdgeOperand)add.Inputs[0];
            var b = (EdgeOperand)add.Inputs[1];
            foreach (var (skip, branchEnd) in new[] { (a, b), (b, a) })
            {
                if (!inference.TypeOf(skip.Key).Equals(inference.TypeOf(add.Output)) || !inference.TypeOf(skip.Key).IsStatic) continue;
                var branch = BranchBetween(skip.Edge, branchEnd.Edge, producers);
                // The branch must be private to the block: nothing outside reads its nodes.
                if (branch == null || branch.Count == 0) continue;
                bool closed =
                    branch.All(n => !outputs.Contains(n.Output)
                    && consumers.GetValueOrDefault(n.Output, []).All(c => c == add || branch.Contains(c)));
                if (!closed) continue;
                blocks.Add(new DroppableBlock(add, skip, branch));
                break;
            }
        }
        return blocks;
    }

    /// <summary>Nodes on every path from <paramref name="from"/> (exclusive) back from <paramref name="to"/>, or null when some path
    /// leaves.</summary>
    static List<Node>? BranchBetween(string from, string to, Dictionary<string, Node> producers)
    {
        var result = new List<Node>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var stack = new Stack<string>([to]);
        while (stack.Count > 0)
        {
            var edge = stack.Pop();
            if (edge == from || !seen.Add(edge)) continue;
            if (!producers.TryGetValue(edge, out var node)) return null; // reached a graph input: not a block
            result.Add(node);
            if (result.Count > MaxNodes) return null;
            foreach (var e in node.EdgeInputs) stack.Push(e.Edge);
        }
        return result;
    }

    /// <summary>
    /// Units of a model without residual blocks. A cut is a tensor that is, right after the node that makes it, the only one
    /// still to be read, so every path passes through it and the nodes between two cuts read nothing from outside. A unit
    /// runs from a cut to the first later cut of the same shape with a weighted layer between and where branches join (in a
    /// model that has branches), and on through a parameter-free tail that comes back to that shape; one also starts after such
    /// a tail (a ShuffleNet unit is split, branch, concat and channel shuffle, not the shuffle of the unit before and the rest
    /// of its own).
    /// </summary>
    static List<DroppableBlock> Units(Graph graph, InferenceResult inference)
    {
        var cuts = Cuts(graph);
        var blocks = new List<DroppableBlock>();
        if (cuts.Count < 2) return blocks;
        var outputs = Outputs(graph);
        TensorType TypeAt(int k) => inference.TypeOf(cuts[k].Edge);
        bool SameType(int k, int start) => TypeAt(k).IsStatic && TypeAt(k).Equals(TypeAt(start));
        IEnumerable<Node> Between(int from, int to) => graph.Nodes.Skip(cuts[from].After + 1).Take(cuts[to].After - cuts[from].After);
        bool Weighted(int from, int to) => Between(from, to).Any(IsWeightedLayer);
        // Where branches join, a unit ends (a fire module at its concat, not at the next module's squeeze layer), unless nothing does.
        bool joins = graph.Nodes.Any(IsJoin);
        bool EndsAtJoin(int from, int to) =>
            !joins || Between(from, to).LastOrDefault(n => IsWeightedLayer(n) || IsJoin(n)) is { } last && IsJoin(last);
        for (int i = 0; i < cuts.Count - 1;)
        {
            int start = i;
            for (int k = i + 1; k < cuts.Count && !Weighted(k - 1, k); k++) if (SameType(k, i)) start = k;
            int end = -1;
            for (int k = start + 1; k < cuts.Count && cuts[k].After - cuts[start].After <= MaxNodes; k++)
                if (SameType(k, start) && Weighted(start, k) && EndsAtJoin(start, k)) { end = k; break; }
            if (end < 0) { i = start + 1; continue; }
            for (int k = end + 1; k < cuts.Count && !Weighted(k - 1, k) && cuts[k].After - cuts[start].After <= MaxNodes; k++)
                if (SameType(k, start)) end = k;
            var nodes = Between(start, end).ToList();
            if (!outputs.Contains(cuts[end].Edge))
                blocks.Add(new DroppableBlock(nodes[^1], new EdgeOperand(cuts[start].Edge), nodes.Take(nodes.Count - 1).ToList()));
            i = end;
        }
        return blocks;
    }

    /// <summary>
    /// The cuts of the graph in node order, each with the index of the node that makes it (-1 for a graph input); none when the
    /// nodes are not in an order that computes them.
    /// </summary>
    static List<(string Edge, int After)> Cuts(Graph graph)
    {
        var lastRead = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < graph.Nodes.Count; i++)
            foreach (var e in graph.Nodes[i].EdgeInputs) lastRead[e.Edge] = i;
        foreach (var o in Outputs(graph)) lastRead[o] = int.MaxValue;
        var live = graph.Inputs.Select(v => v.Edge).Where(lastRead.ContainsKey).ToHashSet(StringComparer.Ordinal);
        var made = new HashSet<string>(live, StringComparer.Ordinal);
        var cuts = new List<(string, int)>();
        if (live.Count == 1) cuts.Add((live.First(), -1));
        for (int i = 0; i < graph.Nodes.Count; i++)
        {
            var node = graph.Nodes[i];
            if (node.EdgeInputs.Any(e => !made.Contains(e.Edge))) return [];
            foreach (var e in node.EdgeInputs) if (lastRead[e.Edge] == i) live.Remove(e.Edge);
            made.Add(node.Output);
            if (lastRead.ContainsKey(node.Output)) live.Add(node.Output);
            if (live.Count == 1 && live.Contains(node.Output) && node.OutputCount == 1) cuts.Add((node.Output, i));
        }
        return cuts;
    }

    /// <summary>A node that joins branches: it reads two different tensors.</summary>
    static bool IsJoin(Node n) => n.EdgeInputs.Select(e => e.Key).Distinct().Count() >= 2;

    /// <summary>A layer with learned weights, the work a unit does (a unit of reshapes alone is no depth).</summary>
    static bool IsWeightedLayer(Node n) =>
        (n.Op is "Conv" or "ConvTranspose" or "Gemm" or "MatMul") && n.Inputs.Skip(1).Any(i => i is WeightOperand);

    /// <summary>A copy of the graph without the blocks: their bodies and exits removed, readers of each exit reading its
    /// entry edge.</summary>
    public static Graph Drop(Graph graph, IEnumerable<DroppableBlock> blocks)
    {
        var g = graph.Clone();
        var removed = new HashSet<string>(StringComparer.Ordinal);
        var rewire = new Dictionary<string, EdgeOperand>(StringComparer.Ordinal);
        foreach (var b in blocks)
        {
            foreach (var n in b.Body) removed.Add(n.Id);
            removed.Add(b.Exit.Id);
            rewire[b.Exit.Output] = b.Entry;
        }
        EdgeOperand Resolve(EdgeOperand e) => rewire.TryGetValue(e.Edge, out var to) ? Resolve(to) : e;
        g.Nodes.RemoveAll(n => removed.Contains(n.Id));
        foreach (var n in g.Nodes)
            for (int i = 0; i < n.Inputs.Count; i++)
                if (n.Inputs[i] is EdgeOperand e) n.Inputs[i] = Resolve(e);
        return g;
    }
}

namespace Lamda.Graphs;

/// <summary>A residual block: <c>Add(skip, branch(skip))</c>, whose branch can be dropped (the block becomes the identity).</summary>
internal sealed record ResidualBlock(Node Add, EdgeOperand Skip, IReadOnlyList<Node> Branch);

/// <summary>Finds residual blocks whose input and output shapes match, and removes them (a depth edit).</summary>
internal static class ResidualBlocks
{
    public static List<ResidualBlock> Find(Graph graph, WeightStore weights)
    {
        var inference = ShapeInference.Run(graph, weights, batchOne: true);
        var producers = graph.Producers();
        var consumers = graph.Consumers();
        var outputs = graph.Outputs.Select(o => o.Edge).Concat(graph.Captures.Select(c => c.Edge)).ToHashSet(StringComparer.Ordinal);
        var blocks = new List<ResidualBlock>();
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
                var members = branch.Select(n => n.Output).Append(add.Output).ToHashSet(StringComparer.Ordinal);
                bool closed =
                    branch.All(n => !outputs.Contains(n.Output)
                    && consumers.GetValueOrDefault(n.Output, []).All(c => c == add || branch.Contains(c)));
                if (!closed || members.Count == 0) continue;
                blocks.Add(new ResidualBlock(add, skip, branch));
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
            if (result.Count > 64) return null;
            foreach (var e in node.EdgeInputs) stack.Push(e.Edge);
        }
        return result;
    }

    /// <summary>A copy of the graph without the blocks: their branches and Adds removed, readers of each Add reading its skip
    /// edge.</summary>
    public static Graph Drop(Graph graph, IEnumerable<ResidualBlock> blocks)
    {
        var g = graph.Clone();
        var removed = new HashSet<string>(StringComparer.Ordinal);
        var rewire = new Dictionary<string, EdgeOperand>(StringComparer.Ordinal);
        foreach (var b in blocks)
        {
            foreach (var n in b.Branch) removed.Add(n.Id);
            removed.Add(b.Add.Id);
            rewire[b.Add.Output] = b.Skip;
        }
        EdgeOperand Resolve(EdgeOperand e) => rewire.TryGetValue(e.Edge, out var to) ? Resolve(to) : e;
        g.Nodes.RemoveAll(n => removed.Contains(n.Id));
        foreach (var n in g.Nodes)
            for (int i = 0; i < n.Inputs.Count; i++)
                if (n.Inputs[i] is EdgeOperand e) n.Inputs[i] = Resolve(e);
        return g;
    }
}

namespace Lamda.Graphs;

/// <summary>Gives a graph canonical ids: inputs <c>%in0..</c>, node i is <c>n{i}</c> with output edge <c>%{i}</c>.</summary>
internal static class GraphIds
{
    /// <summary>Renumbers in place; returns old edge key -> new edge key for outputs of nodes.</summary>
    public static Dictionary<string, string> Renumber(Graph graph)
    {
        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        for (int i = 0; i < graph.Inputs.Count; i++) map[graph.Inputs[i].Edge] = "in" + i;
        for (int i = 0; i < graph.Nodes.Count; i++) map[graph.Nodes[i].Output] =
            i.ToString(System.Globalization.CultureInfo.InvariantCulture);
        for (int i = 0; i < graph.Inputs.Count; i++) graph.Inputs[i] = graph.Inputs[i] with { Edge = map[graph.Inputs[i].Edge] };
        for (int i = 0; i < graph.Outputs.Count; i++) graph.Outputs[i] = graph.Outputs[i] with { Edge = map[graph.Outputs[i].Edge] };
        for (int i = 0; i < graph.Captures.Count; i++) graph.Captures[i] = graph.Captures[i] with { Edge = map[graph.Captures[i].Edge] };
        var names = graph.EdgeNames.ToList();
        graph.EdgeNames.Clear();
        foreach (var (key, name) in names)
        {
            int dot = key.IndexOf('.');
            var edge = dot < 0 ? key : key[..dot];
            if (map.TryGetValue(edge, out var id)) graph.EdgeNames[dot < 0 ? id : id + key[dot..]] = name;
        }
        var keys = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var n in graph.Nodes)
            for (int k = 0; k < n.OutputCount; k++) keys[n.OutputKey(k)] = k == 0 ? map[n.Output] : map[n.Output] + "." + k;
        for (int i = 0; i < graph.Nodes.Count; i++)
        {
            var n = graph.Nodes[i];
            n.Id = "n" + i;
            n.Output = map[n.Output];
            for (int k = 0; k < n.Inputs.Count; k++)
                if (n.Inputs[k] is EdgeOperand e) n.Inputs[k] = new EdgeOperand(map[e.Edge], e.Index);
        }
        return keys;
    }
}

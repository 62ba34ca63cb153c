using System.Text;
using Lamda.Graphs;
using Lamda.Text;

namespace Lamda.Llm;

/// <summary>
/// A GBNF grammar (llama.cpp's grammar format) for the answer to one slice, generated from LamdaText's node
/// grammar and specialized to the base graph: each line has the base node's id, operator, input edges,
/// output id and attributes, in order; what the model chooses is the channel counts <c>ch=IN:OUT</c>, as
/// numbers of at most as many digits as the base width. Counts the base fixes (the model's input channels,
/// layers that feed the task head) are literals. Decoding under this grammar can only produce text that
/// <see cref="LamdaTextReader"/> accepts; channel agreement, widths and budgets are the validators' job.
/// </summary>
internal static class LamdaGrammar
{
    public static string ForNodes(Graph graph, IReadOnlyList<Node> nodes, ChannelAnalysis analysis)
    {
        var fixedOut =
            analysis.Sources.Where(s => s.Node != null && analysis.IsFixed(s)).Select(s => s.Node!.Id).ToHashSet(StringComparer.Ordinal);
        var graphInputs = graph.Inputs.Select(i => i.Edge).ToHashSet(StringComparer.Ordinal);
        var rules = new StringBuilder();
        var root = new StringBuilder("root ::=");
        int maxDigits = 1;
        for (int i = 0; i < nodes.Count; i++)
        {
            var node = nodes[i];
            var line = LamdaTextWriter.NodeLine(node);
            int at = ChannelField(line);
            int end = line.IndexOf(' ', at + 1);
            if (end < 0) end = line.Length;
            var channels = line[(at + 4)..end].Split(':');
            bool inFixed = node.EdgeInputs.FirstOrDefault() is { } first && graphInputs.Contains(first.Edge);
            rules.Append($"l{i} ::= {Literal(line[..(at + 4)])} {Channel(channels[0], inFixed, ref maxDigits)} \":\" " +
                $"{Channel(channels[1], fixedOut.Contains(node.Id), ref maxDigits)}");
            if (end < line.Length) rules.Append(' ').Append(Literal(line[end..]));
            rules.Append(" \"\\n\"\n");
            root.Append($" l{i}");
        }
        root.Append('\n').Append(rules);
        for (int d = 1; d <= maxDigits; d++)
            root.Append($"c{d} ::= [1-9]").Append(string.Concat(Enumerable.Repeat(" [0-9]?", d - 1))).Append('\n');
        return root.ToString();
    }

    /// <summary>Position of the <c> ch=</c> field: the first one after the node's output (inputs and attributes may hold any
    /// string).</summary>
    static int ChannelField(string line)
    {
        int arrow = line.IndexOf(") -> %", StringComparison.Ordinal);
        int at = line.IndexOf(" ch=", arrow < 0 ? 0 : arrow, StringComparison.Ordinal);
        if (at < 0) throw new InvalidOperationException($"node line without ch=: {line}");
        return at;
    }

    static string Channel(string baseValue, bool isFixed, ref int maxDigits)
    {
        if (isFixed || baseValue == "?") return Literal(baseValue);
        maxDigits = Math.Max(maxDigits, baseValue.Length);
        return "c" + baseValue.Length;
    }

    /// <summary>A GBNF string literal: LamdaText's quoting, with \uXXXX for anything outside printable ASCII.</summary>
    public static string Literal(string text) => Syntax.Quote(text, c => c is < (char)0x20 or > (char)0x7e ? $"\\u{(int)c:X4}" : null);
}

using System.Text;
using Lamda.Graphs;

namespace Lamda.Text;

/// <summary>
/// Serializes a <see cref="Graph"/> to LamdaText (docs/lamdatext.md). The output is canonical: the same
/// graph always gives the same bytes, and reading then writing it again is the identity.
/// </summary>
public static class LamdaTextWriter
{
    /// <summary>The LamdaText of <paramref name="graph"/>; reading it back gives the same graph.</summary>
    public static string Write(Graph graph)
    {
        var sb = new StringBuilder(64 + graph.Nodes.Count * 96);
        WriteHeader(graph, sb);
        foreach (var n in graph.Nodes) WriteNode(n, sb).Append('\n');
        return sb.ToString();
    }

    /// <summary>The header lines (version, model, inputs, outputs), each ending in a newline.</summary>
    public static string Header(Graph graph) => WriteHeader(graph, new StringBuilder()).ToString();

    /// <summary>One node line without its newline.</summary>
    public static string NodeLine(Node node) => WriteNode(node, new StringBuilder(96)).ToString();

    static StringBuilder WriteHeader(Graph graph, StringBuilder sb)
    {
        sb.Append(Syntax.Magic).Append(' ').Append(Syntax.Int(Syntax.Version)).Append('\n');
        sb.Append("model ir=").Append(Syntax.Int(graph.IrVersion));
        foreach (var o in graph.Opsets)
        {
            sb.Append(' ').Append("opset");
            if (o.Domain.Length > 0) sb.Append('.').Append(o.Domain);
            sb.Append('=').Append(Syntax.Int(o.Version));
        }
        sb.Append('\n');
        foreach (var i in graph.Inputs) WriteValue("input", i, sb);
        foreach (var o in graph.Outputs) WriteValue("output", o, sb);
        foreach (var c in graph.Captures) sb.Append("capture %").Append(c.Key).Append(' ').Append(Syntax.Quote(c.Name)).Append('\n');
        return sb;
    }

    static void WriteValue(string keyword, GraphValue v, StringBuilder sb)
    {
        sb.Append(keyword).Append(" %").Append(v.Key).Append(' ').Append(Syntax.Quote(v.Name)).Append(' ');
        WriteType(v.Type, sb);
        sb.Append('\n');
    }

    static void WriteType(TensorType t, StringBuilder sb)
    {
        sb.Append(DataTypes.Name(t.ElemType)).Append('[');
        if (t.Dims == null) sb.Append('*');
        else
            for (int i = 0; i < t.Dims.Length; i++)
            {
                if (i > 0) sb.Append(',');
                var d = t.Dims[i];
                sb.Append(d.Param != null ? Syntax.Name(d.Param) : d.IsKnown ? Syntax.Int(d.Value) : "?");
            }
        sb.Append(']');
    }

    static StringBuilder WriteNode(Node n, StringBuilder sb)
    {
        sb.Append(n.Id).Append(' ');
        if (n.Domain.Length > 0) sb.Append(n.Domain).Append(':');
        sb.Append(n.Op).Append('(');
        for (int i = 0; i < n.Inputs.Count; i++)
        {
            if (i > 0) sb.Append(", ");
            WriteOperand(n.Inputs[i], sb);
        }
        sb.Append(") -> %").Append(n.Output);
        if (n.OutputCount > 1) sb.Append('*').Append(Syntax.Int(n.OutputCount));
        sb.Append(" ch=").Append(n.InChannels is { } ci ? Syntax.Int(ci) : "?").Append(':').Append(n.OutChannels is { } co ? Syntax.Int(co)
            : "?");
        foreach (var a in n.Attributes)
        {
            sb.Append(' ').Append(a.Name).Append('=');
            WriteAttribute(a.Value, sb);
        }
        return sb;
    }

    static void WriteOperand(Operand o, StringBuilder sb)
    {
        switch (o)
        {
            case EdgeOperand e: sb.Append('%').Append(e.Key); break;
            case WeightOperand w: sb.Append('@').Append(Syntax.Name(w.Name)); break;
            case LiteralOperand l: WriteLiteral(l.Value, sb); break;
            default: sb.Append('_'); break;
        }
    }

    internal static void WriteLiteral(TensorLiteral t, StringBuilder sb)
    {
        sb.Append(DataTypes.Name(t.DataType)).Append('[');
        for (int i = 0; i < t.Dims.Length; i++) { if (i > 0) sb.Append(','); sb.Append(Syntax.Int(t.Dims[i])); }
        sb.Append("]{");
        if (t.Ints != null)
            for (int i = 0; i < t.Ints.Length; i++) { if (i > 0) sb.Append(','); sb.Append(Syntax.Int(t.Ints[i])); }
        else
            for (int i = 0; i < t.Reals!.Length; i++)
            {
                if (i > 0) sb.Append(',');
                sb.Append(t.DataType == DataTypes.Float ? Syntax.Real((float)t.Reals[i]) : Syntax.Real(t.Reals[i]));
            }
        sb.Append('}');
    }

    static void WriteAttribute(AttributeValue v, StringBuilder sb)
    {
        switch (v.Kind)
        {
            case AttributeKind.Int: sb.Append(Syntax.Int(v.Int)); break;
            case AttributeKind.Float: sb.Append(Syntax.Real(v.Float)); break;
            case AttributeKind.String: sb.Append(Syntax.Quote(v.String)); break;
            case AttributeKind.Ints: sb.Append('[').AppendJoin(',', v.Ints.Select(Syntax.Int)).Append(']'); break;
            case AttributeKind.Floats:
                sb.Append('[').AppendJoin(',', v.Floats.Select(Syntax.Real)).Append(']');
                if (v.Floats.Length == 0) sb.Append('f');
                break;
            case AttributeKind.Strings:
                sb.Append('[').AppendJoin(',', v.Strings.Select(Syntax.Quote)).Append(']');
                if (v.Strings.Length == 0) sb.Append('s');
                break;
            case AttributeKind.Tensor: WriteLiteral(v.Tensor!, sb); break;
            case AttributeKind.Reference: sb.Append('@').Append(Syntax.Name(v.Reference)); break;
        }
    }
}

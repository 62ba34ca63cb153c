using Lamda.Graphs;
using Onnx;

namespace Lamda.Onnx;

/// <summary>Converts an ONNX <see cref="ModelProto"/> into a <see cref="Graph"/> plus the <see cref="WeightStore"/> it refers to.</summary>
public static class OnnxImporter
{
    /// <summary>
    /// Splits an ONNX model into its architecture and its weights; unsupported content is a coded error naming <paramref
    /// name="displayName"/>.
    /// </summary>
    public static (Graph Graph, WeightStore Weights) Import(ModelProto model, string displayName = "model")
    {
        var g = model.Graph ?? throw new LamdaException(ErrorCodes.InvalidModel, $"{displayName}: the model has no graph.");
        var weights = new WeightStore { Source = displayName };
        var graph = new Graph { IrVersion = model.IrVersion };
        foreach (var o in model.OpsetImport) graph.Opsets.Add(new OpsetId(o.Domain, o.Version));

        var initializers = new Dictionary<string, TensorProto>(StringComparer.Ordinal);
        foreach (var t in g.Initializer)
        {
            Runtime.ResourceLimits.CheckTensorProto(t, displayName);
            initializers[t.Name] = t;
            weights.Add(t.Name, t);
        }

        // Tensor name -> edge that carries it.
        var tensors = new Dictionary<string, EdgeOperand>(StringComparer.Ordinal);
        foreach (var input in g.Input)
        {
            if (initializers.ContainsKey(input.Name)) continue; // IR < 4 lists initializers as inputs
            var id = "in" + graph.Inputs.Count;
            graph.Inputs.Add(new GraphValue(id, input.Name, TypeOf(input, displayName)));
            tensors[input.Name] = new EdgeOperand(id);
        }

        ImportNodes(g, graph, tensors, initializers, weights, displayName);

        foreach (var captured in CapturedNames(g))
        {
            if (tensors.TryGetValue(captured, out var edge))
                graph.Captures.Add(new GraphValue(edge.Edge, captured, TensorType.Unknown) { Index = edge.Index });
            else if (initializers.ContainsKey(captured)) weights.CapturedWeights.Add(captured);
        }
        weights.Functions.AddRange(model.Functions);

        foreach (var output in g.Output)
        {
            if (!tensors.TryGetValue(output.Name, out var edge))
                throw new LamdaException(ErrorCodes.UnsupportedModel,
                    $"{displayName}: graph output '{output.Name}' is not computed by any node (a constant output); Lamda cannot adapt " +
                        "such a model.");
            graph.Outputs.Add(new GraphValue(edge.Edge, output.Name, TypeOf(output, displayName)) { Index = edge.Index });
        }
        ShapeInference.AnnotateChannels(graph, weights);
        return (graph, weights);
    }

    // Nodes in topological order, numbered n0, n1, ...; their outputs join the tensor-name map for later readers.
    static void ImportNodes(GraphProto g, Graph graph, Dictionary<string, EdgeOperand> tensors,
        Dictionary<string, TensorProto> initializers, WeightStore weights, string displayName)
    {
        var nodes = TopologicalOrder(g, initializers.Keys, displayName);
        for (int i = 0; i < nodes.Count; i++)
        {
            var p = nodes[i];
            var node = new Node("n" + i, p.OpType, i.ToString(System.Globalization.CultureInfo.InvariantCulture))
            {
                Domain = p.Domain,
                OutputCount = Math.Max(1, p.Output.Count),
            };
            for (int slot = 0; slot < p.Input.Count; slot++)
                node.Inputs.Add(ImportInput(p, slot, tensors, initializers, displayName));
            var firstOutput = p.Output.FirstOrDefault() ?? node.Id;
            foreach (var a in p.Attribute.OrderBy(a => a.Name, StringComparer.Ordinal))
                node.Attributes.Add(new NodeAttribute(a.Name, ImportAttribute(a, $"{firstOutput}#{a.Name}", weights)));
            for (int k = 0; k < p.Output.Count; k++)
            {
                if (p.Output[k].Length == 0) continue;
                var edge = new EdgeOperand(node.Output, k);
                tensors[p.Output[k]] = edge;
                graph.EdgeNames[edge.Key] = p.Output[k];
            }
            graph.Nodes.Add(node);
        }
    }

    // An input slot reads an edge, an initializer (inlined when small and not a weight slot, else a weight) or nothing.
    static Operand ImportInput(NodeProto p, int slot, Dictionary<string, EdgeOperand> tensors,
        Dictionary<string, TensorProto> initializers, string displayName)
    {
        var name = p.Input[slot];
        if (name.Length == 0) return EmptyOperand.Instance;
        if (tensors.TryGetValue(name, out var edge)) return edge;
        if (initializers.TryGetValue(name, out var init))
        {
            bool weightSlot = OperatorCatalog.IsWeightSlot(p.OpType, slot) && p.Domain is "" or "ai.onnx";
            var literal = ConstantPolicy.ShouldInline(init, weightSlot) ? TensorLiteral.FromTensorProto(init) : null;
            return literal != null ? new LiteralOperand(literal) : new WeightOperand(name);
        }
        throw new LamdaException(ErrorCodes.InvalidModel,
            $"{displayName}: node '{p.Name}' ({p.OpType}) reads '{name}', which no node, input or initializer defines.");
    }

    static AttributeValue ImportAttribute(AttributeProto a, string key, WeightStore weights)
    {
        switch (a.Type)
        {
            case AttributeProto.Types.AttributeType.Int: return AttributeValue.FromInt(a.I);
            case AttributeProto.Types.AttributeType.Float: return AttributeValue.FromFloat(a.F);
            case AttributeProto.Types.AttributeType.String: return AttributeValue.FromString(a.S.ToStringUtf8());
            case AttributeProto.Types.AttributeType.Ints: return AttributeValue.FromInts(a.Ints.ToArray());
            case AttributeProto.Types.AttributeType.Floats: return AttributeValue.FromFloats(a.Floats.ToArray());
            case AttributeProto.Types.AttributeType.Strings: return
                AttributeValue.FromStrings(a.Strings.Select(s => s.ToStringUtf8()).ToArray());
            case AttributeProto.Types.AttributeType.Tensor when ConstantPolicy.ShouldInline(a.T, false)
                && TensorLiteral.FromTensorProto(a.T) is { } lit:
                return AttributeValue.FromTensor(lit);
            case AttributeProto.Types.AttributeType.Tensor:
                weights.Add(key, a.T);
                return AttributeValue.FromReference(key);
            default:
                weights.AddAttribute(key, a);
                return AttributeValue.FromReference(key);
        }
    }

    /// <summary>Names that subgraph bodies read without defining them: values captured from the outer graph.</summary>
    static HashSet<string> CapturedNames(GraphProto g)
    {
        var captured = new HashSet<string>(StringComparer.Ordinal);
        foreach (var n in g.Node)
            foreach (var a in n.Attribute)
            {
                if (a.G != null) Collect(a.G, captured);
                foreach (var sub in a.Graphs) Collect(sub, captured);
            }
        return captured;

        static void Collect(GraphProto body, HashSet<string> into)
        {
            var defined = new HashSet<string>(StringComparer.Ordinal) { "" };
            foreach (var i in body.Input) defined.Add(i.Name);
            foreach (var t in body.Initializer) defined.Add(t.Name);
            foreach (var n in body.Node)
            {
                foreach (var i in n.Input) if (!defined.Contains(i)) into.Add(i);
                foreach (var a in n.Attribute)
                {
                    var inner = new HashSet<string>(StringComparer.Ordinal);
                    if (a.G != null) Collect(a.G, inner);
                    foreach (var sub in a.Graphs) Collect(sub, inner);
                    foreach (var i in inner) if (!defined.Contains(i)) into.Add(i);
                }
                foreach (var o in n.Output) defined.Add(o);
            }
            foreach (var o in body.Output) if (!defined.Contains(o.Name)) into.Add(o.Name);
        }
    }

    internal static TensorType TypeOf(ValueInfoProto v, string displayName)
    {
        if (v.Type?.TensorType is not { } tt)
            throw new LamdaException(ErrorCodes.UnsupportedModel,
                $"{displayName}: graph input/output '{v.Name}' is not a tensor; Lamda supports tensor inputs and outputs only.");
        if (tt.Shape == null) return new TensorType(tt.ElemType, null);
        return new TensorType(tt.ElemType, tt.Shape.Dim.Select(d =>
            d.ValueCase == TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue ? new Dim(d.DimValue)
            : d.ValueCase == TensorShapeProto.Types.Dimension.ValueOneofCase.DimParam ? new Dim(-1, d.DimParam)
            : Dim.Unknown).ToArray());
    }

    /// <summary>ONNX requires topological order, but not every exporter honours it; sort stably when needed.</summary>
    static List<NodeProto> TopologicalOrder(GraphProto g, IEnumerable<string> initializers, string displayName)
    {
        var available = new HashSet<string>(initializers, StringComparer.Ordinal) { "" };
        foreach (var i in g.Input) available.Add(i.Name);
        var pending = g.Node.ToList();
        var ordered = new List<NodeProto>(pending.Count);
        while (pending.Count > 0)
        {
            int before = ordered.Count;
            var next = new List<NodeProto>();
            foreach (var n in pending)
            {
                if (n.Input.All(available.Contains)) { ordered.Add(n); foreach (var o in n.Output) available.Add(o); }
                else next.Add(n);
            }
            if (ordered.Count == before)
            {
                var stuck = next[0];
                var missing = stuck.Input.First(i => !available.Contains(i));
                throw new LamdaException(ErrorCodes.InvalidModel,
                    $"{displayName}: node '{stuck.Name}' ({stuck.OpType}) reads '{missing}', which is never defined (or the graph has a " +
                        "cycle).");
            }
            pending = next;
        }
        return ordered;
    }
}

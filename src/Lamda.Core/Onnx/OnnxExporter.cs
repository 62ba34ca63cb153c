using Google.Protobuf;
using Lamda.Graphs;
using Onnx;

namespace Lamda.Onnx;

/// <summary>Turns a <see cref="Graph"/> back into an ONNX model, resolving weight references against a <see cref="WeightStore"/>.</summary>
public static class OnnxExporter
{
    /// <summary>The ONNX model of <paramref name="graph"/> with its weights resolved from <paramref name="weights"/>.</summary>
    public static ModelProto Export(Graph graph, WeightStore weights, string producer = "lamda")
    {
        var model = new ModelProto
        {
            IrVersion = graph.IrVersion,
            ProducerName = producer,
            ProducerVersion = typeof(OnnxExporter).Assembly.GetName().Version?.ToString(3) ?? "",
            Graph = new GraphProto { Name = "lamda" },
        };
        foreach (var o in graph.Opsets) model.OpsetImport.Add(new OperatorSetIdProto { Domain = o.Domain, Version = o.Version });
        model.Functions.AddRange(weights.Functions.Select(f => f.Clone()));
        var g = model.Graph;

        var names = new TensorNames(graph, weights);
        foreach (var i in graph.Inputs) g.Input.Add(ValueInfo(i.Name, i.Type));
        foreach (var o in graph.Outputs) g.Output.Add(ValueInfo(o.Name, o.Type));

        var exportedWeights = new HashSet<string>(StringComparer.Ordinal);
        // Initializers read only by subgraph bodies are not operands of any node; carry them explicitly.
        foreach (var name in weights.CapturedWeights)
            if (weights.TryGet(name, out var captured) && exportedWeights.Add(name))
            {
                var copy = captured.Clone();
                copy.Name = name;
                g.Initializer.Add(copy);
            }
        foreach (var n in graph.Nodes)
        {
            var p = new NodeProto { Name = n.Id, OpType = n.Op, Domain = n.Domain };
            for (int slot = 0; slot < n.Inputs.Count; slot++)
            {
                switch (n.Inputs[slot])
                {
                    case EmptyOperand: p.Input.Add(""); break;
                    case EdgeOperand e: p.Input.Add(names.Of(e.Key)); break;
                    case WeightOperand w:
                        if (!weights.TryGet(w.Name, out var t))
                            throw new LamdaException(ErrorCodes.MissingWeight,
                                $"node {n.Id} ({n.Op}) refers to weight @{w.Name}, which {weights.Source} does not contain. Use the base " +
                                    "model the text was made from.");
                        if (exportedWeights.Add(w.Name))
                        {
                            var copy = t.Clone();
                            copy.Name = w.Name;
                            g.Initializer.Add(copy);
                        }
                        p.Input.Add(w.Name);
                        break;
                    case LiteralOperand l:
                        var name = names.Fresh($"{n.Id}_c{slot}");
                        g.Initializer.Add(l.Value.ToTensorProto(name));
                        p.Input.Add(name);
                        break;
                }
            }
            for (int k = 0; k < n.OutputCount; k++) p.Output.Add(names.Of(n.OutputKey(k)));
            foreach (var a in n.Attributes) p.Attribute.Add(ExportAttribute(n, a, weights));
            g.Node.Add(p);
        }
        return model;
    }

    static AttributeProto ExportAttribute(Node n, NodeAttribute a, WeightStore weights)
    {
        var v = a.Value;
        var p = new AttributeProto { Name = a.Name };
        switch (v.Kind)
        {
            case AttributeKind.Int: p.Type = AttributeProto.Types.AttributeType.Int; p.I = v.Int; break;
            case AttributeKind.Float: p.Type = AttributeProto.Types.AttributeType.Float; p.F = v.Float; break;
            case AttributeKind.String: p.Type = AttributeProto.Types.AttributeType.String; p.S = ByteString.CopyFromUtf8(v.String); break;
            case AttributeKind.Ints: p.Type = AttributeProto.Types.AttributeType.Ints; p.Ints.AddRange(v.Ints); break;
            case AttributeKind.Floats: p.Type = AttributeProto.Types.AttributeType.Floats; p.Floats.AddRange(v.Floats); break;
            case AttributeKind.Strings: p.Type =
                AttributeProto.Types.AttributeType.Strings; p.Strings.AddRange(v.Strings.Select(ByteString.CopyFromUtf8)); break;
            case AttributeKind.Tensor: p.Type = AttributeProto.Types.AttributeType.Tensor; p.T = v.Tensor!.ToTensorProto(""); break;
            case AttributeKind.Reference:
                if (weights.Attributes.TryGetValue(v.Reference, out var stored))
                {
                    p = stored.Clone();
                    p.Name = a.Name;
                }
                else if (weights.TryGet(v.Reference, out var t))
                {
                    p.Type = AttributeProto.Types.AttributeType.Tensor;
                    p.T = t.Clone();
                }
                else throw new LamdaException(
                    ErrorCodes.MissingWeight,
                    $"node {n.Id} ({n.Op}) attribute {a.Name} refers to @{v.Reference}, which {weights.Source} does not contain. Use the " +
                        "base model the text was made from.");
                break;
        }
        return p;
    }

    internal static ValueInfoProto ValueInfo(string name, TensorType type)
    {
        var tt = new TypeProto.Types.Tensor { ElemType = type.ElemType };
        if (type.Dims != null)
        {
            tt.Shape = new TensorShapeProto();
            foreach (var d in type.Dims)
            {
                var dim = new TensorShapeProto.Types.Dimension();
                if (d.Param != null) dim.DimParam = d.Param;
                else if (d.IsKnown) dim.DimValue = d.Value;
                tt.Shape.Dim.Add(dim);
            }
        }
        return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = tt } };
    }

    /// <summary>Assigns every edge a unique ONNX tensor name: graph I/O keep theirs, others reuse the original name when free.</summary>
    sealed class TensorNames
    {
        readonly Dictionary<string, string> byKey = new(StringComparer.Ordinal);
        readonly HashSet<string> used = new(StringComparer.Ordinal);
        readonly Graph graph;

        readonly Dictionary<string, string> referenceStems = new(StringComparer.Ordinal);

        public TensorNames(Graph graph, WeightStore weights)
        {
            this.graph = graph;
            foreach (var n in graph.Nodes)
                foreach (var a in n.Attributes)
                    if (a.Value.Kind == AttributeKind.Reference && a.Value.Reference.EndsWith("#" + a.Name, StringComparison.Ordinal)
                        && a.Value.Reference.Length > a.Name.Length + 1)
                        referenceStems.TryAdd(n.OutputKey(0), a.Value.Reference[..^(a.Name.Length + 1)]);
            foreach (var i in graph.Inputs) Bind(i.Key, i.Name);
            foreach (var o in graph.Outputs)
                if (!byKey.ContainsKey(o.Key)) Bind(o.Key, o.Name);
            // Subgraphs refer to these outer values by name: they must keep it.
            foreach (var c in graph.Captures)
                if (!byKey.ContainsKey(c.Key)) Bind(c.Key, c.Name);
            foreach (var n in graph.Nodes)
                foreach (var w in n.Inputs.OfType<WeightOperand>()) used.Add(w.Name);
        }

        void Bind(string key, string name) { byKey[key] = name; used.Add(name); }

        public string Of(string key)
        {
            if (byKey.TryGetValue(key, out var name)) return name;
            // Text carries no edge names; a node with a tensor attribute keyed OUTPUT#attr by the importer (paddle2onnx
            // keeps weights in Constant nodes) takes OUTPUT back, so a raw round trip keeps the weight names.
            var original = graph.EdgeNames.GetValueOrDefault(key) ?? referenceStems.GetValueOrDefault(key);
            name = original != null && !used.Contains(original) ? original : Fresh("t" + key);
            Bind(key, name);
            return name;
        }

        public string Fresh(string stem)
        {
            var name = stem;
            for (int i = 1; used.Contains(name); i++) name = $"{stem}_{i}";
            used.Add(name);
            return name;
        }
    }
}

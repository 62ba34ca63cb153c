using Google.Protobuf;
using Lamda.Runtime;
using Lamda.Training.Gradients;
using Onnx;

namespace Lamda.Training;

/// <summary>
/// Reverse-mode differentiation of an ONNX graph into standard ONNX operators. The forward nodes are kept; for each
/// node between a trainable weight and the loss, in reverse order, its operator's <see cref="Operators.IGradientRule"/> appends
/// the nodes that turn output gradients into input gradients. Gradients reaching a tensor from several consumers are
/// summed.
/// </summary>
internal static class BackwardGraph
{
    /// <summary>
    /// Builds the gradient model of <paramref name="forward"/>, whose tensor <paramref name="loss"/> is a scalar.
    /// <paramref name="sampleFeeds"/> (every graph input: data and targets) fixes the shapes the backward nodes use.
    /// </summary>
    public static GradientModel Build(ModelProto forward, string loss, IReadOnlyCollection<string> trainable,
        IReadOnlyDictionary<string, TensorData> sampleFeeds)
    {
        var model = forward.Clone();
        ConstantNodes.ToInitializers(model.Graph);
        var graph = model.Graph;
        var weights = new HashSet<string>(trainable.Where(w => graph.Initializer.Any(i => i.Name == w)), StringComparer.Ordinal);
        var dependsOnWeights = new HashSet<string>(weights, StringComparer.Ordinal);
        var path = ForwardPath(graph, dependsOnWeights);
        path = ReachingLoss(path, loss);
        if (!dependsOnWeights.Contains(loss))
            throw new LamdaException(ErrorCodes.NoGradient, $"the loss '{loss}' does not depend on any trainable weight.");

        var shapeTensors = path.SelectMany(n => n.Input.Concat(n.Output)).Where(t => t.Length > 0).Append(loss);
        var valueTensors = path.SelectMany(n => GradientRules.For(n)!.ValueSlots(n).Where(s => s < n.Input.Count && n.Input[s].Length > 0)
            .Select(s => n.Input[s]));
        var facts = ForwardFacts.Probe(model, shapeTensors, valueTensors, sampleFeeds);

        var emit = new GradientEmitter(graph, model.OpsetImport.FirstOrDefault(o => o.Domain is "" or "ai.onnx")?.Version ?? 13);
        var sums = new GradientSums(emit);
        sums.Add(loss, emit.Floats(facts.ShapeOf(loss), [1f]));
        for (int i = path.Count - 1; i >= 0; i--)
        {
            var node = path[i];
            var rule = GradientRules.For(node)!;
            var g = new NodeGradient(node, emit, facts, sums.Total,
                slot => dependsOnWeights.Contains(node.Input[slot]) && rule.IsDifferentiable(node, slot));
            if (node.Output.All(o => sums.Total(o) == null)) continue;
            rule.Backward(g);
            foreach (var (slot, grad) in g.InputGradients) sums.Add(node.Input[slot], grad);
        }
        return Finish(model, loss, weights, sums, facts);
    }

    /// <summary>
    /// Nodes through which some trainable weight reaches their outputs, in graph order; fills <paramref
    /// name="depends"/>.
    /// </summary>
    static List<NodeProto> ForwardPath(GraphProto graph, HashSet<string> depends)
    {
        var path = new List<NodeProto>();
        foreach (var node in graph.Node)
        {
            if (GradientRules.StopsGradient(node)) continue;
            var rule = GradientRules.For(node);
            bool onPath = false;
            for (int slot = 0; slot < node.Input.Count; slot++)
            {
                if (!depends.Contains(node.Input[slot])) continue;
                if (rule == null)
                    throw new LamdaException(ErrorCodes.NoGradient,
                        $"node {node.Name} ({node.OpType}): no gradient rule for operator {node.OpType}, which lies between a trainable " +
                        "weight and the loss. Fine-tuning cannot train this model; adapt it without training.");
                onPath |= rule.IsDifferentiable(node, slot);
            }
            if (!onPath) continue;
            path.Add(node);
            depends.UnionWith(node.Output.Where(o => o.Length > 0));
        }
        return path;
    }

    /// <summary>Drops path nodes the loss does not read, so no gradient is computed for unused branches.</summary>
    static List<NodeProto> ReachingLoss(List<NodeProto> path, string loss)
    {
        var needed = new HashSet<string>(StringComparer.Ordinal) { loss };
        var kept = new List<NodeProto>();
        for (int i = path.Count - 1; i >= 0; i--)
        {
            if (!path[i].Output.Any(needed.Contains)) continue;
            kept.Add(path[i]);
            needed.UnionWith(path[i].Input);
        }
        kept.Reverse();
        return kept;
    }

    static GradientModel Finish(ModelProto model, string loss, HashSet<string> weights, GradientSums sums, ForwardFacts facts)
    {
        var graph = model.Graph;
        graph.Output.Clear();
        graph.Output.Add(FloatValue(loss, facts.ShapeOf(loss)));
        var gradients = new Dictionary<string, string>(StringComparer.Ordinal);
        var unreached = new List<string>();
        foreach (var w in weights.Order(StringComparer.Ordinal))
        {
            var total = sums.Total(w);
            if (total == null) { unreached.Add(w); continue; }
            var name = sums.Emit.Op("Identity", [total]);
            gradients[w] = name;
            graph.Output.Add(FloatValue(name, facts.ShapeOf(w)));
        }
        // Trained weights become inputs, so each step feeds their current values without rebuilding the model.
        foreach (var w in gradients.Keys)
        {
            var init = graph.Initializer.First(i => i.Name == w);
            graph.Initializer.Remove(init);
            graph.Input.Add(FloatValue(w, init.Dims.ToArray()));
        }
        return new GradientModel { Model = model.ToByteArray(), Loss = loss, Gradients = gradients, Unreached = unreached };
    }

    static ValueInfoProto FloatValue(string name, long[] shape)
    {
        var tensor = new TypeProto.Types.Tensor { ElemType = Graphs.DataTypes.Float, Shape = new TensorShapeProto() };
        foreach (var d in shape) tensor.Shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = d });
        return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = tensor } };
    }

    /// <summary>Gradient contributions per tensor, summed (one Sum node) the first time the total is read.</summary>
    sealed class GradientSums(GradientEmitter emit)
    {
        readonly Dictionary<string, List<string>> parts = new(StringComparer.Ordinal);
        public GradientEmitter Emit => emit;

        public void Add(string tensor, string gradient)
        {
            if (!parts.TryGetValue(tensor, out var list)) parts[tensor] = list = [];
            list.Add(gradient);
        }

        public string? Total(string tensor)
        {
            if (!parts.TryGetValue(tensor, out var list)) return null;
            if (list.Count > 1)
            {
                var sum = emit.Op("Sum", list);
                list.Clear();
                list.Add(sum);
            }
            return list[0];
        }
    }
}

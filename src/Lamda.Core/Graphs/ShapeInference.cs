using Lamda.Operators;

namespace Lamda.Graphs;

/// <summary>Types of every edge, and the values of small integer tensors that could be computed statically.</summary>
public sealed class InferenceResult
{
    /// <summary>Inferred types by edge key.</summary>
    public Dictionary<string, TensorType> Types { get; } = [];
    /// <summary>Values of the small integer tensors that could be computed statically, by edge key.</summary>
    public Dictionary<string, TensorLiteral> Values { get; } = [];

    /// <summary>The type of edge <paramref name="key"/>, or <see cref="TensorType.Unknown"/> when inference could not tell.</summary>
    public TensorType TypeOf(string key) => Types.GetValueOrDefault(key) ?? TensorType.Unknown;
}

/// <summary>
/// Static shape and channel inference over a <see cref="Graph"/>. It also evaluates integer shape
/// arithmetic (Shape, Gather, Unsqueeze, Concat, Add, Mul, Div, Slice...) so that exporter noise such as
/// <c>Shape -> Gather -> Div -> Slice</c> can be folded into constants by the normalizer.
/// Unsupported operators yield unknown types: inference degrades, it never fails.
/// </summary>
internal static class ShapeInference
{
    /// <param name="graph">the graph to annotate</param>
    /// <param name="weights">its weights, for the shapes of weight operands and constant folding (may be null)</param>
    /// <param name="batchOne">
    /// Treat symbolic input dimensions as 1, as latency measurement does (batch 1). Only for costing: the
    /// normalizer must not use it, or it would fold a symbolic batch size into constants.
    /// </param>
    public static InferenceResult Run(Graph graph, WeightStore? weights, bool batchOne = false)
    {
        var r = new InferenceResult();
        foreach (var i in graph.Inputs)
            r.Types[i.Edge] = batchOne && i.Type.Dims != null
                ? i.Type.WithDims(i.Type.Dims.Select(d => d.IsKnown ? d : new Dim(1)).ToArray()) : i.Type;
        foreach (var node in graph.Nodes)
        {
            var ctx = new ShapeContext(node, r, weights, graph.Opset);
            TensorType[] outs;
            try { outs = Infer(ctx); }
            catch (Exception) // inference is best effort: an unexpected attribute form must not stop import
            {
                outs = [];
            }
            for (int k = 0; k < node.OutputCount; k++)
                r.Types[node.OutputKey(k)] = k < outs.Length ? outs[k] : TensorType.Unknown;
            // Only integer tensors are propagated: they are shape arithmetic, never learned weights.
            if (ctx.Value is { Ints: not null } v && v.Count <= ShapeMath.MaxFoldedElements) r.Values[node.Output] = v;
        }
        return r;
    }

    /// <summary>Sets <see cref="Node.InChannels"/> and <see cref="Node.OutChannels"/> from inferred types.</summary>
    public static InferenceResult AnnotateChannels(Graph graph, WeightStore? weights)
    {
        var r = Run(graph, weights);
        foreach (var n in graph.Nodes)
        {
            var data = n.Inputs.FirstOrDefault(o => o is EdgeOperand or WeightOperand or LiteralOperand);
            n.InChannels = data is EdgeOperand e ? r.TypeOf(e.Key).Channels : null;
            n.OutChannels = r.TypeOf(n.Output).Channels;
        }
        return r;
    }

    /// <summary>The node's output types from its operator's rule; none for other domains and unknown operators.</summary>
    static TensorType[] Infer(ShapeContext c) =>
        c.Node.Domain is "" or "ai.onnx" ? OperatorRegistry.Get(c.Node.Op).InferTypes(c) : [];
}

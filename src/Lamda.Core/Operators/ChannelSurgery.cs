using Lamda.Graphs;

namespace Lamda.Operators;

/// <summary>
/// One node's part of a channel selection, as <see cref="ChannelPruner"/> hands it to the node's rule: which
/// positions of its first input and which of its own output channels stay, and the means to slice its weights.
/// </summary>
internal sealed class ChannelSurgery
{
    readonly WeightSlicer slicer;

    internal ChannelSurgery(ChannelAnalysis analysis, bool[] keep, WeightSlicer slicer, Node node, Node original, int[]? outputKept)
    {
        Analysis = analysis;
        Keep = keep;
        this.slicer = slicer;
        Node = node;
        Original = original;
        Input = node.Inputs.Count > 0 ? analysis.LayoutOf(original.Inputs[0]) : null;
        InputKept = Input == null ? [] : Enumerable.Range(0, Input.Labels.Length).Where(p => keep[Input.Labels[p]]).ToArray();
        OutputKept = outputKept;
    }

    public ChannelAnalysis Analysis { get; }
    /// <summary>The selection: true for every channel ref that stays.</summary>
    public bool[] Keep { get; }
    /// <summary>The node being rewritten (in the new graph).</summary>
    public Node Node { get; }
    /// <summary>The same node in the analysed graph, whose edges the layouts are keyed by.</summary>
    public Node Original { get; }
    /// <summary>Channel layout of the first input, if it has one.</summary>
    public ChannelLayout? Input { get; }
    /// <summary>Positions of the first input's channel axis that stay.</summary>
    public int[] InputKept { get; }
    /// <summary>Output channels of this layer that stay, or null when all of them do.</summary>
    public int[]? OutputKept { get; }

    public bool InputChanged => Input != null && InputKept.Length != Input.Labels.Length;

    /// <summary>The input positions to select, or null when the input is unchanged.</summary>
    public int[]? InputSelection => InputChanged ? InputKept : null;

    /// <summary>Selects <c>Indices</c> along each <c>Axis</c> of the weight or literal in input <paramref name="slot"/>.</summary>
    public void Slice(int slot, params (int Axis, int[]? Indices)[] selections) => slicer.Slice(Node, slot, selections);

    /// <summary>
    /// Slices per-channel constants of elementwise operators (PRelu slopes, scales, biases) with the input's
    /// channels: any weight or literal whose channel axis, aligned right as broadcasting does, has the input's width.
    /// </summary>
    public void SlicePerChannelConstants()
    {
        var outType = Analysis.Inference.TypeOf(Original.Output);
        if (!InputChanged || outType.Rank < 2) return;
        for (int s = 0; s < Node.Inputs.Count; s++)
        {
            var dims = Original.Inputs[s] switch
            {
                WeightOperand w => Analysis.Weights.ShapeOf(w.Name),
                LiteralOperand l => l.Value.Dims,
                _ => null,
            };
            if (dims == null) continue;
            int axis = dims.Length - (outType.Rank - 1);
            if (axis >= 0 && axis < dims.Length && dims[axis] == Input!.Labels.Length && dims[axis] > 1) Slice(s, (axis, InputKept));
        }
    }
}

/// <summary>
/// Writes sliced weights into the pruned model's store. A weight read by several nodes gets a new name per
/// node, so each can be sliced its own way. With <c>shapesOnly</c> the slices carry shapes but no data.
/// </summary>
internal sealed class WeightSlicer(WeightStore store, IReadOnlyDictionary<string, int> uses, bool shapesOnly)
{
    public void Slice(Node n, int slot, (int Axis, int[]? Indices)[] selections)
    {
        if (slot >= n.Inputs.Count) return;
        switch (n.Inputs[slot])
        {
            case WeightOperand w when store.TryGet(w.Name, out var proto):
                var name = uses.GetValueOrDefault(w.Name) > 1 ? store.UniqueName($"{w.Name}.{n.Id}") : w.Name;
                var sliced = shapesOnly ? SliceShape(proto, name, selections) : FloatTensor.From(proto).SelectAll(selections).ToProto(name);
                store.Add(name, sliced);
                n.Inputs[slot] = new WeightOperand(name);
                break;
            case LiteralOperand { Value.Reals: not null } l:
                var t = new FloatTensor(l.Value.Dims, l.Value.Reals!.Select(r => (float)r).ToArray()).SelectAll(selections);
                var reals = t.Data.Select(f => (double)f).ToArray();
                n.Inputs[slot] = new LiteralOperand(new TensorLiteral(l.Value.DataType, t.Dims, null, reals));
                break;
        }
    }

    static global::Onnx.TensorProto SliceShape(global::Onnx.TensorProto proto, string name, (int Axis, int[]? Indices)[] selections)
    {
        var dims = proto.Dims.ToArray();
        foreach (var (axis, indices) in selections)
            if (indices != null && axis < dims.Length) dims[axis] = indices.Length;
        var shape = new global::Onnx.TensorProto { Name = name, DataType = proto.DataType };
        shape.Dims.AddRange(dims);
        return shape;
    }
}

static class FloatTensorSelection
{
    /// <summary>Applies every selection whose axis the tensor has; a null selection keeps the axis whole.</summary>
    public static FloatTensor SelectAll(this FloatTensor t, (int Axis, int[]? Indices)[] selections)
    {
        foreach (var (axis, indices) in selections)
            if (indices != null && axis < t.Dims.Length) t = t.Select(axis, indices);
        return t;
    }
}

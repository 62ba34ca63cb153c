using Lamda.Graphs;

namespace Lamda.Operators;

/// <summary>What a rule's shape inference sees of one node: its input types and the statically known values.</summary>
internal sealed class ShapeContext
{
    readonly InferenceResult result;
    readonly WeightStore? weights;

    internal ShapeContext(Node node, InferenceResult result, WeightStore? weights, long opset)
    {
        Node = node;
        Opset = opset;
        this.result = result;
        this.weights = weights;
    }

    public Node Node { get; }
    public long Opset { get; }

    /// <summary>The node's output value when it is small integer shape arithmetic that could be evaluated.</summary>
    public TensorLiteral? Value { get; set; }

    public int Count => Node.Inputs.Count;

    /// <summary>Type of the first input, which most rules start from.</summary>
    public TensorType X => Type(0);

    public bool Has(int i) => i < Node.Inputs.Count && Node.Inputs[i] is not EmptyOperand;

    public TensorType Type(int i) => i >= Node.Inputs.Count ? TensorType.Unknown : Node.Inputs[i] switch
    {
        EdgeOperand e => result.TypeOf(e.Key),
        WeightOperand w when weights?.TryGet(w.Name, out var t) == true =>
            new TensorType(t.DataType, t.Dims.Select(d => new Dim(d)).ToArray()),
        LiteralOperand l => new TensorType(l.Value.DataType, l.Value.Dims.Select(d => new Dim(d)).ToArray()),
        _ => TensorType.Unknown,
    };

    public TensorLiteral? Val(int i) => i >= Node.Inputs.Count ? null : Node.Inputs[i] switch
    {
        EdgeOperand e => result.Values.GetValueOrDefault(e.Key),
        WeightOperand w => SmallValue(w.Name),
        LiteralOperand l => l.Value,
        _ => null,
    };

    TensorLiteral? SmallValue(string name)
    {
        var shape = weights?.ShapeOf(name);
        if (shape == null || shape.Aggregate(1L, (a, d) => a * d) > ShapeMath.MaxFoldedElements) return null;
        return weights!.ValueOf(name);
    }

    public long[]? Ints(int i) => Val(i)?.AsInt64();

    /// <summary>The type of a tensor in the weight store: a Constant node's value as paddle2onnx exports weights.</summary>
    public TensorType? Stored(string name) =>
        weights?.TryGet(name, out var t) == true ? new TensorType(t.DataType, t.Dims.Select(d => new Dim(d)).ToArray()) : null;
}

/// <summary>Dimension arithmetic shared by the rules' shape inference.</summary>
internal static class ShapeMath
{
    /// <summary>Integer tensors up to this many elements are evaluated; larger ones are left alone.</summary>
    public const int MaxFoldedElements = 4096;

    public static TensorType Same(TensorType t, Dim[]? dims) => new(t.ElemType, dims);

    public static int Axis(long axis, int rank) => (int)(axis < 0 ? axis + rank : axis);

    public static Dim Product(IEnumerable<Dim> dims)
    {
        long p = 1;
        foreach (var d in dims) { if (!d.IsKnown) return Dim.Unknown; p *= d.Value; }
        return p;
    }

    /// <summary>Numpy-style broadcast of two shapes (aligned right).</summary>
    public static Dim[] Broadcast(Dim[] a, Dim[] b)
    {
        int rank = Math.Max(a.Length, b.Length);
        var r = new Dim[rank];
        for (int i = 0; i < rank; i++)
        {
            var da = i - (rank - a.Length) >= 0 ? a[i - (rank - a.Length)] : new Dim(1);
            var db = i - (rank - b.Length) >= 0 ? b[i - (rank - b.Length)] : new Dim(1);
            r[i] = da.IsKnown && da.Value == 1 ? db
                : db.IsKnown && db.Value == 1 ? da
                : da.IsKnown ? da
                : db.IsKnown ? db
                : da.Param != null && da.Param == db.Param ? da : Dim.Unknown;
        }
        return r;
    }
}

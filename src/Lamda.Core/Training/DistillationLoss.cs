using Lamda.Graphs;
using Onnx;

namespace Lamda.Training;

/// <summary>How one student tensor is compared with its target.</summary>
internal enum LossKind
{
    /// <summary>Mean squared error, for logits and dense outputs.</summary>
    MeanSquared,
    /// <summary>
    /// KL divergence of a Softmax output's class probabilities at a temperature T, computed from the student's logits
    /// (the Softmax's input): T^2 KL(softmax(log t / T) || softmax(z / T)). The teacher's logits are log t up to a
    /// constant per row, so its probabilities are all the target needs.
    /// </summary>
    SoftmaxKl,
    /// <summary>
    /// Elementwise binary KL divergence of a Sigmoid output, computed from the student's logits (the Sigmoid's input):
    /// softplus(z) - t z plus the target's negative entropy. Stable for saturated logits, where log(1 - sigmoid(z))
    /// in float32 is log(0 + eps) and its gradient 1/eps.
    /// </summary>
    SigmoidKl,
    /// <summary>Cross-entropy of logits with one-hot labels.</summary>
    LogitsCrossEntropy,
}

/// <summary>
/// One term of the loss: a student tensor, the graph input holding its target, how to compare, and a weight. A
/// <see cref="LossKind.SoftmaxKl"/> term also has its temperature and the Softmax's axis attribute (null: the
/// operator's default in the model's opset, which coerces to 2-D before opset 13).
/// </summary>
internal sealed record LossTerm(string Tensor, string Target, LossKind Kind, float Weight, long[] Shape, float Temperature = 1f,
    long? Axis = null);

/// <summary>Appends the distillation loss to a student model: one target input per term, the weighted terms summed to a scalar.</summary>
internal static class DistillationLoss
{
    const float Eps = 1e-7f, TinyProbability = 1e-30f;

    public static string Append(ModelProto model, IReadOnlyList<LossTerm> terms)
    {
        var e = new GradientEmitter(model.Graph, model.OpsetImport.First(o => o.Domain is "" or "ai.onnx").Version);
        string? total = null;
        foreach (var term in terms)
        {
            model.Graph.Input.Add(TargetInput(term));
            var value = Term(e, term);
            if (term.Weight != 1f) value = e.Op("Mul", [value, e.Scalar(term.Weight)]);
            total = total == null ? value : e.Op("Add", [total, value]);
        }
        return total ?? throw new ArgumentException("no loss terms");
    }

    /// <summary>The kind for an output: KL where it is a probability (its producer is Softmax or Sigmoid), MSE otherwise.</summary>
    public static LossKind KindOf(ModelProto model, string output) =>
        Producer(model, output)?.OpType switch
        {
            "Softmax" => LossKind.SoftmaxKl,
            "Sigmoid" => LossKind.SigmoidKl,
            _ => LossKind.MeanSquared,
        };

    /// <summary>The student tensor a term of this kind compares: a Softmax or Sigmoid output's logits, else the output itself.</summary>
    public static string LossTensor(ModelProto model, string output, LossKind kind) =>
        kind is LossKind.SigmoidKl or LossKind.SoftmaxKl ? Producer(model, output)!.Input[0] : output;

    /// <summary>The axis attribute of the Softmax that produces <paramref name="output"/>, when it has one.</summary>
    public static long? SoftmaxAxis(ModelProto model, string output) =>
        Producer(model, output)?.Attribute.FirstOrDefault(a => a.Name == "axis")?.I;

    static NodeProto? Producer(ModelProto model, string output) => model.Graph.Node.FirstOrDefault(n => n.Output.Contains(output));

    static string Term(GradientEmitter e, LossTerm term)
    {
        string s = term.Tensor, t = term.Target;
        string Log(string x, float eps = Eps) => e.Op("Log", [e.Op("Add", [x, e.Scalar(eps)])]);
        string Mean(string x) => e.Op("ReduceMean", [x], ("keepdims", 0L));
        // Mean over all elements times the class count: a sum over classes, averaged over the batch.
        string PerItem(string x) => e.Op("Mul", [Mean(x), e.Scalar(term.Shape[^1])]);
        switch (term.Kind)
        {
            case LossKind.MeanSquared:
                var d = e.Op("Sub", [s, t]);
                return Mean(e.Op("Mul", [d, d]));
            case LossKind.SoftmaxKl:
            {
                // log t in place of the teacher's logits: a probability that underflowed to 0 becomes 1e-30, which any
                // temperature leaves negligible (an epsilon of 1e-7 would give 6625 classes at T = 2 a tail of mass 2).
                (string, object)[] axis = term.Axis is { } a ? [("axis", a)] : [];
                string Softened(string logits) => e.Op("LogSoftmax", [e.Op("Mul", [logits, e.Scalar(1f / term.Temperature)])], axis);
                var logTeacher = Softened(Log(t, TinyProbability));
                var logStudent = Softened(s);
                var kl = PerItem(e.Op("Mul", [e.Op("Exp", [logTeacher]), e.Op("Sub", [logTeacher, logStudent])]));
                // T^2 keeps the gradient's scale (T (p_s - p_t) per logit) level with the other terms' whatever T is.
                return term.Temperature == 1f ? kl : e.Op("Mul", [kl, e.Scalar(term.Temperature * term.Temperature)]);
            }
            case LossKind.SigmoidKl:
                // Cross-entropy on logits, softplus(z) - t z (ORT's Softplus is x + log1p(e^-x) for x > 0), so its
                // gradient sigmoid(z) - t is bounded; the entropy of the target is a constant that makes the value a KL.
                var crossEntropy = e.Op("Sub", [e.Op("Softplus", [s]), e.Op("Mul", [t, s])]);
                var nt = e.Op("Sub", [e.Scalar(1f), t]);
                var negEntropy = e.Op("Add", [e.Op("Mul", [t, Log(t)]), e.Op("Mul", [nt, Log(nt)])]);
                return Mean(e.Op("Add", [crossEntropy, negEntropy]));
            default:
                var logp = e.Op("LogSoftmax", [s], ("axis", (long)(term.Shape.Length - 1)));
                return e.Op("Neg", [PerItem(e.Op("Mul", [t, logp]))]);
        }
    }

    static ValueInfoProto TargetInput(LossTerm term)
    {
        var tensor = new TypeProto.Types.Tensor { ElemType = DataTypes.Float, Shape = new TensorShapeProto() };
        tensor.Shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimParam = "batch" });
        foreach (var d in term.Shape[1..]) tensor.Shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = d });
        return new ValueInfoProto { Name = term.Target, Type = new TypeProto { TensorType = tensor } };
    }
}

using Lamda.Graphs;
using Onnx;

namespace Lamda.Training;

/// <summary>How one student tensor is compared with its target.</summary>
internal enum LossKind
{
    /// <summary>Mean squared error, for logits and dense outputs.</summary>
    MeanSquared,
    /// <summary>KL divergence of class probabilities along the last axis (a Softmax output).</summary>
    SoftmaxKl,
    /// <summary>
    /// Elementwise binary KL divergence of a Sigmoid output, computed from the student's logits (the Sigmoid's input):
    /// softplus(z) - t z plus the target's negative entropy. Stable for saturated logits, where log(1 - sigmoid(z))
    /// in float32 is log(0 + eps) and its gradient 1/eps.
    /// </summary>
    SigmoidKl,
    /// <summary>Cross-entropy of logits with one-hot labels.</summary>
    LogitsCrossEntropy,
    /// <summary>Cross-entropy of probabilities with one-hot labels.</summary>
    ProbabilityCrossEntropy,
}

/// <summary>One term of the loss: a student tensor, the graph input holding its target, how to compare, and a weight.</summary>
internal sealed record LossTerm(string Tensor, string Target, LossKind Kind, float Weight, long[] Shape);

/// <summary>Appends the distillation loss to a student model: one target input per term, the weighted terms summed to a scalar.</summary>
internal static class DistillationLoss
{
    const float Eps = 1e-7f;

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

    /// <summary>The student tensor a term of this kind compares: a Sigmoid output's logits, else the output itself.</summary>
    public static string LossTensor(ModelProto model, string output, LossKind kind) =>
        kind == LossKind.SigmoidKl ? Producer(model, output)!.Input[0] : output;

    static NodeProto? Producer(ModelProto model, string output) => model.Graph.Node.FirstOrDefault(n => n.Output.Contains(output));

    static string Term(GradientEmitter e, LossTerm term)
    {
        string s = term.Tensor, t = term.Target;
        string Log(string x) => e.Op("Log", [e.Op("Add", [x, e.Scalar(Eps)])]);
        string Mean(string x) => e.Op("ReduceMean", [x], ("keepdims", 0L));
        // Mean over all elements times the class count: a sum over classes, averaged over the batch.
        string PerItem(string x) => e.Op("Mul", [Mean(x), e.Scalar(term.Shape[^1])]);
        switch (term.Kind)
        {
            case LossKind.MeanSquared:
                var d = e.Op("Sub", [s, t]);
                return Mean(e.Op("Mul", [d, d]));
            case LossKind.SoftmaxKl:
                return PerItem(e.Op("Mul", [t, e.Op("Sub", [Log(t), Log(s)])]));
            case LossKind.SigmoidKl:
                // Cross-entropy on logits, softplus(z) - t z (ORT's Softplus is x + log1p(e^-x) for x > 0), so its
                // gradient sigmoid(z) - t is bounded; the entropy of the target is a constant that makes the value a KL.
                var crossEntropy = e.Op("Sub", [e.Op("Softplus", [s]), e.Op("Mul", [t, s])]);
                var nt = e.Op("Sub", [e.Scalar(1f), t]);
                var negEntropy = e.Op("Add", [e.Op("Mul", [t, Log(t)]), e.Op("Mul", [nt, Log(nt)])]);
                return Mean(e.Op("Add", [crossEntropy, negEntropy]));
            case LossKind.LogitsCrossEntropy:
                var logp = e.Op("LogSoftmax", [s], ("axis", (long)(term.Shape.Length - 1)));
                return e.Op("Neg", [PerItem(e.Op("Mul", [t, logp]))]);
            default:
                return e.Op("Neg", [PerItem(e.Op("Mul", [t, Log(s)]))]);
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

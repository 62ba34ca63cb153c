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
    /// <summary>Elementwise binary KL divergence (a Sigmoid output).</summary>
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
        model.Graph.Node.FirstOrDefault(n => n.Output.Contains(output))?.OpType switch
        {
            "Softmax" => LossKind.SoftmaxKl,
            "Sigmoid" => LossKind.SigmoidKl,
            _ => LossKind.MeanSquared,
        };

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
                var one = e.Scalar(1f);
                var positive = e.Op("Mul", [t, e.Op("Sub", [Log(t), Log(s)])]);
                var nt = e.Op("Sub", [one, t]);
                var negative = e.Op("Mul", [nt, e.Op("Sub", [Log(nt), Log(e.Op("Sub", [one, s]))])]);
                return Mean(e.Op("Add", [positive, negative]));
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

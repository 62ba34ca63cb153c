namespace Lamda.Graphs;

/// <summary>
/// What Lamda knows about ONNX operators: which names exist in the default domain (so text with a
/// misspelled operator is rejected), which inputs are weights (never inlined), and the arity and
/// required attributes that the text reader checks.
/// </summary>
public static class OperatorCatalog
{
    /// <summary>Every operator of the default ai.onnx domain up to opset 23.</summary>
    public static readonly IReadOnlySet<string> OnnxOperators = new HashSet<string>(StringComparer.Ordinal)
    {
        "Abs", "Acos", "Acosh", "Add", "AffineGrid", "And", "ArgMax", "ArgMin", "Asin", "Asinh", "Atan", "Atanh",
        "Attention", "AveragePool", "BatchNormalization", "Bernoulli", "BitShift", "BitwiseAnd", "BitwiseNot",
        "BitwiseOr", "BitwiseXor", "BlackmanWindow", "Cast", "CastLike", "Ceil", "Celu", "CenterCropPad", "Clip",
        "Col2Im", "Compress", "Concat", "ConcatFromSequence", "Constant", "ConstantOfShape", "Conv", "ConvInteger",
        "ConvTranspose", "Cos", "Cosh", "CumSum", "DFT", "DeformConv", "DepthToSpace", "DequantizeLinear", "Det",
        "Div", "Dropout", "DynamicQuantizeLinear", "Einsum", "Elu", "Equal", "Erf", "Exp", "Expand", "EyeLike",
        "Flatten", "Floor", "GRU", "Gather", "GatherElements", "GatherND", "Gelu", "Gemm", "GlobalAveragePool",
        "GlobalLpPool", "GlobalMaxPool", "Greater", "GreaterOrEqual", "GridSample", "GroupNormalization",
        "HammingWindow", "HannWindow", "HardSigmoid", "HardSwish", "Hardmax", "Identity", "If", "ImageDecoder",
        "InstanceNormalization", "IsInf", "IsNaN", "LRN", "LSTM", "LayerNormalization", "LeakyRelu", "Less",
        "LessOrEqual", "Log", "LogSoftmax", "Loop", "LpNormalization", "LpPool", "MatMul", "MatMulInteger", "Max",
        "MaxPool", "MaxRoiPool", "MaxUnpool", "Mean", "MeanVarianceNormalization", "MelWeightMatrix", "Min", "Mish",
        "Mod", "Mul", "Multinomial", "Neg", "NegativeLogLikelihoodLoss", "NonMaxSuppression", "NonZero", "Not",
        "OneHot", "Optional", "OptionalGetElement", "OptionalHasElement", "Or", "PRelu", "Pad", "Pow", "QLinearConv",
        "QLinearMatMul", "QuantizeLinear", "RMSNormalization", "RNN", "RandomNormal", "RandomNormalLike",
        "RandomUniform", "RandomUniformLike", "Range", "Reciprocal", "ReduceL1", "ReduceL2", "ReduceLogSum",
        "ReduceLogSumExp", "ReduceMax", "ReduceMean", "ReduceMin", "ReduceProd", "ReduceSum", "ReduceSumSquare",
        "RegexFullMatch", "Relu", "Reshape", "Resize", "ReverseSequence", "RoiAlign", "RotaryEmbedding", "Round",
        "STFT", "Scan", "Scatter", "ScatterElements", "ScatterND", "Selu", "SequenceAt", "SequenceConstruct",
        "SequenceEmpty", "SequenceErase", "SequenceInsert", "SequenceLength", "SequenceMap", "Shape", "Shrink",
        "Sigmoid", "Sign", "Sin", "Sinh", "Size", "Slice", "Softmax", "SoftmaxCrossEntropyLoss", "Softplus",
        "Softsign", "SpaceToDepth", "Split", "SplitToSequence", "Sqrt", "Squeeze", "StringConcat",
        "StringNormalizer", "StringSplit", "Sub", "Sum", "Swish", "Tan", "Tanh", "TensorScatter", "TfIdfVectorizer",
        "ThresholdedRelu", "Tile", "TopK", "Transpose", "Trilu", "Unique", "Unsqueeze", "Upsample", "Where", "Xor",
    };

    /// <summary>Arity and required attributes for operators the reader checks.</summary>
    public sealed record Signature(int MinInputs, int MaxInputs, string[] RequiredAttributes, int[] WeightSlots);

    static Signature S(int min, int max, string[]? attrs = null, int[]? weights = null) => new(min, max, attrs ?? [], weights ?? []);

    static readonly Dictionary<string, Signature> Signatures = new(StringComparer.Ordinal)
    {
        ["Conv"] = S(2, 3, weights: [1, 2]),
        ["ConvTranspose"] = S(2, 3, weights: [1, 2]),
        ["Gemm"] = S(2, 3, weights: [1, 2]),
        ["MatMul"] = S(2, 2, weights: [1]),
        ["BatchNormalization"] = S(5, 5, weights: [1, 2, 3, 4]),
        ["InstanceNormalization"] = S(3, 3, weights: [1, 2]),
        ["LayerNormalization"] = S(2, 3, weights: [1, 2]),
        ["GroupNormalization"] = S(3, 3, ["num_groups"], [1, 2]),
        ["PRelu"] = S(2, 2, weights: [1]),
        ["Add"] = S(2, 2), ["Sub"] = S(2, 2), ["Mul"] = S(2, 2), ["Div"] = S(2, 2), ["Pow"] = S(2, 2),
        ["Relu"] = S(1, 1), ["Sigmoid"] = S(1, 1), ["HardSigmoid"] = S(1, 1), ["HardSwish"] = S(1, 1),
        ["LeakyRelu"] = S(1, 1), ["Tanh"] = S(1, 1), ["Identity"] = S(1, 1), ["Softmax"] = S(1, 1),
        ["Clip"] = S(1, 3), ["Dropout"] = S(1, 3),
        ["Concat"] = S(1, int.MaxValue, ["axis"]),
        ["Split"] = S(1, 2), ["Slice"] = S(1, 5), ["Reshape"] = S(2, 2), ["Flatten"] = S(1, 1),
        ["Transpose"] = S(1, 1), ["MaxPool"] = S(1, 1, ["kernel_shape"]), ["AveragePool"] = S(1, 1, ["kernel_shape"]),
        ["GlobalAveragePool"] = S(1, 1), ["GlobalMaxPool"] = S(1, 1), ["ReduceMean"] = S(1, 2),
        ["Pad"] = S(1, 4), ["Resize"] = S(1, 4), ["Constant"] = S(0, 0), ["Shape"] = S(1, 1),
        ["Gather"] = S(2, 2), ["Unsqueeze"] = S(1, 2), ["Squeeze"] = S(1, 2), ["Cast"] = S(1, 1, ["to"]),
        ["Expand"] = S(2, 2), ["Where"] = S(3, 3), ["Tile"] = S(2, 2),
        ["DepthToSpace"] = S(1, 1, ["blocksize"]), ["SpaceToDepth"] = S(1, 1, ["blocksize"]),
    };

    public static Signature? SignatureOf(string op) => Signatures.GetValueOrDefault(op);

    public static bool IsKnown(string domain, string op) => domain is not ("" or "ai.onnx") || OnnxOperators.Contains(op);

    /// <summary>True when input <paramref name="slot"/> of <paramref name="op"/> holds learned weights.</summary>
    public static bool IsWeightSlot(string op, int slot) => Signatures.TryGetValue(op, out var s) && s.WeightSlots.Contains(slot);

    /// <summary>Operators that map each input element to one output element of the same shape.</summary>
    public static readonly IReadOnlySet<string> Unary = new HashSet<string>(StringComparer.Ordinal)
    {
        "Relu", "LeakyRelu", "Clip", "Sigmoid", "HardSigmoid", "HardSwish", "Tanh", "Exp", "Log", "Sqrt", "Neg",
        "Abs", "Erf", "Softmax", "LogSoftmax", "Identity", "Dropout", "Elu", "Selu", "Celu", "Gelu", "Mish",
        "Softplus", "Softsign", "Floor", "Ceil", "Round", "Reciprocal", "Sign", "Sin", "Cos", "Tan", "Not",
        "ThresholdedRelu", "Hardmax", "Shrink", "IsNaN", "IsInf", "Swish", "LRN", "InstanceNormalization",
        "LayerNormalization", "GroupNormalization", "BatchNormalization", "MeanVarianceNormalization",
        "LpNormalization", "CumSum", "PRelu", "RMSNormalization",
    };

    /// <summary>Operators that broadcast their inputs numpy-style.</summary>
    public static readonly IReadOnlySet<string> Broadcasting = new HashSet<string>(StringComparer.Ordinal)
    {
        "Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "Sum", "Mean", "Equal", "Less", "Greater", "LessOrEqual",
        "GreaterOrEqual", "And", "Or", "Xor", "Where", "Mod", "BitShift", "BitwiseAnd", "BitwiseOr", "BitwiseXor",
    };
}

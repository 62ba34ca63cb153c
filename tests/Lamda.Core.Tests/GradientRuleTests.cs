using Lamda.Training;
using Lamda.Training.Gradients;

namespace Lamda.Tests;

/// <summary>Every gradient rule against central finite differences, on tiny single-operator graphs with seeded inputs.</summary>
public class GradientRuleTests
{
    static readonly float[] Zero = [0f];

    public static readonly Dictionary<string, Func<OneOp>> Cases = new()
    {
        ["Conv 3x3 pad 1"] = () => new OneOp("Conv", 13).Float([2, 3, 5, 5]).Float([4, 3, 3, 3]).Float([4])
            .Attr("pads", new long[] { 1, 1, 1, 1 }),
        ["Conv strided"] = () => new OneOp("Conv", 13).Float([1, 2, 7, 6]).Float([3, 2, 3, 3]).Attr("strides", new long[] { 2, 2 })
            .Attr("pads", new long[] { 1, 0, 1, 1 }),
        ["Conv depthwise"] = () => new OneOp("Conv", 13).Float([2, 4, 6, 6]).Float([4, 1, 3, 3]).Float([4]).Attr("group", 4L)
            .Attr("pads", new long[] { 1, 1, 1, 1 }).Attr("strides", new long[] { 2, 2 }),
        ["Conv depthwise stride 1"] = () => new OneOp("Conv", 13).Float([2, 3, 6, 7]).Float([3, 1, 3, 5]).Float([3]).Attr("group", 3L)
            .Attr("pads", new long[] { 1, 2, 0, 1 }),
        ["Conv depthwise dilated opset 9"] = () => new OneOp("Conv", 9).Float([1, 2, 7, 7]).Float([2, 1, 3, 3]).Attr("group", 2L)
            .Attr("dilations", new long[] { 2, 2 }).Attr("pads", new long[] { 2, 1, 2, 2 }),
        ["Conv grouped"] = () => new OneOp("Conv", 13).Float([1, 4, 5, 5]).Float([6, 2, 3, 3]).Attr("group", 2L),
        ["Conv 1x1"] = () => new OneOp("Conv", 13).Float([2, 3, 4, 4]).Float([5, 3, 1, 1]).Float([5]),
        ["Conv 1x1 strided"] = () => new OneOp("Conv", 13).Float([2, 3, 5, 4]).Float([4, 3, 1, 1]).Attr("strides", new long[] { 2, 2 }),
        ["Conv 1x1 grouped"] = () => new OneOp("Conv", 13).Float([2, 4, 3, 3]).Float([6, 2, 1, 1]).Float([6]).Attr("group", 2L),
        ["Conv dilated"] = () => new OneOp("Conv", 13).Float([1, 2, 7, 7]).Float([2, 2, 3, 3]).Attr("dilations", new long[] { 2, 2 })
            .Attr("pads", new long[] { 2, 2, 2, 2 }),
        ["Conv SAME_UPPER"] = () => new OneOp("Conv", 13).Float([1, 2, 6, 6]).Float([3, 2, 3, 3]).Attr("auto_pad", "SAME_UPPER")
            .Attr("strides", new long[] { 2, 2 }),
        ["ConvTranspose 1x1 stride 2"] = () => new OneOp("ConvTranspose", 13).Float([2, 3, 3, 3]).Float([3, 2, 1, 1])
            .Attr("strides", new long[] { 2, 2 }),
        ["ConvTranspose stride 2"] = () => new OneOp("ConvTranspose", 11).Float([1, 3, 4, 4]).Float([3, 2, 2, 2]).Float([2])
            .Attr("strides", new long[] { 2, 2 }),
        ["ConvTranspose padded grouped"] = () => new OneOp("ConvTranspose", 13).Float([1, 4, 3, 3]).Float([4, 1, 3, 3]).Attr("group", 2L)
            .Attr("strides", new long[] { 2, 2 }).Attr("pads", new long[] { 1, 1, 1, 1 }).Attr("output_padding", new long[] { 1, 1 }),
        // ppocr_det's head: two 2x2 stride-2 ConvTransposes up to the input size (checked here on 8x8 maps, at the det's layout).
        // Depthwise (one channel a group) with a batch of 2: its weight gradient takes the depthwise form, images summed.
        ["ConvTranspose depthwise"] = () => new OneOp("ConvTranspose", 13).Float([2, 3, 4, 4]).Float([3, 1, 3, 3]).Attr("group", 3L)
            .Attr("strides", new long[] { 2, 2 }).Attr("pads", new long[] { 1, 1, 1, 1 }),
        ["ConvTranspose k2 s2 on an 8x8 map"] = () => new OneOp("ConvTranspose", 11).Float([2, 3, 8, 8]).Float([3, 1, 2, 2])
            .Attr("kernel_shape", new long[] { 2, 2 }).Attr("strides", new long[] { 2, 2 }).Attr("pads", new long[] { 0, 0, 0, 0 }),
        ["Gemm transB"] = () => new OneOp("Gemm", 13).Float([3, 4]).Float([5, 4]).Float([5]).Attr("transB", 1L),
        ["Gemm transA alpha beta"] = () => new OneOp("Gemm", 9).Float([4, 3]).Float([4, 5]).Float([3, 5]).Attr("transA", 1L)
            .Attr("alpha", 0.5f).Attr("beta", 2f),
        ["MatMul"] = () => new OneOp("MatMul", 9).Float([3, 4]).Float([4, 2]),
        ["MatMul batched broadcast"] = () => new OneOp("MatMul", 13).Float([2, 3, 4]).Float([4, 2]),
        ["Add broadcast"] = () => new OneOp("Add", 13).Float([2, 3, 2, 2]).Float([3, 1, 1]),
        ["Sub broadcast"] = () => new OneOp("Sub", 13).Float([1, 3]).Float([2, 1]),
        ["Mul broadcast"] = () => new OneOp("Mul", 13).Float([2, 3, 2]).Float([3, 1]),
        ["Div broadcast"] = () => new OneOp("Div", 9).Float([2, 3]).Float([3], 0.5f, 2f),
        ["Relu"] = () => new OneOp("Relu", 13).Float([2, 3, 4], kinks: Zero),
        ["LeakyRelu"] = () => new OneOp("LeakyRelu", 13).Float([2, 6], kinks: Zero).Attr("alpha", 0.1f),
        ["Clip opset 9"] = () => new OneOp("Clip", 9).Float([3, 5], -8, 8, kinks: [0f, 6f]).Attr("min", 0f).Attr("max", 6f),
        ["Clip opset 13"] = () => new OneOp("Clip", 13).Float([3, 5], kinks: [-0.5f, 0.5f]).Constant([], [-0.5f]).Constant([], [0.5f]),
        ["Sigmoid"] = () => new OneOp("Sigmoid", 13).Float([2, 5], -3, 3),
        ["HardSigmoid"] = () => new OneOp("HardSigmoid", 9).Float([3, 5], -5, 5, kinks: [-2.5f, 2.5f]).Attr("alpha", 0.2f)
            .Attr("beta", 0.5f),
        ["HardSwish"] = () => new OneOp("HardSwish", 14).Float([3, 5], -5, 5, kinks: [-3f, 3f]),
        ["Tanh"] = () => new OneOp("Tanh", 13).Float([2, 5], -2, 2),
        ["Log"] = () => new OneOp("Log", 13).Float([2, 5], 0.5f, 3f),
        ["Softplus saturating"] = () => new OneOp("Softplus", 11).Float([2, 5], -40f, 40f),
        ["Pow squared"] = () => new OneOp("Pow", 9).Float([2, 5], -2, 2).Constant([], [2f]),
        ["Pow fractional exponent"] = () => new OneOp("Pow", 13).Float([2, 3], 0.5f, 3f).Constant([], [1.5f]),
        ["Sqrt"] = () => new OneOp("Sqrt", 13).Float([2, 5], 0.5f, 3f),
        ["MaxPool 3x3 stride 2 overlapping"] = () => new OneOp("MaxPool", 13).Distinct([1, 2, 7, 7])
            .Attr("kernel_shape", new long[] { 3, 3 })
            .Attr("strides", new long[] { 2, 2 }).Attr("pads", new long[] { 1, 1, 1, 1 }),
        ["MaxPool 2x2 opset 9"] = () => new OneOp("MaxPool", 9).Distinct([2, 2, 4, 6]).Attr("kernel_shape", new long[] { 2, 2 })
            .Attr("strides", new long[] { 2, 2 }),
        ["MaxPool ceil mode"] = () => new OneOp("MaxPool", 13).Distinct([1, 2, 5, 5]).Attr("kernel_shape", new long[] { 2, 2 })
            .Attr("strides", new long[] { 2, 2 }).Attr("ceil_mode", 1L),
        ["AveragePool padded"] = () => new OneOp("AveragePool", 13).Float([1, 2, 5, 5]).Attr("kernel_shape", new long[] { 3, 3 })
            .Attr("strides", new long[] { 2, 2 }).Attr("pads", new long[] { 1, 1, 1, 1 }),
        ["AveragePool count_include_pad"] = () => new OneOp("AveragePool", 13).Float([1, 2, 5, 5]).Attr("kernel_shape", new long[] { 3, 3 })
            .Attr("pads", new long[] { 1, 1, 1, 1 }).Attr("count_include_pad", 1L),
        ["GlobalAveragePool"] = () => new OneOp("GlobalAveragePool", 13).Float([2, 3, 4, 5]),
        ["BatchNormalization"] = () => new OneOp("BatchNormalization", 9).Float([2, 3, 2, 2]).Float([3]).Float([3]).Fixed([3], -1, 1)
            .Fixed([3], 0.5f, 2f),
        ["Concat"] = () => new OneOp("Concat", 13).Float([2, 2, 3]).Float([2, 1, 3]).Attr("axis", 1L),
        ["Slice opset 9"] = () => new OneOp("Slice", 9).Float([3, 6]).Attr("starts", new long[] { 1 }).Attr("ends", new long[] { 5 })
            .Attr("axes", new long[] { 1 }),
        ["Slice opset 13 negative"] = () => new OneOp("Slice", 13).Float([4, 6]).Ints(0, 2).Ints(-1, long.MaxValue).Ints(0, 1),
        ["Pad opset 11"] = () => new OneOp("Pad", 11).Float([2, 3]).Ints(0, 1, 1, 2),
        ["Pad opset 9"] = () => new OneOp("Pad", 9).Float([2, 3]).Attr("pads", new long[] { 1, 0, 0, 2 }),
        ["Reshape"] = () => new OneOp("Reshape", 13).Float([2, 3, 4]).Ints(4, -1),
        ["Flatten"] = () => new OneOp("Flatten", 13).Float([2, 3, 2, 2]).Attr("axis", 1L),
        ["Transpose"] = () => new OneOp("Transpose", 13).Float([2, 3, 4]).Attr("perm", new long[] { 1, 2, 0 }),
        ["Unsqueeze"] = () => new OneOp("Unsqueeze", 13).Float([2, 3]).Ints(1),
        ["Resize nearest asymmetric floor"] = () => new OneOp("Resize", 11).Float([1, 2, 3, 3]).Constant([0], [])
            .Constant([4], [1, 1, 2, 2])
            .Attr("mode", "nearest").Attr("coordinate_transformation_mode", "asymmetric").Attr("nearest_mode", "floor"),
        ["Resize nearest 2x on an 8x8 map (ppocr_det's FPN)"] = () => new OneOp("Resize", 11).Float([2, 3, 8, 8]).Constant([0], [])
            .Constant([4], [1, 1, 2, 2])
            .Attr("mode", "nearest").Attr("coordinate_transformation_mode", "asymmetric").Attr("nearest_mode", "floor"),
        ["Resize linear half_pixel"] = () => new OneOp("Resize", 13).Float([1, 1, 3, 4]).Empty().Constant([4], [1, 1, 2.5f, 1.5f])
            .Attr("mode", "linear"),
        ["Resize linear align_corners by sizes"] = () => new OneOp("Resize", 13).Float([1, 2, 3, 3]).Empty().Empty().Ints(1, 2, 5, 4)
            .Attr("mode", "linear").Attr("coordinate_transformation_mode", "align_corners"),
        ["Upsample opset 9"] = () => new OneOp("Upsample", 9).Float([1, 2, 2, 3]).Constant([4], [1, 1, 2, 3]),
        ["Softmax opset 9"] = () => new OneOp("Softmax", 9).Float([3, 5], -2, 2).Attr("axis", 1L),
        ["Softmax opset 13 axis 1 of 3"] = () => new OneOp("Softmax", 13).Float([2, 4, 3], -2, 2).Attr("axis", 1L),
        ["LogSoftmax"] = () => new OneOp("LogSoftmax", 13).Float([3, 5], -2, 2),
        ["ReduceMean"] = () => new OneOp("ReduceMean", 13).Float([2, 3, 4]).Attr("axes", new long[] { 1, 2 }).Attr("keepdims", 0L),
        ["ReduceSum opset 13"] = () => new OneOp("ReduceSum", 13).Float([2, 3, 4]).Ints(-1),
        ["Split"] = () => new OneOp("Split", 11).Float([2, 5]).Attr("axis", 1L).Attr("split", new long[] { 2, 3 }).Outputs(2),
    };

    public static TheoryData<string> Names => new(Cases.Keys);

    [Theory]
    [MemberData(nameof(Names))]
    public void Gradient_matches_central_finite_differences(string name)
    {
        var op = Cases[name]();
        var bad = FiniteDifferences.Check(op.WithLoss(), "loss_half", op.Trainable);
        Assert.True(bad.Count == 0, string.Join("\n", bad.Take(8)));
    }

    [Fact]
    public void Every_rule_has_a_finite_difference_case()
    {
        var covered = Cases.Keys.Select(k => k.Split(' ')[0]).ToHashSet();
        var missing = GradientRules.Operators.Where(o => !covered.Contains(o) && o is not ("Squeeze" or "Identity" or "Dropout" or "Cast"));
        Assert.Empty(missing);
    }

    [Fact]
    public void An_operator_without_a_rule_is_a_coded_error_naming_it()
    {
        var op = new OneOp("Erf", 13).Float([2, 3]);
        var e = Assert.Throws<LamdaException>(() => BackwardGraph.Build(op.WithLoss(), "loss_half", op.Trainable, new Dictionary<string, Runtime.TensorData>()));
        Assert.Equal(ErrorCodes.NoGradient, e.Code);
        Assert.Contains("Erf", e.Message);
        Assert.Contains("n0", e.Message);
    }
}

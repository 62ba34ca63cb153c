using Lamda.Operators;
using Onnx;

namespace Lamda.Training.Gradients;

/// <summary>
/// Resize and Upsample, nearest and linear: separable, so along each resized axis the output is R x with a
/// constant [out, in] matrix R that this rule computes the way ONNX Runtime samples (coordinate transformation and
/// nearest mode included). The input gradient applies R^T along each such axis, last axis first.
/// </summary>
internal sealed class ResizeGradient : IGradientRule
{
    public IReadOnlyList<string> Ops { get; } = ["Resize", "Upsample"];

    public IEnumerable<int> ValueSlots(NodeProto node) => [1, 2];

    public void Backward(NodeGradient g)
    {
        var e = g.Emit;
        var x = g.InputShape(0);
        var y = g.OutputShape();
        var mode = g.String("mode") ?? "nearest";
        if (mode is not ("nearest" or "linear" or "bilinear")) throw g.Unsupported($"Resize mode {mode}");
        bool legacy = g.Node.OpType == "Upsample" || e.Opset < 11;
        var sampling = new ResizeSampling(
            mode == "nearest",
            legacy ? "asymmetric" : g.String("coordinate_transformation_mode") ?? "half_pixel",
            legacy ? "floor" : g.String("nearest_mode") ?? "round_prefer_floor");
        var scales = Scales(g, legacy);
        var grad = g.OutputGrad()!;
        var current = y.ToArray();
        for (int axis = x.Length - 1; axis >= 0; axis--)
        {
            if (x[axis] == y[axis] && (scales == null || scales[axis] == 1)) continue;
            double scale = scales?[axis] ?? y[axis] / (double)x[axis];
            var matrix = sampling.Matrix(x[axis], y[axis], scale);
            grad = AlongAxis(e, grad, current, axis, e.Floats([y[axis], x[axis]], matrix));
            current[axis] = x[axis];
        }
        g.SetInputGrad(0, grad);
    }

    static double[]? Scales(NodeGradient g, bool legacy)
    {
        if (g.Node.OpType == "Upsample" && g.Emit.Opset < 9) return g.Ints("scales")?.Select(s => (double)s).ToArray();
        var scales = g.InputValue(legacy ? 1 : 2)?.Reals;
        return scales is { Length: > 0 } ? scales : null;
    }

    /// <summary>grad [.., out, ..] times R [out, in] along <paramref name="axis"/>: the axis goes last for the MatMul and back.</summary>
    static string AlongAxis(GradientEmitter e, string grad, long[] shape, int axis, string matrix)
    {
        int last = shape.Length - 1;
        var perm = Enumerable.Range(0, shape.Length).Select(i => (long)i).ToArray();
        (perm[axis], perm[last]) = (perm[last], perm[axis]);
        var moved = axis == last ? grad : e.Transpose(grad, perm);
        var product = e.Op("MatMul", [moved, matrix]);
        return axis == last ? product : e.Transpose(product, perm);
    }
}

/// <summary>Where an output index samples the input along one axis, as ONNX Resize defines it.</summary>
internal sealed record ResizeSampling(bool Nearest, string CoordinateMode, string NearestMode)
{
    /// <summary>The [output, input] weights of one axis, row-major.</summary>
    public float[] Matrix(long input, long output, double scale)
    {
        var m = new float[output * input];
        for (long o = 0; o < output; o++)
        {
            double x = Original(o, input, output, scale);
            if (Nearest)
            {
                m[o * input + Math.Clamp(Round(x), 0, input - 1)] = 1f;
                continue;
            }
            x = Math.Clamp(x, 0, input - 1);
            long lo = (long)Math.Floor(x), hi = Math.Min(lo + 1, input - 1);
            double t = x - lo;
            m[o * input + lo] += (float)(1 - t);
            m[o * input + hi] += (float)t;
        }
        return m;
    }

    double Original(long o, long input, long output, double scale) => CoordinateMode switch
    {
        "asymmetric" => o / scale,
        "align_corners" => output == 1 ? 0 : o * (input - 1) / (double)(output - 1),
        "pytorch_half_pixel" => output > 1 ? (o + 0.5) / scale - 0.5 : 0,
        "tf_half_pixel_for_nn" => (o + 0.5) / scale,
        "half_pixel" => (o + 0.5) / scale - 0.5,
        _ => throw new LamdaException(ErrorCodes.NoGradient,
            $"Resize coordinate_transformation_mode {CoordinateMode} has no gradient rule."),
    };

    long Round(double x) => NearestMode switch
    {
        "floor" => (long)Math.Floor(x),
        "ceil" => (long)Math.Ceiling(x),
        "round_prefer_ceil" => (long)Math.Floor(x + 0.5),
        _ => x - Math.Floor(x) == 0.5 ? (long)Math.Floor(x) : (long)Math.Round(x),
    };
}

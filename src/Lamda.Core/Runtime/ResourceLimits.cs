using System.Globalization;
using Lamda.Graphs;

namespace Lamda.Runtime;

/// <summary>
/// The largest tensor Lamda agrees to allocate or have ONNX Runtime allocate: a graph input, an activation or
/// a weight. Sizes are estimated from static shapes before anything is allocated, so a model with a
/// 1x3x100000x100000 input ends in a coded error that names the tensor instead of an overflow deep inside a
/// loop or an out-of-memory kill. The default is 4 GiB; <c>LAMDA_MAX_TENSOR_BYTES</c> changes it (a byte
/// count, optionally with a K, M or G suffix in powers of 1024: <c>512M</c>, <c>16G</c>).
/// </summary>
internal static class ResourceLimits
{
    public const string EnvironmentVariable = "LAMDA_MAX_TENSOR_BYTES";
    public const long DefaultMaxTensorBytes = 4L << 30;

    /// <summary>The limit in force: the environment variable when set, else the default.</summary>
    public static long MaxTensorBytes => Parse(Environment.GetEnvironmentVariable(EnvironmentVariable));

    /// <summary>Reads a byte count such as <c>4294967296</c>, <c>512M</c> or <c>16G</c>; null or empty gives the default.</summary>
    public static long Parse(string? text)
    {
        if (string.IsNullOrWhiteSpace(text)) return DefaultMaxTensorBytes;
        var t = text.Trim();
        int shift = char.ToUpperInvariant(t[^1]) switch { 'K' => 10, 'M' => 20, 'G' => 30, _ => 0 };
        var digits = shift == 0 ? t : t[..^1];
        if (!long.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out var n) || n <= 0 || n > (long.MaxValue >> shift))
            throw new LamdaException(ErrorCodes.BadArgument,
                $"{EnvironmentVariable}='{text}' is not a byte count; write a positive number, optionally with K, M or G " +
                "(for example 8G).");
        return n << shift;
    }

    /// <summary>
    /// Bytes a tensor of this shape and element type takes, saturating at <see cref="long.MaxValue"/> instead of
    /// overflowing; null when a dimension is unknown. Element types of no fixed size count one byte.
    /// </summary>
    public static long? Bytes(IEnumerable<long> dims, int elemType)
    {
        long total = Math.Max(1, DataTypes.Size(elemType));
        foreach (var d in dims)
        {
            if (d < 0) return null;
            if (d != 0 && total > long.MaxValue / d) return long.MaxValue;
            total *= d;
        }
        return total;
    }

    /// <summary>Refuses an input too large to allocate. <paramref name="dims"/> are the dimensions that will be fed.</summary>
    public static void CheckInput(string displayName, string input, IReadOnlyList<long> dims, int elemType, long? limit = null)
    {
        long max = limit ?? MaxTensorBytes;
        if (Bytes(dims, elemType) is { } bytes && bytes > max)
            throw new LamdaException(ErrorCodes.ResourceLimit,
                $"{displayName}: input '{input}' [{string.Join('x', dims)}] needs {Describe(bytes)}, above the limit of " +
                $"{Describe(max)}; give a smaller shape with --input-shape {input}=..., or raise {EnvironmentVariable}.");
    }

    /// <summary>
    /// Checks every graph input (symbolic dimensions count as 1, as measurement feeds them), every weight and
    /// every activation whose shape inference can tell, before a command allocates or runs anything.
    /// </summary>
    /// <param name="graph">The graph about to be run.</param>
    /// <param name="weights">Its weights, whose sizes count too (may be null).</param>
    /// <param name="displayName">The file or item the error names.</param>
    /// <param name="limit">The limit to apply; <see cref="MaxTensorBytes"/> when null.</param>
    public static void CheckGraph(Graph graph, WeightStore? weights, string displayName, long? limit = null)
    {
        long max = limit ?? MaxTensorBytes;
        foreach (var i in graph.Inputs)
            if (i.Type.Dims is { } dims)
                CheckInput(displayName, i.Name, dims.Select(d => d.IsKnown ? d.Value : 1).ToArray(), i.Type.ElemType, max);
        var shapes = ShapeInference.Run(graph, weights, batchOne: true);
        foreach (var node in graph.Nodes)
            for (int k = 0; k < node.OutputCount; k++)
            {
                var type = shapes.TypeOf(node.OutputKey(k));
                if (!type.IsStatic || Bytes(type.Dims!.Select(d => d.Value), type.ElemType) is not { } bytes || bytes <= max) continue;
                throw new LamdaException(ErrorCodes.ResourceLimit,
                    $"{displayName}: the output of {node.Id} ({node.Op}) is [{string.Join('x', type.Dims!.Select(d => d.Value))}], " +
                    $"{Describe(bytes)}, above the limit of {Describe(max)}; give a smaller input with --input-shape, " +
                    $"or raise {EnvironmentVariable}.");
            }
        if (weights != null)
            foreach (var (name, tensor) in weights.Tensors)
                if (Bytes(tensor.Dims, tensor.DataType) is { } bytes && bytes > max)
                    throw new LamdaException(ErrorCodes.ResourceLimit,
                        $"{displayName}: weight '{name}' [{string.Join('x', tensor.Dims)}] needs {Describe(bytes)}, above the limit of " +
                        $"{Describe(max)}; raise {EnvironmentVariable} if the machine has the memory.");
    }

    /// <summary>
    /// Refuses a TensorProto whose dimensions are absurd (negative, or a product that overflows) or disagree with
    /// the data it holds, before anything sizes an allocation from its dims. External data is not checked here.
    /// </summary>
    public static void CheckTensorProto(global::Onnx.TensorProto t, string displayName)
    {
        string Dims() => string.Join('x', t.Dims);
        if (t.Dims.Any(d => d < 0) || Bytes(t.Dims, t.DataType) == long.MaxValue)
            throw new LamdaException(ErrorCodes.InvalidModel,
                $"{displayName}: tensor '{t.Name}' has impossible dimensions [{Dims()}]; re-export the model.");
        // External data is sized elsewhere; complex types (14, 15) hold two values per element.
        if (t.DataLocation == global::Onnx.TensorProto.Types.DataLocation.External || t.DataType is 14 or 15) return;
        long count = t.Dims.Aggregate(1L, (a, d) => a * d);
        int size = DataTypes.Size(t.DataType);
        long held = !t.RawData.IsEmpty ? (size > 0 ? t.RawData.Length / size : -1)
            : t.FloatData.Count + t.Int32Data.Count + t.Int64Data.Count + t.DoubleData.Count + t.Uint64Data.Count + t.StringData.Count;
        bool rawMismatch = !t.RawData.IsEmpty && size > 0 && t.RawData.Length != count * size;
        if (held >= 0 && (rawMismatch || (t.RawData.IsEmpty && held > 0 && held != count)))
            throw new LamdaException(ErrorCodes.InvalidModel,
                $"{displayName}: tensor '{t.Name}' declares [{Dims()}] ({count} values) but holds {held}; " +
                "the file is corrupt, re-export the model.");
    }

    /// <summary>A size for people: 120 GiB, 3.5 MiB, 900 bytes.</summary>
    public static string Describe(long bytes) => bytes switch
    {
        long.MaxValue => "more than 8 EiB",
        >= 1L << 30 => $"{(bytes / (double)(1L << 30)).ToString("0.#", CultureInfo.InvariantCulture)} GiB",
        >= 1L << 20 => $"{(bytes / (double)(1L << 20)).ToString("0.#", CultureInfo.InvariantCulture)} MiB",
        _ => $"{bytes.ToString(CultureInfo.InvariantCulture)} bytes",
    };
}

using System.Globalization;
using Lamda.Graphs;
using Lamda.Onnx;
using Onnx;

namespace Lamda.Adaptation;

/// <summary>
/// The concrete input shapes a model with dynamic dims is adapted at (<c>--input-shape 1,3,640,640</c>, or
/// <c>x=1,3,640,640 y=1,4</c> for several inputs). Adaptation is a step inside these: <see cref="Pin"/> makes the
/// graph's inputs concrete before the loop, so prediction, measurement and reconstruction all see the size the
/// budget is meant for; <see cref="RestoreInterface"/> gives the adapted model back the base's dynamic interface.
/// </summary>
internal sealed class InputShapes
{
    /// <summary>The option's name as users see it; errors name it.</summary>
    public const string Option = "--input-shape";

    readonly long[]? single;
    readonly Dictionary<string, long[]> named = new(StringComparer.Ordinal);

    InputShapes(long[]? single) => this.single = single;

    /// <summary>Parses <c>1,3,640,640</c> (the only input) or space-separated <c>name=dims</c> pairs.</summary>
    public static InputShapes Parse(string text)
    {
        var parts = (text ?? "").Split([' ', ';'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (parts.Length == 0) throw Bad(text, "it is empty");
        if (parts.Length == 1 && !parts[0].Contains('=')) return new InputShapes(Dims(parts[0], text!));
        var shapes = new InputShapes(null);
        foreach (var part in parts)
        {
            int eq = part.IndexOf('=');
            if (eq <= 0) throw Bad(text, $"'{part}' is not NAME=DIMS");
            if (!shapes.named.TryAdd(part[..eq], Dims(part[(eq + 1)..], text!))) throw Bad(text, $"input '{part[..eq]}' is given twice");
        }
        return shapes;
    }

    static long[] Dims(string dims, string text)
    {
        var values = dims.Split(',', 'x')
            .Select(d => long.TryParse(d.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var v) ? v : 0).ToArray();
        if (values.Length == 0 || values.Any(v => v <= 0)) throw Bad(text, $"'{dims}' is not a list of positive sizes");
        return values;
    }

    static LamdaException Bad(string? text, string why) => new(ErrorCodes.BadArgument,
        $"{Option} '{text}' is not valid: {why}. Write the sizes of the one input (1,3,640,640) or name each input (x=1,3,640,640 y=1,4).");

    /// <summary>
    /// A copy of <paramref name="graph"/> whose inputs have the given shapes. Each shape must have the input's rank and
    /// agree with its fixed dims; every input with dynamic dims besides the batch needs one.
    /// </summary>
    public Graph Pin(Graph graph, string model)
    {
        if (single != null && graph.Inputs.Count != 1)
            throw new LamdaException(ErrorCodes.BadArgument, $"{model}: the model has {graph.Inputs.Count} inputs "
                + $"({string.Join(", ", graph.Inputs.Select(i => i.Name))}); name each in {Option}, as x=1,3,640,640 y=1,4.");
        foreach (var name in named.Keys.Where(n => graph.Inputs.All(i => i.Name != n)))
            throw new LamdaException(ErrorCodes.BadArgument,
                $"{model}: {Option} names '{name}', which is not an input; the inputs are "
                + $"{string.Join(", ", graph.Inputs.Select(i => i.Name))}.");
        var pinned = graph.Clone();
        for (int k = 0; k < pinned.Inputs.Count; k++)
        {
            var input = pinned.Inputs[k];
            var shape = single ?? named.GetValueOrDefault(input.Name);
            if (shape != null) pinned.Inputs[k] = input with { Type = PinOne(input, shape, model) };
        }
        RequireStatic(pinned, model);
        return pinned;
    }

    static TensorType PinOne(GraphValue input, long[] shape, string model)
    {
        var dims = input.Type.Dims;
        if (dims != null && dims.Length != shape.Length)
            throw new LamdaException(ErrorCodes.BadArgument,
                $"{model}: input '{input.Name}' {input.Type} has rank {dims.Length}, but {Option} gives {shape.Length} sizes.");
        for (int d = 0; dims != null && d < dims.Length; d++)
            if (dims[d].IsKnown && dims[d].Value != shape[d])
                throw new LamdaException(ErrorCodes.BadArgument,
                    $"{model}: input '{input.Name}' {input.Type} has size {dims[d].Value} in dim {d}, but {Option} gives {shape[d]}.");
        return input.Type.WithDims(shape.Select(v => new Dim(v)).ToArray());
    }

    /// <summary>
    /// Refuses inputs with dynamic dims besides the batch: measured at size 1 they would give a budget that means
    /// nothing at the size the model runs at.
    /// </summary>
    public static void RequireStatic(Graph graph, string model)
    {
        foreach (var input in graph.Inputs)
            if (input.Type.Dims is { } dims && dims.Skip(1).Any(d => !d.IsKnown))
                throw new LamdaException(ErrorCodes.DynamicInput,
                    $"{model}: input '{input.Name}' {input.Type} has dynamic dims, so its latency depends on the size it runs at. "
                    + "Give that size "
                    + $"with {Option} (for example {Option} {Example(dims)}; MSBuild: InputShape=\"...\").");
    }

    static string Example(Dim[] dims) =>
        string.Join(",", dims.Select((d, i) => d.IsKnown ? d.Value : i == 0 ? 1 : 224)
            .Select(v => v.ToString(CultureInfo.InvariantCulture)));

    /// <summary>Gives the adapted model the inputs' and outputs' dims of the base, so it still runs at other sizes.</summary>
    public static void RestoreInterface(ModelProto adapted, Graph baseGraph)
    {
        Restore(adapted.Graph.Input, baseGraph.Inputs);
        Restore(adapted.Graph.Output, baseGraph.Outputs);

        static void Restore(IList<ValueInfoProto> values, IEnumerable<GraphValue> original)
        {
            var byName = original.ToDictionary(v => v.Name, StringComparer.Ordinal);
            for (int k = 0; k < values.Count; k++)
                if (byName.TryGetValue(values[k].Name, out var v)) values[k] = OnnxExporter.ValueInfo(v.Name, v.Type);
        }
    }
}

using Lamda.Adaptation;
using Lamda.Graphs;

namespace Lamda.Cli.Commands;

/// <summary>
/// The sizes a benchmark runs a model at: a model with dynamic input dims (a text detector, a recognizer) has no
/// size of its own. One size per line of <c>MODEL.onnx.shapes</c> next to it (each measured as a model of its own),
/// else <c>--input-shape</c>, else the model's own.
/// </summary>
static class BenchShapes
{
    /// <summary>The model's graph at each of its sizes, with a name that tells the sizes apart.</summary>
    public static IEnumerable<(string Name, Graph Graph)> Sized(string path, Graph loaded, string? inputShape)
    {
        var sidecar = path + ".shapes";
        IReadOnlyList<string?> shapes = File.Exists(sidecar)
            ? File.ReadAllLines(sidecar).Select(l => l.Trim()).Where(l => l.Length > 0 && !l.StartsWith('#')).ToList<string?>()
            : [inputShape];
        foreach (var shape in shapes)
        {
            var graph = shape is null ? loaded : InputShapes.Parse(shape).Pin(loaded, path);
            InputShapes.RequireStatic(graph, path);
            yield return (Path.GetFileNameWithoutExtension(path) + (shape is null ? "" : "@" + Label(graph)), graph);
        }
    }

    /// <summary>The spatial size of the first input (HxW).</summary>
    static string Label(Graph graph)
    {
        var dims = graph.Inputs[0].Type.Dims ?? [];
        return string.Join("x", dims.Skip(Math.Max(0, dims.Length - 2)).Select(d => d.Value));
    }
}

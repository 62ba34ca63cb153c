using Lamda.Graphs;
using Lamda.Onnx;
using Lamda.Text;

namespace Lamda.Cli.Commands;

/// <summary>Loads what a command works on: an ONNX model, or LamdaText with the base model that supplies its weights.</summary>
internal static class ModelSource
{
    public static bool IsLamdaText(string path)
    {
        if (path.EndsWith(".lamda", StringComparison.OrdinalIgnoreCase)) return true;
        if (!File.Exists(path)) return false;
        using var reader = new StreamReader(path);
        var buffer = new char[Syntax.Magic.Length];
        int read = reader.ReadBlock(buffer, 0, buffer.Length);
        return new string(buffer, 0, read) == Syntax.Magic;
    }

    public static (Graph Graph, WeightStore Weights) LoadOnnx(string path)
    {
        var model = ModelFile.Load(path);
        return OnnxImporter.Import(model, path);
    }

    public static Graph LoadText(string path) => LamdaTextReader.Read(ReadText(path), path);

    public static string ReadText(string path)
    {
        if (Directory.Exists(path)) throw new LamdaException(ErrorCodes.InvalidModel, $"{path}: is a directory, not a LamdaText file.");
        if (!File.Exists(path)) throw new LamdaException(
            ErrorCodes.FileNotFound, $"{path}: file not found. Check the path to the LamdaText file.");
        return File.ReadAllText(path);
    }

    /// <summary>A graph from either kind of file; weights are empty for LamdaText unless <paramref name="weightsPath"/> is given.</summary>
    public static (Graph Graph, WeightStore Weights) Load(string path, string? weightsPath = null)
    {
        if (!IsLamdaText(path)) return LoadOnnx(path);
        var graph = LoadText(path);
        var weights = weightsPath != null ? LoadOnnx(weightsPath).Weights : new WeightStore { Source = "(no --weights given)" };
        return (graph, weights);
    }

    /// <summary>Refuses to write the output over an input, which would destroy the user's file.</summary>
    public static void CheckNotInput(string output, params string?[] inputs)
    {
        var full = Path.GetFullPath(output);
        foreach (var i in inputs)
            if (i != null && string.Equals(Path.GetFullPath(i), full, StringComparison.Ordinal))
                throw new LamdaException(ErrorCodes.BadArgument,
                    $"{output}: the output would overwrite the input file; choose another -o path.");
    }
}

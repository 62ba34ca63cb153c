using Lamda.Graphs;
using Lamda.Onnx;
using Onnx;

namespace Lamda.Text;

/// <summary>
/// Realizes LamdaText against a base model's weights and refuses a text that says something the weights do
/// not. The reader alone trusts every <c>ch=</c> annotation, so <c>ch=1:2000000000</c> on a Conv whose weight
/// has 32 filters used to give a model that serializes back to <c>ch=1:32</c>: two texts for one graph. Here
/// the realized model is imported again (shape inference fills in channels from the weights) and written
/// canonically; every line must equal the user's line. That makes realization injective: a text either
/// fails with an LT010 diagnostic at the first token that disagrees, or is exactly the serialization of the
/// model it realizes. Comment and blank lines are ignored.
/// </summary>
internal static class TextRealizer
{
    public static ModelProto Realize(string text, string file, WeightStore weights)
    {
        var graph = LamdaTextReader.Read(text, file);
        var model = OnnxExporter.Export(graph, weights);
        var (realized, _) = OnnxImporter.Import(model, file);
        var disagreements = Compare(text, LamdaTextWriter.Write(realized), file, weights.Source);
        if (disagreements.Count == 0) disagreements = CheckConvolutions(text, realized, weights, file);
        if (disagreements.Count > 0) throw new LamdaTextException(disagreements);
        return model;
    }

    /// <summary>Diagnostics for every line of <paramref name="text"/> that differs from <paramref name="canonical"/>.</summary>
    public static List<TextDiagnostic> Compare(string text, string canonical, string file, string weightsSource)
    {
        var actual = ContentLines(text);
        var expected = canonical.Split('\n').Where(l => l.Length > 0).ToArray();
        var diagnostics = new List<TextDiagnostic>();
        for (int i = 0; i < Math.Max(actual.Count, expected.Length); i++)
        {
            if (i >= actual.Count)
            {
                int last = actual.Count == 0 ? 1 : actual[^1].Number + 1;
                diagnostics.Add(new(TextCodes.Disagreement, file, last, 1,
                    $"the model realized with {weightsSource} has a line more: '{expected[i]}'"));
                break;
            }
            var (number, line) = actual[i];
            if (i >= expected.Length)
            {
                diagnostics.Add(new(TextCodes.Disagreement, file, number, 1, $"the model realized with {weightsSource} has no such line"));
                break;
            }
            if (line != expected[i]) diagnostics.Add(Differ(line, expected[i], file, number, weightsSource));
        }
        return diagnostics;
    }

    /// <summary>
    /// Attributes that shape inference takes on trust but the weights decide: a Conv's <c>kernel_shape</c> must be
    /// its weight's spatial dimensions, and <c>group</c> times the weight's input channels must be the input's
    /// channels. ONNX Runtime would only notice at the first run.
    /// </summary>
    static List<TextDiagnostic> CheckConvolutions(string text, Graph realized, WeightStore weights, string file)
    {
        var diagnostics = new List<TextDiagnostic>();
        var lines = ContentLines(text).Where(l => !l.Text.StartsWith(' '))
            .ToDictionary(l => l.Text.Split(' ')[0], l => l, StringComparer.Ordinal);
        foreach (var n in realized.Nodes)
        {
            if (n.Op != "Conv" || n.Domain.Length > 0 || n.Inputs.Count < 2 || n.Inputs[1] is not WeightOperand w) continue;
            if (weights.ShapeOf(w.Name) is not { Length: >= 3 } dims || !lines.TryGetValue(n.Id, out var line)) continue;
            if (n.GetInts("kernel_shape") is { } kernel && !kernel.SequenceEqual(dims[2..]))
                diagnostics.Add(At(line, "kernel_shape=", file,
                    $"kernel_shape=[{string.Join(',', kernel)}] disagrees with @{w.Name}, " +
                    $"whose kernel is [{string.Join(',', dims[2..])}]"));
            long group = n.GetInt("group", 1);
            if (n.InChannels is { } c && c != group * dims[1])
                diagnostics.Add(At(line, "group=", file,
                    $"group={group} with @{w.Name} ({dims[1]} input channels per group) reads {group * dims[1]} channels, " +
                    $"but the input has {c}"));
        }
        return diagnostics;
    }

    static TextDiagnostic At((int Number, string Text) line, string token, string file, string message)
    {
        int col = line.Text.IndexOf(" " + token, StringComparison.Ordinal);
        return new TextDiagnostic(TextCodes.Disagreement, file, line.Number, col < 0 ? 1 : col + 2, message);
    }

    static List<(int Number, string Text)> ContentLines(string text)
    {
        var lines = new List<(int, string)>();
        var split = text.Split('\n');
        for (int i = 0; i < split.Length; i++)
        {
            var line = split[i].TrimEnd('\r');
            var trimmed = line.TrimStart();
            if (trimmed.Length > 0 && trimmed[0] != '#') lines.Add((i + 1, line));
        }
        return lines;
    }

    /// <summary>Points at the first space-separated token that differs and says what the weights give there.</summary>
    static TextDiagnostic Differ(string line, string expected, string file, int number, string weightsSource)
    {
        int start = 0, k = 0;
        while (k < line.Length && k < expected.Length && line[k] == expected[k])
        {
            k++;
            if (k < line.Length && line[k - 1] == ' ') start = k;
        }
        var got = TokenAt(line, start);
        var want = TokenAt(expected, start);
        var message = got.StartsWith("ch=", StringComparison.Ordinal) && want.StartsWith("ch=", StringComparison.Ordinal)
            ? $"'{got}' disagrees with the weights of {weightsSource} and shape inference, which give '{want}'"
            : $"'{got}' disagrees with the model this text realizes with {weightsSource}, where the line reads '{expected}'" +
              " (a text realized against weights must be exactly their serialization)";
        return new TextDiagnostic(TextCodes.Disagreement, file, number, start + 1, message);
    }

    static string TokenAt(string line, int start)
    {
        if (start >= line.Length) return "(end of line)";
        int end = line.IndexOf(' ', start);
        return end < 0 ? line[start..] : line[start..end];
    }
}

using System.Text.Json;

namespace Lamda.Adaptation;

/// <summary>
/// A warning or error of the <c>lamda</c> tool, with its code, as one JSON line of the file named by
/// <c>--messages</c>. The build task reads these instead of matching the tool's text, and logs each as an MSBuild
/// warning or error with its code.
/// </summary>
internal sealed record ToolMessage(string Kind, string Code, string Text)
{
    public const string Warning = "warning";
    public const string Error = "error";

    static readonly JsonSerializerOptions Json = new() { PropertyNamingPolicy = JsonNamingPolicy.CamelCase };

    public string ToJsonLine() => JsonSerializer.Serialize(this, Json);

    /// <summary>The message of one line, or null for a line that is not one (a torn last line of a killed tool).</summary>
    public static ToolMessage? Parse(string line)
    {
        try
        {
            var m = JsonSerializer.Deserialize<ToolMessage>(line, Json);
            return m is { Kind: Warning or Error, Code.Length: > 0 } ? m : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>Every message in <paramref name="path"/>; none when the tool wrote no file.</summary>
    public static IReadOnlyList<ToolMessage> ReadAll(string path) =>
        File.Exists(path) ? File.ReadLines(path).Select(Parse).OfType<ToolMessage>().ToList() : [];

    /// <summary>Appends one message to <paramref name="path"/>; a null path (no <c>--messages</c>) writes nothing.</summary>
    public static void Append(string? path, string kind, string code, string text)
    {
        if (path != null) File.AppendAllText(path, new ToolMessage(kind, code, text).ToJsonLine() + "\n");
    }
}

using System.Text.RegularExpressions;

namespace Lamda.Tests;

/// <summary>
/// The house rules of .editorconfig and docs/ARCHITECTURE.md that no compiler checks: lines of at most 140 characters
/// and methods of at most 60 lines in src/. A method is found by the layout every file here follows (a signature at a
/// member's indent, its brace alone on the next line at the same indent); expression-bodied members are short anyway.
/// </summary>
public sealed partial class HouseRulesTests
{
    const int MaxLineLength = 140, MaxMethodLines = 60;

    static IEnumerable<(string File, string[] Lines)> Sources() =>
        Directory.EnumerateFiles(Path.Combine(Shared.RepoRoot, "src"), "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}")
                && !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}"))
            .Select(f => (Path.GetRelativePath(Shared.RepoRoot, f), File.ReadAllLines(f)));

    [Fact]
    public void NoLineInSrcIsOver140Characters()
    {
        var longLines = Sources().SelectMany(s => s.Lines.Select((l, i) => (s.File, Line: i + 1, l.Length)))
            .Where(l => l.Length > MaxLineLength).Select(l => $"{l.File}:{l.Line} ({l.Length})").ToList();
        Assert.True(longLines.Count == 0, "lines over 140 characters:\n" + string.Join("\n", longLines));
    }

    [Fact]
    public void NoMethodInSrcIsOver60Lines()
    {
        var methods = Sources().SelectMany(s => MethodBodies(s.Lines).Select(m => (s.File, m.Start, m.Length))).ToList();
        Assert.True(methods.Count > 200, $"only {methods.Count} methods found: the layout rule below no longer matches the code");
        var tooLong = methods.Where(m => m.Length > MaxMethodLines).Select(m => $"{m.File}:{m.Start} ({m.Length} lines)").ToList();
        Assert.True(tooLong.Count == 0, "methods over 60 lines:\n" + string.Join("\n", tooLong));
    }

    [Fact]
    public void TheMethodFinderMeasuresBodiesAndSkipsTypesAndInitializers()
    {
        string[] code =
        [
            "sealed class A", "{", "    public int F(int x)", "    {", "        var o = new B", "        {", "        };",
            "        return x;", "    }", "    sealed class B", "    {", "    }", "}",
        ];
        var bodies = MethodBodies(code).ToList();
        Assert.Equal([(3, 4)], bodies);
    }

    /// <summary>Start line (1-based, the signature's first line) and body length (between the braces) of each method.</summary>
    static IEnumerable<(int Start, int Length)> MethodBodies(string[] lines)
    {
        for (int i = 1; i < lines.Length; i++)
        {
            var brace = OpeningBrace().Match(lines[i]);
            if (!brace.Success) continue;
            string indent = brace.Groups[1].Value;
            int start = i - 1;
            while (start > 0 && lines[start].StartsWith(indent + " ", StringComparison.Ordinal)) start--;
            var signature = string.Join(" ", lines[start..i].Select(l => l.Trim()));
            if (!lines[start].StartsWith(indent, StringComparison.Ordinal) || !IsMethodSignature(signature)) continue;
            int end = i + 1;
            while (end < lines.Length && lines[end] != indent + "}") end++;
            yield return (start + 1, end - i - 1);
        }
    }

    static bool IsMethodSignature(string signature) =>
        SignatureEnd().IsMatch(signature) && !NotAMethod().IsMatch(signature.Split('(')[0]) && !signature.Contains(" = ");

    [GeneratedRegex(@"^( {4}| {8})\{\s*$")]
    private static partial Regex OpeningBrace();

    [GeneratedRegex(@"\)\s*(where .*)?$")]
    private static partial Regex SignatureEnd();

    [GeneratedRegex(@"\b(class|record|struct|interface|enum|new|return|if|for|foreach|while|switch|using|lock|catch)\b|=>")]
    private static partial Regex NotAMethod();
}

namespace Lamda.Text;

/// <summary>LamdaText error codes (docs/lamdatext.md lists them with examples).</summary>
public static class TextCodes
{
    public const string Syntax = "LT001";
    public const string UnknownOperator = "LT002";
    public const string DanglingEdge = "LT003";
    public const string DuplicateId = "LT004";
    public const string MissingAttribute = "LT005";
    public const string WrongArity = "LT006";
    public const string BadNumber = "LT007";
    public const string BadHeader = "LT009";
    /// <summary>A text realized against weights says something they do not (see <see cref="TextRealizer"/>).</summary>
    public const string Disagreement = "LT010";
}

/// <summary>A problem at a position in a LamdaText file.</summary>
public sealed record TextDiagnostic(string Code, string File, int Line, int Column, string Message)
{
    public override string ToString() => $"{File}:{Line}:{Column}: {Code} {Message}";
}

/// <summary>Thrown when LamdaText does not parse; carries every diagnostic found, not only the first.</summary>
public sealed class LamdaTextException(IReadOnlyList<TextDiagnostic> diagnostics)
    : LamdaException(diagnostics[0].Code, string.Join(Environment.NewLine, diagnostics.Select(d => d.ToString())))
{
    public IReadOnlyList<TextDiagnostic> Diagnostics { get; } = diagnostics;
}

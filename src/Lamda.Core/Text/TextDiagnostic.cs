namespace Lamda.Text;

/// <summary>LamdaText error codes (docs/lamdatext.md lists them with examples).</summary>
public static class TextCodes
{
    /// <summary>The text does not follow the grammar.</summary>
    public const string Syntax = "LT001";
    /// <summary>An operator Lamda does not know.</summary>
    public const string UnknownOperator = "LT002";
    /// <summary>An edge is used but never produced.</summary>
    public const string DanglingEdge = "LT003";
    /// <summary>Two nodes share an id.</summary>
    public const string DuplicateId = "LT004";
    /// <summary>A node lacks an attribute its operator requires.</summary>
    public const string MissingAttribute = "LT005";
    /// <summary>A node has too few or too many inputs for its operator.</summary>
    public const string WrongArity = "LT006";
    /// <summary>A number cannot be read.</summary>
    public const string BadNumber = "LT007";
    /// <summary>The header (lamda version, opsets, inputs) is malformed.</summary>
    public const string BadHeader = "LT009";
    /// <summary>A text realized against weights says something they do not (see <see cref="TextRealizer"/>).</summary>
    public const string Disagreement = "LT010";
}

/// <summary>A problem at a position in a LamdaText file.</summary>
public sealed record TextDiagnostic(string Code, string File, int Line, int Column, string Message)
{
    /// <summary>The diagnostic as compilers print them: file:line:column: code message.</summary>
    public override string ToString() => $"{File}:{Line}:{Column}: {Code} {Message}";
}

/// <summary>Thrown when LamdaText does not parse; carries every diagnostic found, not only the first.</summary>
public sealed class LamdaTextException(IReadOnlyList<TextDiagnostic> diagnostics)
    : LamdaException(diagnostics[0].Code, string.Join(Environment.NewLine, diagnostics.Select(d => d.ToString())))
{
    /// <summary>Every error found, in text order.</summary>
    public IReadOnlyList<TextDiagnostic> Diagnostics { get; } = diagnostics;
}

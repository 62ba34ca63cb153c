using System.Globalization;
using System.Text;

namespace Lamda.Text;

/// <summary>Lexical rules shared by the LamdaText writer and reader, so the two cannot drift apart.</summary>
internal static class Syntax
{
    public const string Magic = "lamdatext";
    public const int Version = 1;

    /// <summary>Characters allowed in a bare (unquoted) weight reference or dimension name.</summary>
    public static bool IsBareNameChar(char c) =>
        char.IsAsciiLetterOrDigit(c) || c is '_' or '.' or ':' or '/' or '#' or '-' or '+';

    public static bool IsIdChar(char c) => char.IsAsciiLetterOrDigit(c) || c == '_';

    public static bool IsBareName(string s) => s.Length > 0 && s.All(IsBareNameChar) && !char.IsAsciiDigit(s[0]) && s != "_";

    /// <summary>A name written bare when it can be, quoted otherwise.</summary>
    public static string Name(string s) => IsBareName(s) ? s : Quote(s);

    public static string Quote(string s) =>
        Quote(s, c => c < 0x20 ? "\\x" + ((int)c).ToString("x2", CultureInfo.InvariantCulture) : null);

    /// <summary>
    /// A double-quoted string with C-style escapes for quote, backslash, newline, return and tab;
    /// <paramref name="escape"/> writes any other character that needs an escape (null: as it is). LamdaText and
    /// GBNF share this form and differ only there.
    /// </summary>
    public static string Quote(string s, Func<char, string?> escape)
    {
        var sb = new StringBuilder(s.Length + 2).Append('"');
        foreach (var c in s)
        {
            switch (c)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                default:
                    if (escape(c) is { } e) sb.Append(e);
                    else sb.Append(c);
                    break;
            }
        }
        return sb.Append('"').ToString();
    }

    /// <summary>Shortest text that parses back to the same float32, always marked as a real (<c>1.0</c>, not <c>1</c>).</summary>
    public static string Real(float f) => RealText(f.ToString("R", CultureInfo.InvariantCulture), f);

    public static string Real(double d) => RealText(d.ToString("R", CultureInfo.InvariantCulture), d);

    static string RealText(string s, double v)
    {
        if (double.IsNaN(v)) return "nan";
        if (double.IsPositiveInfinity(v)) return "inf";
        if (double.IsNegativeInfinity(v)) return "-inf";
        if (s.Contains('E')) s = s.Replace("E", "e");
        return s.Contains('.') || s.Contains('e') ? s : s + ".0";
    }

    public static string Int(long v) => v.ToString(CultureInfo.InvariantCulture);
}

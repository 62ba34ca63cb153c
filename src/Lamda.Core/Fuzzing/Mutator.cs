using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Lamda.Fuzzing;

/// <summary>
/// Seeded mutations of a valid input: byte-level damage for any file (truncate, flip bits, insert junk, delete
/// or duplicate a range) and, for text, edits a person or a language model makes (numbers, ids, operator
/// names, stray characters, lines swapped or dropped). One to four mutations are stacked per case.
/// </summary>
internal static partial class Mutator
{
    static readonly string[] Operators = ["Conv", "Relu", "Add", "Concat", "Gemm", "MaxPool", "Reshape", "Conv2d", "Foo", "Slice", "Split"];
    static readonly string[] Numbers =
    [
        "0", "-1", "1", "2", "3", "7", "32", "2000000000", "-2147483648", "9223372036854775807", "99999999999999999999",
        "1e309", "nan", "0.5", "",
    ];
    static readonly string[] Junk =
        ["%", "@", "(", ")", ",", "=", "[", "]", "\"", "\\", "#", "\n", "\0", "ch=", "->", "{", "}", ":", "?", "*", "é", " "];

    public static byte[] Mutate(byte[] seed, bool isText, Random rng)
    {
        var data = seed;
        int count = 1 + rng.Next(4);
        for (int i = 0; i < count; i++)
            data = isText && rng.Next(3) > 0
                ? Encoding.UTF8.GetBytes(MutateText(Encoding.UTF8.GetString(data), rng))
                : MutateBytes(data, rng);
        return data;
    }

    public static byte[] MutateBytes(byte[] data, Random rng)
    {
        if (data.Length == 0) return [(byte)rng.Next(256)];
        var list = new List<byte>(data);
        int at = rng.Next(list.Count);
        switch (rng.Next(6))
        {
            case 0: return data[..rng.Next(data.Length)];                                   // truncate
            case 1:                                                                          // flip bits
                for (int k = 0, n = 1 + rng.Next(8); k < n; k++) list[rng.Next(list.Count)] ^= (byte)(1 << rng.Next(8));
                break;
            case 2: list.InsertRange(at, Enumerable.Range(0, 1 + rng.Next(16)).Select(_ => (byte)rng.Next(256))); break; // junk
            case 3: list.RemoveRange(at, Math.Min(list.Count - at, 1 + rng.Next(64))); break; // delete a range
            case 4: list.InsertRange(at, list.Skip(rng.Next(list.Count)).Take(1 + rng.Next(64)).ToArray()); break; // duplicate
            default:                                                                          // extreme byte values
                for (int k = 0, n = 1 + rng.Next(4); k < n; k++) list[rng.Next(list.Count)] = rng.Next(2) == 0 ? (byte)0xFF : (byte)0x00;
                break;
        }
        return list.ToArray();
    }

    public static string MutateText(string text, Random rng)
    {
        switch (rng.Next(6))
        {
            case 0: return ReplaceOne(text, NumberPattern(), rng, _ => Numbers[rng.Next(Numbers.Length)]);
            case 1: return ReplaceOne(text, IdPattern(), rng, m => m.Value[0] + rng.Next(0, 40).ToString(CultureInfo.InvariantCulture));
            case 2: return ReplaceOne(text, OperatorPattern(), rng, _ => Operators[rng.Next(Operators.Length)]);
            case 3: return text.Insert(rng.Next(text.Length + 1), Junk[rng.Next(Junk.Length)]);
            default:
                var lines = text.Split('\n').ToList();
                if (lines.Count < 2) return text + "\n";
                int a = rng.Next(lines.Count), b = rng.Next(lines.Count);
                if (rng.Next(2) == 0) (lines[a], lines[b]) = (lines[b], lines[a]);
                else lines.RemoveAt(a);
                return string.Join('\n', lines);
        }
    }

    static string ReplaceOne(string text, Regex pattern, Random rng, Func<Match, string> replacement)
    {
        var matches = pattern.Matches(text);
        if (matches.Count == 0) return text;
        var m = matches[rng.Next(matches.Count)];
        return string.Concat(text.AsSpan(0, m.Index), replacement(m), text.AsSpan(m.Index + m.Length));
    }

    [GeneratedRegex(@"-?\d+(\.\d+)?(e-?\d+)?")]
    private static partial Regex NumberPattern();
    [GeneratedRegex(@"[%n@]\w+")]
    private static partial Regex IdPattern();
    [GeneratedRegex(@"\b[A-Z][A-Za-z]+(?=\()")]
    private static partial Regex OperatorPattern();
}

namespace Lamda.Evaluation;

/// <summary>
/// The symbols of a CTC sequence output, in PaddleOCR's layout: class 0 is the blank, classes 1..n are the lines of a
/// dictionary file, and class n + 1, when the output has it, is a space.
/// </summary>
public sealed class CtcAlphabet
{
    readonly string[] symbols;

    /// <param name="symbols">the text of classes 1, 2, ... (class 0, the blank, has none)</param>
    public CtcAlphabet(IReadOnlyList<string> symbols) => this.symbols = [.. symbols];

    /// <summary>True when an output with this many classes (the blank included) fits: the symbols, and maybe a space.</summary>
    public bool Fits(long classes) => classes == symbols.Length + 1 || classes == symbols.Length + 2;

    /// <summary>The text of one class: nothing for the blank, a space for the class after the dictionary's.</summary>
    public string Symbol(int index) => index == CtcDecoder.Blank ? "" : index <= symbols.Length ? symbols[index - 1] : " ";

    /// <summary>Reads a dictionary file: one symbol a line, UTF-8.</summary>
    public static CtcAlphabet Load(string path)
    {
        if (!File.Exists(path)) throw new LamdaException(ErrorCodes.FileNotFound, $"{path}: dictionary file not found.");
        var lines = File.ReadAllText(path).Split('\n').Select(l => l.TrimEnd('\r')).ToList();
        if (lines.Count > 0 && lines[^1].Length == 0) lines.RemoveAt(lines.Count - 1);
        if (lines.Count == 0) throw new LamdaException(ErrorCodes.BadData, $"{path}: the dictionary is empty; give one symbol a line.");
        return new CtcAlphabet(lines);
    }

    /// <summary>How many symbols the dictionary has (the blank and the space not counted).</summary>
    public int Count => symbols.Length;
}

/// <summary>Greedy CTC decoding: the argmax at each position, repeats merged, blanks dropped.</summary>
public static class CtcDecoder
{
    /// <summary>The class that separates symbols and stands for no symbol.</summary>
    public const int Blank = 0;

    /// <summary>The class indices of one sequence, <paramref name="scores"/> holding [T, C] values row by row.</summary>
    public static List<int> Greedy(ReadOnlySpan<float> scores, int classes)
    {
        var result = new List<int>();
        int previous = Blank;
        for (int t = 0; t < scores.Length / classes; t++)
        {
            var row = scores.Slice(t * classes, classes);
            int best = 0;
            for (int k = 1; k < classes; k++) if (row[k] > row[best]) best = k;
            // A repeat is one symbol unless a blank separates the two.
            if (best != previous && best != Blank) result.Add(best);
            previous = best;
        }
        return result;
    }

    /// <summary>The text of one sequence of [T, C] scores.</summary>
    /// <param name="scores">[T, C] values, row by row</param>
    /// <param name="classes">C, the classes at each position</param>
    /// <param name="alphabet">the symbols of the classes</param>
    public static string Decode(ReadOnlySpan<float> scores, int classes, CtcAlphabet alphabet) =>
        string.Concat(Greedy(scores, classes).Select(alphabet.Symbol));
}

namespace Lamda.Text;

/// <summary>Counts the tokens a piece of LamdaText costs in a language model's context.</summary>
internal interface ITokenCounter
{
    /// <summary>Short description shown in reports, e.g. "estimate" or a tokenizer's name.</summary>
    string Name { get; }

    int Count(string text);
}

/// <summary>
/// A deterministic, tokenizer-free estimate tuned to how BPE tokenizers of code models split LamdaText
/// (docs/lamdatext.md, "Token counting"): every digit is one token (Llama and Qwen split digits), a run of
/// ASCII letters costs one token per 4 letters (rounded up), spaces merge into the following token, and
/// every other character (punctuation, newline, non-ASCII) is one token.
/// </summary>
internal sealed class EstimatingTokenCounter : ITokenCounter
{
    public static readonly EstimatingTokenCounter Instance = new();

    public string Name => "estimate";

    public int Count(string text)
    {
        int tokens = 0, letters = 0;
        foreach (char c in text)
        {
            if (char.IsAsciiLetter(c)) { letters++; continue; }
            if (letters > 0) { tokens += (letters + 3) / 4; letters = 0; }
            if (c == ' ') continue;
            tokens++;
        }
        if (letters > 0) tokens += (letters + 3) / 4;
        return tokens;
    }
}

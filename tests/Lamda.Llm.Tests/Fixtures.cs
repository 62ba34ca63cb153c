using System.Text.RegularExpressions;

namespace Lamda.Llm.Tests;

/// <summary>
/// The tiny GGUF written once per test run and loaded once: llama.cpp decoding is the slow part of these tests,
/// and tests that use it run one at a time (<see cref="TinyModelCollection"/>) so they do not fight over the 2 cores.
/// </summary>
public sealed class TinyModelFixture : IDisposable
{
    /// <summary>
    /// Large enough that the sample TinyNet is asked in one piece (the tiny vocabulary spends a token on most characters).
    /// </summary>
    public const int Context = 16384;

    public string Folder { get; } = Directory.CreateTempSubdirectory("lamda-llm-").FullName;
    public string Path { get; }
    internal LlamaLanguageModel Model { get; }

    public TinyModelFixture()
    {
        Path = System.IO.Path.Combine(Folder, "tiny.gguf");
        TinyGguf.Write(Path, contextLength: Context);
        Model = new LlamaLanguageModel(Path, Context, threads: 2);
    }

    public void Dispose()
    {
        Model.Dispose();
        Directory.Delete(Folder, recursive: true);
    }
}

[CollectionDefinition(Name)]
public sealed class TinyModelCollection : ICollectionFixture<TinyModelFixture>
{
    public const string Name = "tiny GGUF model";
}

/// <summary>
/// A language model that answers by rule instead of by sampling, for testing what the generator does with
/// answers (reassembly, interface checks, history) independently of what a random model happens to write.
/// It reads the base node lines out of the question and returns them through <see cref="Rewrite"/>.
/// Token counts are one per 4 characters, as a stand-in tokenizer.
/// </summary>
internal sealed partial class ScriptedLanguageModel(int contextSize, Func<int, string, string>? rewrite = null) : ILanguageModel
{
    /// <summary>(call number, a base node line) -> the answer's line.</summary>
    public Func<int, string, string> Rewrite { get; } = rewrite ?? ((_, line) => line);
    public List<IReadOnlyList<ChatMessage>> Calls { get; } = [];
    public List<string> Grammars { get; } = [];

    public string Name => "scripted";
    public int ContextSize => contextSize;
    public int CountTokens(string text) => (text.Length + 3) / 4;
    public int CountPromptTokens(IReadOnlyList<ChatMessage> messages) => messages.Sum(m => CountTokens(m.Content) + 4) + 2;

    public string Complete(IReadOnlyList<ChatMessage> messages, string grammar, int maxTokens, uint seed, CancellationToken cancel = default)
    {
        Calls.Add(messages.ToList());
        Grammars.Add(grammar);
        var question = messages.Last(m => m.Role == "user" && m.Content.Contains("Base architecture", StringComparison.Ordinal)).Content;
        var lines = question.Split('\n').Where(l => NodeLine().IsMatch(l));
        return string.Concat(lines.Select(l => Rewrite(Calls.Count, l) + "\n"));
    }

    public void Dispose() { }

    [GeneratedRegex(@"^n\d+ [A-Za-z]")]
    private static partial Regex NodeLine();
}

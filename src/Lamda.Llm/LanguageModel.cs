namespace Lamda.Llm;

/// <summary>One turn of a chat: <c>system</c>, <c>user</c> or <c>assistant</c>.</summary>
internal sealed record ChatMessage(string Role, string Content)
{
    public static ChatMessage System(string content) => new("system", content);
    public static ChatMessage User(string content) => new("user", content);
    public static ChatMessage Assistant(string content) => new("assistant", content);
}

/// <summary>
/// What the LLM generator needs from a language model: its own token counts, its context size, and a chat
/// completion whose decoding is constrained by a GBNF grammar and seeded, so the same model file and seed
/// give the same answer.
/// </summary>
internal interface ILanguageModel : IDisposable
{
    /// <summary>Shown in reports: the model file's name and architecture.</summary>
    string Name { get; }

    /// <summary>Tokens the context holds (prompt and answer together).</summary>
    int ContextSize { get; }

    int CountTokens(string text);

    /// <summary>Tokens the chat costs once the model's chat template is applied, with the assistant's turn opened.</summary>
    int CountPromptTokens(IReadOnlyList<ChatMessage> messages);

    /// <summary>The assistant's answer to <paramref name="messages"/>; every answer is a sentence of <paramref name="grammar"/>.</summary>
    string Complete(IReadOnlyList<ChatMessage> messages, string grammar, int maxTokens, uint seed, CancellationToken cancel = default);
}

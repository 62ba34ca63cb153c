using System.Text;
using LLama;
using LLama.Common;
using LLama.Native;
using LLama.Sampling;

namespace Lamda.Llm;

/// <summary>
/// A GGUF model run by LLamaSharp on the CPU. Loading checks the file first (<see cref="GgufFile"/>), so a
/// missing or wrong file gets a Lamda error code instead of llama.cpp's null handle. Decoding is seeded and
/// constrained by a GBNF grammar.
/// </summary>
internal sealed class LlamaLanguageModel : ILanguageModel
{
    /// <summary>Context used when the caller gives none: the trained context, capped to keep memory modest.</summary>
    public const int DefaultContext = 8192;

    readonly LLamaWeights weights;
    readonly ModelParams parameters;
    readonly GgufFile file;
    readonly float temperature;

    static readonly object LogGate = new();
    static bool logConfigured;
    static readonly List<string> RecentNativeErrors = [];

    public LlamaLanguageModel(string path, int? contextSize = null, int threads = 0, float temperature = 0.6f)
    {
        file = GgufFile.Read(path);
        int trained = file.ContextLength ?? DefaultContext;
        int context = contextSize ?? Math.Min(trained, DefaultContext);
        if (context < 256)
            throw new LamdaException(ErrorCodes.ContextTooSmall,
                $"{path}: a context of {context} tokens cannot hold Lamda's prompt; use at least 256 (--llm-context).");
        if (context > trained)
            throw new LamdaException(ErrorCodes.ContextTooSmall,
                $"{path}: --llm-context {context} is larger than the {trained} tokens this model was trained for; use at most {trained}.");
        ConfigureLogging();
        this.temperature = temperature;
        parameters = new ModelParams(path)
        {
            ContextSize = (uint)context,
            Threads = threads > 0 ? threads : Math.Max(1, Environment.ProcessorCount),
            GpuLayerCount = 0,
        };
        try
        {
            weights = LLamaWeights.LoadFromFile(parameters);
        }
        catch (Exception e) when (e is not LamdaException)
        {
            string native;
            lock (LogGate) native = string.Join(" ", RecentNativeErrors.TakeLast(3)).Trim();
            throw new LamdaException(ErrorCodes.BadLlmModel,
                $"{path}: llama.cpp could not load this GGUF ({file.Architecture}): " +
                    $"{e.Message}{(native.Length > 0 ? " " + native : "")}. Use a model llama.cpp supports (LLamaSharp 0.30.0).", e);
        }
        ContextSize = context;
    }

    public string Name => $"{System.IO.Path.GetFileName(file.Path)} ({file.Architecture}{(file.Name is { } n ? ", " + n : "")})";

    public int ContextSize { get; }

    public GgufFile File => file;

    public int CountTokens(string text) => weights.Tokenize(text, false, false, Encoding.UTF8).Length;

    public int CountPromptTokens(IReadOnlyList<ChatMessage> messages)
        => weights.Tokenize(Format(messages), true, true, Encoding.UTF8).Length;

    public string
        Complete(IReadOnlyList<ChatMessage> messages, string grammar, int maxTokens, uint seed, CancellationToken cancel = default)
    {
        var prompt = Format(messages);
        var executor = new StatelessExecutor(weights, parameters) { ApplyTemplate = false };
        var inference = new InferenceParams
        {
            MaxTokens = maxTokens,
            SamplingPipeline = new DefaultSamplingPipeline { Grammar = new Grammar(grammar, "root"), Seed = seed,
                Temperature = temperature },
        };
        var answer = new StringBuilder();
        foreach (var piece in executor.InferAsync(prompt, inference, cancel).ToBlockingEnumerable(cancel)) answer.Append(piece);
        return answer.ToString();
    }

    /// <summary>The model's own chat template when it has one; ChatML (llama.cpp's default) otherwise.</summary>
    string Format(IReadOnlyList<ChatMessage> messages)
    {
        if (file.HasChatTemplate)
        {
            var template = new LLamaTemplate(weights) { AddAssistant = true };
            foreach (var m in messages) template.Add(m.Role, m.Content);
            return Encoding.UTF8.GetString(template.Apply());
        }
        var sb = new StringBuilder();
        foreach (var m in messages) sb.Append("<|im_start|>").Append(m.Role).Append('\n').Append(m.Content).Append("<|im_end|>\n");
        return sb.Append("<|im_start|>assistant\n").ToString();
    }

    /// <summary>llama.cpp logs to stderr by default; Lamda keeps its errors for its own messages and drops the rest.</summary>
    static void ConfigureLogging()
    {
        lock (LogGate)
        {
            if (logConfigured) return;
            logConfigured = true;
            try
            {
                NativeLibraryConfig.All.WithLogCallback((level, message) =>
                {
                    if (level < LLamaLogLevel.Error) return;
                    lock (LogGate)
                    {
                        RecentNativeErrors.Add(message.Trim());
                        if (RecentNativeErrors.Count > 20) RecentNativeErrors.RemoveAt(0);
                    }
                });
            }
            catch (InvalidOperationException)
            {
                // The native library was loaded before (by another component): its logging stays as configured there.
            }
        }
    }

    public void Dispose() => weights.Dispose();
}

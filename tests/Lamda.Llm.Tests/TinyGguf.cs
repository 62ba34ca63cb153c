using System.Text;

namespace Lamda.Llm.Tests;

/// <summary>
/// Writes a tiny llama-architecture GGUF with seeded random weights: 2 layers, 64-wide, a SentencePiece
/// vocabulary of byte tokens, printable characters and LamdaText's words, and a ChatML template. No
/// instruction-tuned model can be downloaded here, so this model proves the machinery (loading, the real
/// tokenizer, the chat template, grammar-constrained sampling), not the quality of its answers.
/// </summary>
public static class TinyGguf
{
    const uint Magic = 0x46554747; // "GGUF"
    const int Embedding = 64, Layers = 2, Heads = 4, FeedForward = 128;

    // GGUF metadata value types.
    const uint U32 = 4, I32 = 5, F32 = 6, Bool = 7, Str = 8, Array = 9;

    static readonly string[] Words =
    [
        "Conv", "Relu", "Clip", "Add", "Concat", "Gemm", "MaxPool", "AveragePool", "GlobalAveragePool", "Flatten", "Reshape",
        "Transpose", "Split", "Slice", "BatchNormalization", "Mul", "Sigmoid", "ch=", "->", "dilations", "group", "kernel_shape",
        "pads", "strides", "axis", "alpha", "beta", "transB", "ceil_mode", "weight", "bias", "lamdatext", "model", "input", "output",
        "Architecture", "latency", "device", "budget", "Error", "Syntax", "Requirement", "Task",
    ];

    /// <summary>Writes the model to <paramref name="path"/> (deterministic for a seed).</summary>
    public static void Write(string path, int seed = 7, int contextLength = 4096)
    {
        var (tokens, scores, types) = Vocabulary();
        using var stream = File.Create(path);
        using var w = new BinaryWriter(stream, Encoding.UTF8);
        var tensors = Tensors(tokens.Count);
        var kv = new List<Action>();
        int count = 0;
        void Kv(string key, uint type, Action value) { count++; kv.Add(() => { WriteString(w, key); w.Write(type); value(); }); }

        Kv("general.architecture", Str, () => WriteString(w, "llama"));
        Kv("general.name", Str, () => WriteString(w, "lamda-tiny-test"));
        Kv("general.alignment", U32, () => w.Write(32u));
        Kv("llama.context_length", U32, () => w.Write((uint)contextLength));
        Kv("llama.embedding_length", U32, () => w.Write((uint)Embedding));
        Kv("llama.block_count", U32, () => w.Write((uint)Layers));
        Kv("llama.feed_forward_length", U32, () => w.Write((uint)FeedForward));
        Kv("llama.attention.head_count", U32, () => w.Write((uint)Heads));
        Kv("llama.attention.head_count_kv", U32, () => w.Write((uint)Heads));
        Kv("llama.rope.dimension_count", U32, () => w.Write((uint)(Embedding / Heads)));
        Kv("llama.attention.layer_norm_rms_epsilon", F32, () => w.Write(1e-5f));
        Kv("tokenizer.ggml.model", Str, () => WriteString(w, "llama"));
        Kv("tokenizer.ggml.tokens", Array, () => { w.Write(Str); w.Write((ulong)tokens.Count); foreach (var t in tokens) WriteString(w, t); });
        Kv("tokenizer.ggml.scores", Array, () => { w.Write(F32); w.Write((ulong)scores.Count); foreach (var s in scores) w.Write(s); });
        Kv("tokenizer.ggml.token_type", Array, () => { w.Write(I32); w.Write((ulong)types.Count); foreach (var t in types) w.Write(t); });
        Kv("tokenizer.ggml.unknown_token_id", U32, () => w.Write(0u));
        Kv("tokenizer.ggml.bos_token_id", U32, () => w.Write(1u));
        Kv("tokenizer.ggml.eos_token_id", U32, () => w.Write((uint)tokens.IndexOf("<|im_end|>")));
        Kv("tokenizer.ggml.add_bos_token", Bool, () => w.Write((byte)1));
        Kv("tokenizer.chat_template", Str, () => WriteString(w,
            "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"));

        w.Write(Magic);
        w.Write(3u);
        w.Write((ulong)tensors.Count);
        w.Write((ulong)count);
        foreach (var write in kv) write();

        ulong offset = 0;
        foreach (var (name, dims) in tensors)
        {
            WriteString(w, name);
            w.Write((uint)dims.Length);
            foreach (var d in dims) w.Write((ulong)d);
            w.Write(0u); // F32
            w.Write(offset);
            offset += Align((ulong)(dims.Aggregate(1L, (a, b) => a * b) * 4));
        }
        Pad(w);
        var random = new Random(seed);
        foreach (var (name, dims) in tensors)
        {
            long n = dims.Aggregate(1L, (a, b) => a * b);
            bool norm = name.EndsWith("norm.weight", StringComparison.Ordinal);
            for (long i = 0; i < n; i++) w.Write(norm ? 1f : (float)((random.NextDouble() * 2 - 1) * 0.08));
            Pad(w);
        }
    }

    static List<(string Name, long[] Dims)> Tensors(int vocab)
    {
        // ggml order: the first dimension is the innermost (a row of the weight matrix).
        var t = new List<(string, long[])> { ("token_embd.weight", [Embedding, vocab]) };
        for (int i = 0; i < Layers; i++)
        {
            t.Add(($"blk.{i}.attn_norm.weight", [Embedding]));
            t.Add(($"blk.{i}.attn_q.weight", [Embedding, Embedding]));
            t.Add(($"blk.{i}.attn_k.weight", [Embedding, Embedding]));
            t.Add(($"blk.{i}.attn_v.weight", [Embedding, Embedding]));
            t.Add(($"blk.{i}.attn_output.weight", [Embedding, Embedding]));
            t.Add(($"blk.{i}.ffn_norm.weight", [Embedding]));
            t.Add(($"blk.{i}.ffn_gate.weight", [Embedding, FeedForward]));
            t.Add(($"blk.{i}.ffn_up.weight", [Embedding, FeedForward]));
            t.Add(($"blk.{i}.ffn_down.weight", [FeedForward, Embedding]));
        }
        t.Add(("output_norm.weight", [Embedding]));
        t.Add(("output.weight", [Embedding, vocab]));
        return t;
    }

    /// <summary>
    /// SentencePiece vocabulary: control tokens, 256 byte tokens, characters, then word prefixes (so merges reach whole words).
    /// </summary>
    static (List<string> Tokens, List<float> Scores, List<int> Types) Vocabulary()
    {
        const int Normal = 1, Unknown = 2, Control = 3, Byte = 6;
        var tokens = new List<string>();
        var scores = new List<float>();
        var types = new List<int>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        void Add(string t, float score, int type) { if (seen.Add(t)) { tokens.Add(t); scores.Add(score); types.Add(type); } }
        Add("<unk>", 0, Unknown);
        Add("<s>", 0, Control);
        Add("</s>", 0, Control);
        Add("<|im_start|>", 0, Control);
        Add("<|im_end|>", 0, Control);
        for (int b = 0; b < 256; b++) Add($"<0x{b:X2}>", 0, Byte);
        Add("\u2581", -1, Normal);
        for (char c = '!'; c <= '~'; c++) Add(c.ToString(), -2, Normal);
        foreach (var word in Words)
            for (int len = 2; len <= word.Length; len++)
            {
                Add(word[..len], len, Normal);
                Add("\u2581" + word[..len], len + 0.5f, Normal);
            }
        return (tokens, scores, types);
    }

    static void WriteString(BinaryWriter w, string s)
    {
        var bytes = Encoding.UTF8.GetBytes(s);
        w.Write((ulong)bytes.Length);
        w.Write(bytes);
    }

    static ulong Align(ulong n) => (n + 31) / 32 * 32;

    static void Pad(BinaryWriter w)
    {
        w.Flush();
        while (w.BaseStream.Position % 32 != 0) w.Write((byte)0);
    }
}

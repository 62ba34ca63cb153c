using System.Text;

namespace Lamda.Llm;

/// <summary>
/// What Lamda reads from a GGUF file's header before handing it to llama.cpp: that it is a GGUF file at all
/// (llama.cpp's own failure on a wrong file is an opaque null handle), its architecture, trained context
/// length, vocabulary size and whether it carries a chat template. Tensor data is never read.
/// </summary>
internal sealed record
    GgufFile(string Path, uint Version, string Architecture, string? Name, int? ContextLength, int VocabularySize, bool HasChatTemplate)
{
    const uint Magic = 0x46554747; // "GGUF" read little-endian

    /// <summary>Reads the header; <see cref="LamdaException"/> with LAMDA001 (missing) or LAMDA016 (not a usable GGUF).</summary>
    public static GgufFile Read(string path, string what = "--llm-model")
    {
        if (!File.Exists(path))
            throw new LamdaException(ErrorCodes.FileNotFound,
                $"{path}: the LLM model file ({what}) does not exist; give the path of a GGUF model (for example a Qwen2.5-Coder GGUF " +
                    "from Hugging Face).");
        try
        {
            using var stream = File.OpenRead(path);
            using var r = new BinaryReader(stream, Encoding.UTF8);
            return ReadHeader(path, r, stream);
        }
        catch (EndOfStreamException)
        {
            throw Bad(path, "is truncated (the header ends early); download it again.");
        }
        catch (IOException e)
        {
            throw Bad(path, $"cannot be read: {e.Message}");
        }
        catch (OverflowException)
        {
            throw Bad(path, "has an implausible header (corrupt or truncated).");
        }
    }

    // The header and the metadata pairs; tensor data is never read.
    static GgufFile ReadHeader(string path, BinaryReader r, Stream stream)
    {
        if (stream.Length < 24 || r.ReadUInt32() != Magic)
            throw Bad(path,
                "is not a GGUF file (no 'GGUF' magic); Lamda's LLM generator needs a llama.cpp GGUF model, not ONNX, safetensors or " +
                "a PyTorch checkpoint. Convert it with llama.cpp's convert_hf_to_gguf.py.");
        uint version = r.ReadUInt32();
        if (version is < 2 or > 3)
            throw Bad(path, $"is GGUF version {version}; versions 2 and 3 are supported.");
        ulong tensors = r.ReadUInt64(), count = r.ReadUInt64();
        if (tensors > 1_000_000 || count > 1_000_000) throw Bad(path, "has an implausible header (corrupt or truncated).");
        string? architecture = null, name = null;
        bool template = false;
        int vocabulary = 0;
        var integers = new Dictionary<string, long>(StringComparer.Ordinal);
        for (ulong i = 0; i < count; i++)
        {
            string key = ReadString(r, stream);
            uint type = r.ReadUInt32();
            switch (key)
            {
                case "general.architecture" when type == 8: architecture = ReadString(r, stream); break;
                case "general.name" when type == 8: name = ReadString(r, stream); break;
                case "tokenizer.chat_template": template = true; Skip(r, stream, type); break;
                case "tokenizer.ggml.tokens" when type == 9:
                    uint elementType = r.ReadUInt32();
                    ulong n = r.ReadUInt64();
                    vocabulary = checked((int)n);
                    for (ulong k = 0; k < n; k++) Skip(r, stream, elementType);
                    break;
                default:
                    if (Integer(r, type) is { } v) integers[key] = v;
                    else Skip(r, stream, type);
                    break;
            }
        }
        if (architecture == null) throw Bad(path, "has no general.architecture; it is not a language model GGUF.");
        if (vocabulary == 0)
            throw Bad(path,
                "has no tokenizer (tokenizer.ggml.tokens); Lamda needs the model's own tokenizer to count and constrain tokens.");
        int? context = integers.TryGetValue(architecture + ".context_length", out var c) ? (int)Math.Min(c, int.MaxValue) : null;
        return new GgufFile(path, version, architecture, name, context, vocabulary, template);
    }

    static LamdaException Bad(string path, string problem) => new(ErrorCodes.BadLlmModel, $"{path}: {problem}");

    static string ReadString(BinaryReader r, Stream s)
    {
        ulong length = r.ReadUInt64();
        if (length > (ulong)(s.Length - s.Position)) throw new EndOfStreamException();
        return Encoding.UTF8.GetString(r.ReadBytes((int)length));
    }

    static long? Integer(BinaryReader r, uint type) => type switch
    {
        0 => r.ReadByte(), 1 => r.ReadSByte(), 2 => r.ReadUInt16(), 3 => r.ReadInt16(),
        4 => r.ReadUInt32(), 5 => r.ReadInt32(), 10 => (long)Math.Min(r.ReadUInt64(), long.MaxValue), 11 => r.ReadInt64(),
        _ => null,
    };

    /// <summary>Arrays of arrays nest at most this deep; a corrupt header could otherwise recurse until the stack overflows.</summary>
    const int MaxNesting = 8;

    static void Skip(BinaryReader r, Stream s, uint type, int depth = 0)
    {
        if (depth > MaxNesting) throw new OverflowException();
        switch (type)
        {
            case 0 or 1 or 7: s.Seek(1, SeekOrigin.Current); break;
            case 2 or 3: s.Seek(2, SeekOrigin.Current); break;
            case 4 or 5 or 6: s.Seek(4, SeekOrigin.Current); break;
            case 10 or 11 or 12: s.Seek(8, SeekOrigin.Current); break;
            case 8:
                ulong length = r.ReadUInt64();
                if (length > (ulong)(s.Length - s.Position)) throw new EndOfStreamException();
                s.Seek((long)length, SeekOrigin.Current);
                break;
            case 9:
                uint element = r.ReadUInt32();
                ulong n = r.ReadUInt64();
                if (n > (ulong)(s.Length - s.Position)) throw new EndOfStreamException(); // every element takes at least a byte
                for (ulong k = 0; k < n; k++) Skip(r, s, element, depth + 1);
                break;
            default: throw new OverflowException();
        }
        if (s.Position > s.Length) throw new EndOfStreamException();
    }
}

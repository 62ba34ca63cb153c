using Lamda.Tests;

namespace Lamda.Llm.Tests;

/// <summary>Wrong or unusable model files and contexts: clear errors with codes that name the file.</summary>
[Collection(TinyModelCollection.Name)]
public class BadInputTests(TinyModelFixture tiny) : IDisposable
{
    readonly string dir = Directory.CreateTempSubdirectory("lamda-llm-bad-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    static LamdaException Fails(string code, Action action)
    {
        var e = Assert.Throws<LamdaException>(action);
        Assert.Equal(code, e.Code);
        return e;
    }

    [Fact]
    public void TheHeaderOfTheTinyModelIsRead()
    {
        var header = GgufFile.Read(tiny.Path);
        Assert.Equal("llama", header.Architecture);
        Assert.Equal("lamda-tiny-test", header.Name);
        Assert.Equal(3u, header.Version);
        Assert.Equal(TinyModelFixture.Context, header.ContextLength);
        Assert.True(header.HasChatTemplate);
        Assert.True(header.VocabularySize > 256 + 94, "byte tokens, printable characters and LamdaText words");
        Assert.Equal(TinyModelFixture.Context, tiny.Model.ContextSize);
    }

    [Fact]
    public void AMissingFileIsNamed()
    {
        var path = Path.Combine(dir, "nowhere.gguf");
        var e = Fails(ErrorCodes.FileNotFound, () => new LlamaLanguageModel(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("GGUF", e.Message);
    }

    [Fact]
    public void FilesThatAreNotGgufAreRejectedBeforeLlamaCppSeesThem()
    {
        var onnx = Path.Combine(Shared.RepoRoot, "samples", "models", "tinynet.onnx");
        var e = Fails(ErrorCodes.BadLlmModel, () => new LlamaLanguageModel(onnx));
        Assert.Contains(onnx, e.Message);
        Assert.Contains("not a GGUF file", e.Message);

        var empty = Path.Combine(dir, "empty.gguf");
        File.WriteAllBytes(empty, []);
        Assert.Contains("not a GGUF file", Fails(ErrorCodes.BadLlmModel, () => GgufFile.Read(empty)).Message);

        var truncated = Path.Combine(dir, "truncated.gguf");
        File.WriteAllBytes(truncated, File.ReadAllBytes(tiny.Path).Take(3000).ToArray());
        var t = Fails(ErrorCodes.BadLlmModel, () => new LlamaLanguageModel(truncated));
        Assert.Contains(truncated, t.Message);
        Assert.Contains("truncated", t.Message);
    }

    [Fact]
    public void AFileWhoseTensorsAreMissingIsAnErrorFromLlamaCppWithACode()
    {
        // The whole header is there (metadata and tensor table), the weights are not: only llama.cpp can tell.
        var bytes = File.ReadAllBytes(tiny.Path);
        var cut = Path.Combine(dir, "weights-missing.gguf");
        File.WriteAllBytes(cut, bytes.Take(bytes.Length / 2).ToArray());
        GgufFile.Read(cut);
        var e = Fails(ErrorCodes.BadLlmModel, () => new LlamaLanguageModel(cut, 1024));
        Assert.Contains(cut, e.Message);
        Assert.Contains("llama.cpp could not load", e.Message);
    }

    [Fact]
    public void ContextsThatCannotHoldTheWorkAreRejected()
    {
        Assert.Contains("at least 256", Fails(ErrorCodes.ContextTooSmall, () => new LlamaLanguageModel(tiny.Path, 128)).Message);
        Assert.Contains($"at most {TinyModelFixture.Context}", Fails(ErrorCodes.ContextTooSmall, () => new LlamaLanguageModel(tiny.Path, TinyModelFixture.Context * 2)).Message);

        // Loadable, but the prompt alone leaves no room for a slice: the message says how much is needed.
        using var small = new LlamaLanguageModel(tiny.Path, 512, threads: 2);
        var s = LlmGeneratorTests.TinyNet();
        var e = Fails(ErrorCodes.ContextTooSmall, () => LlmGeneratorTests.Generator(s, small));
        Assert.Contains("too small for one slice", e.Message);
        Assert.Matches(@"at least \d+ are needed", e.Message);
    }
}

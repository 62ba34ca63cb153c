using System.Globalization;
using System.Text.Json;
using Lamda.Graphs;
using Lamda.Llm.Tests;
using Lamda.Onnx;
using Lamda.Runtime;
using Lamda.Tests;
using Lamda.Text;

namespace Lamda.Cli.Tests;

/// <summary>The LLM generator and the fine-tuning data through the real entry point.</summary>
public class LlmCliTests : CliTestBase
{
    string TinyGgufFile()
    {
        var path = Path.Combine(dir, "tiny.gguf");
        TinyGguf.Write(path, contextLength: 16384);
        return path;
    }

    [SharedFact]
    public void AdaptWithTheLlmGeneratorCompletesOnASharedModel()
    {
        var model = Shared.ModelPath("squeezenet1_1");
        double baseMs = PredictMs(model, "jetson-nano");
        double target = 0.6 * baseMs;
        var output = Path.Combine(dir, "squeezenet.llm.onnx");
        var report = Path.Combine(dir, "report.json");
        var r = Lamda("adapt", model, "--latency", target.ToString("F4", CultureInfo.InvariantCulture) + "ms", "--device", "jetson-nano",
            "-o", output, "--report", report, "--generator", "llm", "--llm-model", TinyGgufFile(), "--llm-attempts", "2", "--seed", "5");
        Assert.True(r.Code == 0, r.Err);
        Assert.Contains("LLM tiny.gguf (llama, lamda-tiny-test)", r.Err);
        Assert.Contains("iteration 1 (llm)", r.Err);
        Assert.Contains("iteration 3 (search (fallback))", r.Err);

        using var json = JsonDocument.Parse(File.ReadAllText(report));
        var root = json.RootElement;
        var iterations = root.GetProperty("iterations").EnumerateArray().ToList();
        // Two LLM iterations, every answer parsed (the validators rejected them for what they mean), then the fallback.
        foreach (var it in iterations.Take(2))
        {
            Assert.Equal("llm", it.GetProperty("generator").GetString());
            Assert.Matches(@"(\d+)/\1 answers parse", it.GetProperty("note").GetString());
            Assert.DoesNotContain(it.GetProperty("diagnostics").EnumerateArray(), d => d.GetProperty("code").GetString() == "LV101");
        }
        Assert.All(iterations.Skip(2), it => Assert.Equal("search (fallback)", it.GetProperty("generator").GetString()));
        Assert.Equal("search (fallback)", root.GetProperty("generator").GetString());
        Assert.Contains(root.GetProperty("warnings").EnumerateArray(), w => w.GetString()!.Contains("search generator took over"));
        Assert.InRange(root.GetProperty("final").GetProperty("predictedMs").GetDouble(), 0.85 * target, target);
        Assert.InRange(PredictMs(output, "jetson-nano"), 0.85 * target, target);
        var adapted = ModelFile.Load(output);
        var (graph, _) = OnnxImporter.Import(adapted, output);
        Assert.Equal(new long[] { 1, 1000 }, Ort.Run(adapted, TensorData.RandomInputs(graph)).Single().Value.Shape);
    }

    [Fact]
    public void BadLlmArgumentsAreUserErrorsAndWriteNothing()
    {
        var output = Path.Combine(dir, "never.onnx");
        string[] Adapt(params string[] extra) => ["adapt", TinyNet, "--latency", "0.6ms", "--device", "jetson-nano", "-o", output, .. extra];
        var notGguf = Path.Combine(dir, "model.gguf");
        File.Copy(TinyNet, notGguf);
        var gguf = TinyGgufFile();
        foreach (var (args, code, says) in new (string[], string, string)[]
                 {
                     (Adapt("--generator", "llm"), "LAMDA006", "needs --llm-model"),
                     (Adapt("--generator", "llm", "--llm-model", Path.Combine(dir, "missing.gguf")), "LAMDA001", "missing.gguf"),
                     (Adapt("--generator", "llm", "--llm-model", notGguf), "LAMDA016", "not a GGUF file"),
                     (Adapt("--generator", "llm", "--llm-model", gguf, "--llm-context", "100"), "LAMDA017", "at least 256"),
                     (Adapt("--generator", "llm", "--llm-model", gguf, "--llm-context", "400"), "LAMDA017", "too small for one slice"),
                     (Adapt("--generator", "gpt"), "LAMDA006", "unknown generator"),
                     (Adapt("--llm-model", gguf), "LAMDA006", "only with --generator llm"),
                 })
        {
            var r = Lamda(args);
            Assert.True(r.Code == 1, $"{string.Join(' ', args)}: exit {r.Code}: {r.Err}");
            Assert.Contains(code, r.Err);
            Assert.Contains(says, r.Err);
            Assert.DoesNotContain("   at ", r.Err);
            Assert.False(File.Exists(output));
        }
    }

    /// <summary>Answers parse; every label equals what 'lamda predict' says of the variant's ONNX file.</summary>
    [SharedFact]
    public void DatasetOnTheSharedModelsHasParsingAnswersAndPredictedLabels()
    {
        var jsonl = Path.Combine(dir, "train.jsonl");
        var variants = Path.Combine(dir, "variants");
        var r = Lamda("dataset", "--models", Path.Combine(Shared.Folder!, "models"), "--device", "jetson-nano", "--variants", "2", "-o", jsonl, "--emit-models", variants);
        Assert.True(r.Code == 0, r.Err);
        var lines = File.ReadAllLines(jsonl);
        Assert.Equal(2 * Shared.Models.Length, lines.Length);
        foreach (var line in lines)
        {
            using var doc = JsonDocument.Parse(line);
            var (messages, meta) = (doc.RootElement.GetProperty("messages").EnumerateArray().ToList(), doc.RootElement.GetProperty("lamda"));
            Assert.Equal(["system", "user", "assistant"], messages.Select(m => m.GetProperty("role").GetString()));
            var file = meta.GetProperty("file").GetString()!;
            Assert.Equal("predicted", meta.GetProperty("latencySource").GetString());
            double label = meta.GetProperty("latencyMs").GetDouble();
            // 'predict --json' prints 4 decimals and the label 6: equal within half the last printed digit.
            Assert.InRange(Math.Abs(PredictMs(file, "jetson-nano") - label), 0, 0.000051);
            Assert.Contains($"- Target latency: {label:0.###} ms", messages[1].GetProperty("content").GetString());
            Assert.True(label < meta.GetProperty("baseLatencyMs").GetDouble());
            // The answer is LamdaText the reader accepts, and it is the architecture of the emitted variant.
            var answer = messages[2].GetProperty("content").GetString()!;
            var (variant, weights) = OnnxImporter.Import(ModelFile.Load(file), file);
            var normalized = Normalizer.Normalize(variant, weights).Graph;
            var text = LamdaTextWriter.Header(normalized) + answer;
            Assert.Equal(LamdaTextWriter.Write(normalized), LamdaTextWriter.Write(LamdaTextReader.Read(text, file)));
        }
    }

    /// <summary>
    /// On host the labels are ONNX Runtime measurements, repeatable by 'lamda measure' within run-to-run noise. A label in
    /// milliseconds moves by up to 25% between processes on a shared machine, with the machine's state; its share of the
    /// base, both measured in one process by one protocol, is what another process can check: here against an
    /// interleaved comparison of the variant with the base.
    /// </summary>
    [SharedFact]
    public void DatasetOnHostIsLabeledByMeasurement()
    {
        var models = Path.Combine(dir, "models");
        Directory.CreateDirectory(models);
        var basePath = Path.Combine(models, "squeezenet1_1.onnx");
        File.Copy(Shared.ModelPath("squeezenet1_1"), basePath);
        var jsonl = Path.Combine(dir, "host.jsonl");
        var r = Lamda("dataset", "--models", models, "--device", "host", "--variants", "2", "-o", jsonl, "--emit-models", Path.Combine(dir, "v"));
        Assert.True(r.Code == 0, r.Err);
        foreach (var line in File.ReadAllLines(jsonl))
        {
            var meta = JsonDocument.Parse(line).RootElement.GetProperty("lamda");
            Assert.Equal("measured", meta.GetProperty("latencySource").GetString());
            double share = meta.GetProperty("latencyMs").GetDouble() / meta.GetProperty("baseLatencyMs").GetDouble();
            var m = Lamda("measure", meta.GetProperty("file").GetString()!, "--against", basePath, "--json");
            Assert.True(m.Code == 0, m.Err);
            double again = JsonDocument.Parse(m.Out).RootElement.GetProperty("ratio").GetDouble();
            Assert.InRange(share, 0.8 * again, 1.2 * again);
        }
    }
}

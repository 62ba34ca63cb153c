using System.Text.Json;
using System.Text.Json.Nodes;
using Lamda.Adaptation;
using Lamda.Graphs;
using Lamda.Latency;
using Lamda.Onnx;
using Lamda.Text;

namespace Lamda.Llm;

internal sealed record TrainingSetOptions
{
    public required DeviceProfile Device { get; init; }
    /// <summary>Label with ONNX Runtime measurements on this machine (device <c>host</c>) rather than the predictor.</summary>
    public bool Measure { get; init; }
    public int VariantsPerModel { get; init; } = 8;
    public int Seed { get; init; }
    /// <summary>When set, every variant is also written here as ONNX, so its label can be checked with <c>lamda measure</c> or <c>lamda
    /// predict</c>.</summary>
    public string? ModelsOutput { get; init; }
}

/// <summary>One training pair: the chat (system, question, answer) and what it was made from.</summary>
internal sealed record
    TrainingExample(IReadOnlyList<ChatMessage> Messages, string Model, int Variant, string Device, double LatencyMs, string LatencySource,
    double BaseLatencyMs, string ArchitectureHash, string? File)
{
    /// <summary>One JSONL line: <c>{"messages":[{"role","content"}...], "lamda":{...}}</c>, the chat format LoRA trainers read.</summary>
    public string ToJsonLine() => new JsonObject
    {
        ["messages"] =
            new JsonArray(Messages.Select(m => (JsonNode)new JsonObject { ["role"] = m.Role, ["content"] = m.Content }).ToArray()),
        ["lamda"] = new JsonObject
        {
            ["model"] = Model, ["variant"] = Variant, ["device"] = Device, ["latencyMs"] = LatencyMs, ["latencySource"] = LatencySource,
            ["baseLatencyMs"] = BaseLatencyMs, ["architectureHash"] = ArchitectureHash, ["file"] = File,
        },
    }.ToJsonString(JsonLine);

    // Readable text: LamdaText's '->' and '<' stay as they are (the file is UTF-8 JSON, not HTML).
    static readonly JsonSerializerOptions JsonLine = new() { WriteIndented = false,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
}

/// <summary>
/// Question/answer pairs for fine-tuning a generator (paper 4.1.1): real variants of real models, made by
/// Lamda's graph surgery (the search generator at spread-out latency aims, widths only, as the LLM's grammar
/// allows), each labeled with its latency on the device exactly as <c>lamda measure</c> (host) or
/// <c>lamda predict</c> computes it for the exported ONNX file. The question asks for that latency, so each
/// pair teaches which architecture reaches which budget.
/// </summary>
internal static class TrainingSet
{
    public static IEnumerable<TrainingExample> Build(string modelPath, TrainingSetOptions options, IProgress<string>? progress = null)
    {
        var name = Path.GetFileNameWithoutExtension(modelPath);
        var (raw, weights) = OnnxImporter.Import(ModelFile.Load(modelPath), modelPath);
        var graph = Normalizer.Normalize(raw, weights).Graph;
        var predictor = new LatencyPredictor(options.Device);
        var transfer = new WeightTransfer(graph, weights);
        var search = new SearchGenerator(transfer, predictor, depthEdits: false);
        string source = options.Measure ? "measured" : "predicted";
        var labeler = new Labeler(options, predictor);
        double baseMs = labeler.Label(OnnxExporter.Export(graph, weights));
        double basePredicted = predictor.Predict(graph, weights).LatencyMs;
        double smallest = search.Smallest().PredictedMs;
        var baseLines = string.Concat(graph.Nodes.Select(n => LamdaTextWriter.NodeLine(n) + "\n"));
        var task = Constraints.DescribeTask(graph);
        var random = new Random(options.Seed * 31 + StableHash(name));
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (int v = 0, tries = 0; v < options.VariantsPerModel && tries < options.VariantsPerModel * 4; tries++)
        {
            // Aims spread over 25%..95% of the base (never below the smallest architecture), jittered per variant.
            double share = 0.25 + 0.70 * (v + random.NextDouble()) / options.VariantsPerModel;
            double aim = Math.Max(smallest * 1.01, basePredicted * share);
            var text = search.Generate(new GenerationRequest(aim, aim, [], 1)).Text;
            var hash = Adapter.ArchitectureHash(text);
            if (!seen.Add(hash)) continue;
            var candidate = LamdaTextReader.Read(text, $"{name}.variant.lamda");
            var (variant, variantWeights, diagnostics) = transfer.Apply(candidate);
            if (variant == null || variantWeights == null)
                throw new InvalidOperationException($"{name}: a search variant did not realize: {string.Join("; ", diagnostics)}");
            var model = OnnxExporter.Export(variant, variantWeights);
            double latency = labeler.Label(model);
            string? file = null;
            if (options.ModelsOutput is { } dir)
            {
                Directory.CreateDirectory(dir);
                file = Path.Combine(dir, $"{name}.v{v}.onnx");
                ModelFile.Save(model, file);
            }
            var answer = string.Concat(candidate.Nodes.Select(n => LamdaTextWriter.NodeLine(n) + "\n"));
            var messages = new[]
            {
                ChatMessage.System(Prompts.System),
                ChatMessage.User(Prompts.Question(new Constraints(options.Device, latency, baseMs, task), baseLines)),
                ChatMessage.Assistant(answer),
            };
            progress?.Report($"{name}: variant {v + 1}/{options.VariantsPerModel}: {latency:F3} ms {source} " +
                $"({100 * latency / baseMs:F0}% of base)");
            yield return new TrainingExample(
                messages, name, v, options.Device.Name, Math.Round(latency, 6), source, Math.Round(baseMs, 6), hash, file);
            v++;
        }
    }

    static int StableHash(string s)
    {
        int h = 17;
        foreach (char c in s) h = unchecked(h * 31 + c);
        return h & 0x7fffffff;
    }

    /// <summary>
    /// The latency exactly as the <c>measure</c> and <c>predict</c> commands compute it for the saved file. On host that is
    /// <c>lamda measure</c>'s latency: a comparison against the reference network, waiting out spells of load, learned
    /// across the set's models (a plain median of one run moved by up to 50% between a label and its re-measurement).
    /// </summary>
    sealed class Labeler(TrainingSetOptions options, LatencyPredictor predictor)
    {
        readonly QuietReference quiet = new();
        ModelUnderTest? reference;

        public double Label(global::Onnx.ModelProto model)
        {
            var bytes = ModelFile.ToBytes(model);
            var (raw, weights) = OnnxImporter.Import(ModelFile.Parse(bytes, "variant.onnx"), "variant.onnx");
            if (!options.Measure) return predictor.Predict(Normalizer.Normalize(raw, weights).Graph, weights).LatencyMs;
            reference ??= ReferenceNetwork.Build();
            var compare = new CompareOptions { Threads = options.Device.Execution.Threads };
            return quiet.MeasureAgainst(new ModelUnderTest(bytes, raw, "variant"), reference, compare).CandidateMs;
        }
    }
}

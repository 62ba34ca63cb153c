using System.Text.RegularExpressions;
using Lamda.Adaptation;
using Lamda.Graphs;
using Lamda.Latency;
using Lamda.Runtime;
using Lamda.Tests;
using Lamda.Text;

namespace Lamda.Llm.Tests;

/// <summary>The LLM generator with a real llama.cpp model (the tiny random GGUF): grammar, seeds, refinement, fallback.</summary>
[Collection(TinyModelCollection.Name)]
public class LlmGeneratorTests(TinyModelFixture tiny)
{
    internal sealed record Subject(string Name, Graph Graph, WeightStore Weights, WeightTransfer Transfer, LatencyPredictor Predictor, double BaseMs);

    internal static Subject TinyNet(string device = "jetson-nano")
    {
        var b = SampleModels.TinyNet();
        return Make("tinynet", b.Graph, b.Weights, device);
    }

    internal static Subject SharedModel(string name, string device = "jetson-nano")
    {
        var (_, raw, weights) = Shared.Load(name);
        return Make(name, Normalizer.Normalize(raw, weights).Graph, weights, device);
    }

    static Subject Make(string name, Graph graph, WeightStore weights, string device)
    {
        var predictor = new LatencyPredictor(DeviceCatalog.Resolve(device));
        return new Subject(name, graph, weights, new WeightTransfer(graph, weights), predictor, predictor.Predict(graph, weights).LatencyMs);
    }

    internal static LlmGenerator Generator(Subject s, ILanguageModel model, int seed = 0, int attempts = 3) =>
        new(s.Graph, s.Transfer, s.Predictor, model, new LlmOptions { Seed = seed, MaxAttempts = attempts });

    internal static GenerationRequest Request(Subject s, double share = 0.5, IReadOnlyList<Diagnostic>? feedback = null, int iteration = 1) =>
        new(s.BaseMs * share, s.BaseMs * share, feedback ?? [], iteration, s.BaseMs);

    /// <summary>A node line with its channel counts blanked: what the grammar fixes.</summary>
    internal static string Skeleton(Node n) => Regex.Replace(LamdaTextWriter.NodeLine(n), @" ch=\S+", " ch=*");

    /// <summary>The answer is the base architecture with only channel counts chosen: same nodes, operators, edges, attributes.</summary>
    internal static Graph AssertSameSkeleton(Graph baseGraph, string text)
    {
        var candidate = LamdaTextReader.Read(text, "answer.lamda"); // throws, failing the test, if the answer does not parse
        Assert.Equal(baseGraph.Nodes.Select(Skeleton), candidate.Nodes.Select(Skeleton));
        Assert.Equal(LamdaTextWriter.Header(baseGraph), LamdaTextWriter.Header(candidate));
        return candidate;
    }

    [Fact]
    public void EveryGrammarConstrainedAnswerParses()
    {
        var s = TinyNet();
        var widths = new HashSet<string>();
        for (int seed = 0; seed < 6; seed++)
        {
            var generator = Generator(s, tiny.Model, seed);
            var text = generator.Generate(Request(s)).Text;
            var candidate = AssertSameSkeleton(s.Graph, text);
            Assert.Equal(1, generator.Answers);
            Assert.Equal(1, generator.ParsedAnswers);
            widths.Add(string.Join(",", candidate.Nodes.Select(n => n.OutChannels)));
            // Counts the base fixes are literals in the grammar: the graph input's 3 channels and the head's 10 classes.
            Assert.Equal(3L, candidate.Nodes[0].InChannels);
            Assert.Equal(10L, candidate.Nodes[^1].OutChannels);
        }
        // The model, not the grammar, chooses the widths: different seeds give different architectures.
        Assert.True(widths.Count > 1, "every seed gave the same widths");
    }

    [SharedFact]
    public void AnswersParseOnARealExport()
    {
        var s = SharedModel("squeezenet1_1");
        var generator = Generator(s, tiny.Model, seed: 3);
        AssertSameSkeleton(s.Graph, generator.Generate(Request(s)).Text);
        Assert.Equal(generator.Answers, generator.ParsedAnswers);
    }

    [Fact]
    public void SamplingIsReproducibleForASeed()
    {
        var s = TinyNet();
        var first = Generator(s, tiny.Model, seed: 11).Generate(Request(s)).Text;
        var again = Generator(s, tiny.Model, seed: 11).Generate(Request(s)).Text;
        var other = Generator(s, tiny.Model, seed: 12).Generate(Request(s)).Text;
        Assert.Equal(first, again);
        Assert.NotEqual(first, other);
    }

    [Fact]
    public void TheQuestionCarriesTheConstraintsAndTheCorrectivePromptTheDiagnostics()
    {
        var s = TinyNet();
        var generator = Generator(s, tiny.Model, seed: 1);
        var firstAnswer = generator.Generate(Request(s, 0.4)).Text;
        var question = Assert.Single(generator.LastPrompts);
        Assert.Equal(["system", "user"], question.Select(m => m.Role));
        Assert.Equal(Prompts.System, question[0].Content);
        var q = question[1].Content;
        Assert.Contains("- Device: jetson-nano (uncalibrated estimate", q);
        Assert.Contains($"- Target latency: {s.BaseMs * 0.4:0.###} ms", q);
        Assert.Contains("peak ", q); // the device's specifications
        Assert.Contains("'output' f32[1,10]", q); // the task: the interface to keep
        Assert.Contains(LamdaTextWriter.NodeLine(s.Graph.Nodes[5]), q); // the base architecture

        var feedback = new[]
        {
            Diagnostic.Syntax(ValidationCodes.Coupling, "n0 (Conv)", "8 output channels cannot be realized: n6 (Conv) shares them"),
            Diagnostic.Requirement(ValidationCodes.LatencyOver, "latency budget", "0.500 ms", "predicted latency", "0.700 ms"),
        };
        var secondAnswer = generator.Generate(Request(s, 0.4, feedback, 2)).Text;
        var refinement = Assert.Single(generator.LastPrompts);
        Assert.Equal(["system", "user", "assistant", "user"], refinement.Select(m => m.Role));
        Assert.Equal(q, refinement[1].Content);
        Assert.EndsWith(refinement[2].Content, firstAnswer); // the model sees what it wrote (its node lines)...
        Assert.StartsWith("n0 ", refinement[2].Content);
        Assert.Contains(feedback[0].Prompt, refinement[3].Content); // ...and what was wrong with it, in the paper's templates
        Assert.Contains(feedback[1].Prompt, refinement[3].Content);
        Assert.StartsWith("Syntax Error: n0 (Conv)", feedback[0].Prompt);
        Assert.StartsWith("Requirement Error: The latency budget is 0.500 ms", feedback[1].Prompt);

        // The history stays bounded: a third round replaces the second exchange instead of growing the chat.
        generator.Generate(Request(s, 0.4, feedback, 3));
        var third = Assert.Single(generator.LastPrompts);
        Assert.Equal(4, third.Count);
        Assert.EndsWith(third[2].Content, secondAnswer);
    }

    [Fact]
    public void TheLoopFallsBackToSearchAndTheReportSaysSo()
    {
        var s = TinyNet();
        LlmGenerator? llm = null;
        var options = new AdaptOptions
        {
            TargetMs = s.BaseMs * 0.5,
            Device = s.Predictor.Profile,
            Seed = 4,
            Generator = (g, _, transfer, predictor) => llm = new LlmGenerator(g, transfer, predictor, tiny.Model, new LlmOptions { Seed = 4, MaxAttempts = 2 }),
        };
        var result = Adapter.Run("tinynet", s.Graph, s.Weights, options);
        var report = result.Report;
        Assert.Equal(2, llm!.Attempts);
        Assert.Equal(llm.Answers, llm.ParsedAnswers);
        // Two LLM answers, each parsed and rejected by the validators with diagnostics, then the search generator.
        Assert.All(report.Iterations.Take(2), i =>
        {
            Assert.Equal(LlmGenerator.LlmName, i.Generator);
            Assert.False(i.Accepted);
            Assert.NotEmpty(i.Diagnostics);
            Assert.DoesNotContain(i.Diagnostics, d => d.Code == ValidationCodes.Parse);
            Assert.Contains("1/1 answers parse", i.Note);
        });
        Assert.All(report.Iterations.Skip(2), i => Assert.Equal(LlmGenerator.FallbackName, i.Generator));
        Assert.True(report.Iterations.Count > 2);
        Assert.Equal(LlmGenerator.FallbackName, report.Generator);
        Assert.Contains(report.Warnings, w => w.Contains("the search generator took over at iteration 3", StringComparison.Ordinal));
        Assert.Equal("met", report.Outcome);
        Assert.InRange(report.Final!.PredictedMs, 0.85 * options.TargetMs, options.TargetMs);
        Assert.Equal(new long[] { 1, 10 }, Ort.Run(result.Model, TensorData.RandomInputs(result.Graph))["output"].Shape);
    }

    [Fact]
    public void AValidLlmAnswerIsAcceptedWithoutFallback()
    {
        // A model that answers with widths that satisfy every constraint (here: the search generator's choice)
        // is accepted at the first iteration, under the LLM's name: the loop judges answers, not generators.
        var s = TinyNet();
        var chosen = new SearchGenerator(s.Transfer, s.Predictor).Generate(Request(s, 0.6)).Text;
        var lines = LamdaTextReader.Read(chosen).Nodes.ToDictionary(n => n.Id, LamdaTextWriter.NodeLine);
        var (realized, weights, _) = s.Transfer.Apply(LamdaTextReader.Read(chosen));
        double chosenMs = s.Predictor.Predict(realized!, weights!).LatencyMs;
        var scripted = new ScriptedLanguageModel(8192, (_, line) => lines[line.Split(' ')[0]]);
        var result = Adapter.Run("tinynet", s.Graph, s.Weights, new AdaptOptions
        {
            TargetMs = chosenMs / 0.97, // inside the accepted band [95%, 98%] of the target
            Device = s.Predictor.Profile,
            Generator = (g, _, transfer, predictor) => new LlmGenerator(g, transfer, predictor, scripted, new LlmOptions()),
        });
        var iteration = Assert.Single(result.Report.Iterations);
        Assert.True(iteration.Accepted);
        Assert.Equal(LlmGenerator.LlmName, iteration.Generator);
        Assert.Equal(chosen, result.Text);
        Assert.DoesNotContain(result.Report.Warnings, w => w.Contains("took over"));
    }
}

using System.Text.RegularExpressions;
using Lamda.Adaptation;
using Lamda.Text;
using static Lamda.Llm.Tests.LlmGeneratorTests;

namespace Lamda.Llm.Tests;

/// <summary>
/// Long models: sliced by the optimal DP under the model's context, asked per slice, reassembled and checked at every boundary.
/// </summary>
[Collection(TinyModelCollection.Name)]
public partial class SlicingTests(TinyModelFixture tiny)
{
    [GeneratedRegex(@"ch=(\d+|\?):(\d+)")]
    private static partial Regex Channels();

    [Fact]
    public void SliceAnswersReassembleIntoTheWholeArchitecture()
    {
        var s = TinyNet();
        var scripted = new ScriptedLanguageModel(1400); // answers with the base lines it was asked about
        var generator = Generator(s, scripted);
        var plan = generator.Plan;
        Assert.True(plan.Slices.Count >= 3, $"expected several slices, got {plan.Slices.Count}");
        // The slices cover every node once, in order.
        Assert.Equal(0, plan.Slices[0].FirstNode);
        Assert.Equal(s.Graph.Nodes.Count - 1, plan.Slices[^1].LastNode);
        for (int i = 1; i < plan.Slices.Count; i++) Assert.Equal(plan.Slices[i - 1].LastNode + 1, plan.Slices[i].FirstNode);

        var proposal = generator.Generate(Request(s));
        Assert.Equal(LamdaTextWriter.Write(s.Graph), proposal.Text); // reassembled exactly
        Assert.Empty(proposal.Diagnostics);
        Assert.Equal(plan.Slices.Count, scripted.Calls.Count);
        for (int i = 0; i < plan.Slices.Count; i++)
        {
            var slice = plan.Slices[i];
            var question = scripted.Calls[i][1].Content;
            Assert.Contains($"slice {i + 1} of {plan.Slices.Count}", question);
            // Each question holds its own slice and nothing of the others.
            var asked = question.Split('\n').Where(l => Regex.IsMatch(l, @"^n\d+ ")).Select(l => l.Split(' ')[0]).ToList();
            Assert.Equal(s.Graph.Nodes.Skip(slice.FirstNode).Take(slice.LastNode - slice.FirstNode + 1).Select(n => n.Id), asked);
            // The question, the answer and a round of refinement fit in the context.
            int answer = scripted.CountTokens(string.Concat(s.Graph.Nodes.Skip(slice.FirstNode).Take(slice.LastNode - slice.FirstNode + 1).Select(n => LamdaTextWriter.NodeLine(n) + "\n")));
            Assert.True(scripted.CountPromptTokens(scripted.Calls[i]) + 2 * answer + 384 <= scripted.ContextSize);
            // The grammar of a slice names exactly its nodes.
            Assert.Equal(asked.Count, Regex.Matches(scripted.Grammars[i], @"^l\d+ ::=", RegexOptions.Multiline).Count);
        }
    }

    [Fact]
    public void AChannelMismatchAcrossASliceBoundaryIsReported()
    {
        var s = TinyNet();
        var probe = Generator(s, new ScriptedLanguageModel(1400));
        // An edge that crosses a boundary: a producer in one slice read as the first input of a node in a later one.
        int SliceOf(int index) => probe.Plan.Slices.ToList().FindIndex(x => x.FirstNode <= index && index <= x.LastNode);
        var nodes = s.Graph.Nodes;
        var (producer, consumer) = nodes.SelectMany((c, ci) => c.EdgeInputs.Take(1)
                .Select(e => (p: nodes.FindIndex(n => n.Output == e.Edge), ci)))
            .Where(x => x.p >= 0 && SliceOf(x.p) != SliceOf(x.ci))
            .Select(x => (nodes[x.p], nodes[x.ci])).First();

        // The model narrows the producer in its slice but the other slice keeps the old width.
        var scripted = new ScriptedLanguageModel(1400, (_, line) => line.StartsWith(producer.Id + " ", StringComparison.Ordinal)
            ? Channels().Replace(line, m => $"ch={m.Groups[1].Value}:{long.Parse(m.Groups[2].Value) - 1}") : line);
        var generator = Generator(s, scripted);
        var proposal = generator.Generate(Request(s));
        var mismatch = Assert.Single(proposal.Diagnostics, d => d.Message.StartsWith(consumer.Id + " ", StringComparison.Ordinal));
        Assert.Equal(ValidationCodes.SliceInterface, mismatch.Code);
        Assert.Contains($"{producer.Id} ({producer.Op})", mismatch.Prompt);
        Assert.Contains($"writes {producer.OutChannels - 1}", mismatch.Prompt);
        Assert.StartsWith("Syntax Error: ", mismatch.Prompt);
        // The interface is announced in the question of both slices.
        Assert.Contains(scripted.Calls, c => c[1].Content.Contains("Edges this slice shares with the others") && c[1].Content.Contains($"%{producer.Output}"));
    }

    [Fact]
    public void TheRealTokenizerDecidesTheSlices()
    {
        var s = TinyNet();
        using var small = new LlamaLanguageModel(tiny.Path, 4096, threads: 2);
        var generator = Generator(s, small, seed: 2);
        var plan = generator.Plan;
        Assert.True(plan.Slices.Count >= 2, "TinyNet should not fit one 4096-token question with this vocabulary");
        // Slicing counted the GGUF tokenizer's tokens, not an estimate.
        Assert.Equal(s.Graph.Nodes.Sum(n => small.CountTokens(LamdaTextWriter.NodeLine(n) + "\n")), plan.TotalTokens);
        var text = generator.Generate(Request(s)).Text;
        AssertSameSkeleton(s.Graph, text);
        Assert.Equal(plan.Slices.Count, generator.Answers);
        Assert.Equal(generator.Answers, generator.ParsedAnswers);
        foreach (var prompt in generator.LastPrompts)
            Assert.True(small.CountPromptTokens(prompt) < small.ContextSize);
    }
}

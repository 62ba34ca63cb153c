using Lamda.Adaptation;
using Lamda.Graphs;
using Lamda.Latency;
using Lamda.Slicing;
using Lamda.Text;

namespace Lamda.Llm;

internal sealed record LlmOptions
{
    /// <summary>Seed of the sampler; attempt and slice are mixed in, so a run is reproducible for a model file and seed.</summary>
    public int Seed { get; init; }
    /// <summary>LLM answers the loop validates before the search generator takes over.</summary>
    public int MaxAttempts { get; init; } = 3;
    /// <summary>Tokens kept free for the corrective prompt of a refinement.</summary>
    public int CorrectiveReserve { get; init; } = 384;
}

/// <summary>
/// The paper's generator: a language model reads the constraints and the base architecture in LamdaText and
/// writes the new one, under a grammar specialized to the base graph so every answer parses. A model too long
/// for the context is cut by the optimal slicing DP (with the model's own token counts); each slice is asked
/// for separately and the answers are reassembled, with every edge between slices checked. When validation
/// fails, the corrective prompt goes back with the chat history; after <see cref="LlmOptions.MaxAttempts"/>
/// answers the search generator takes over, and the report says so.
/// </summary>
internal sealed class LlmGenerator : IBoundedGenerator
{
    public const string LlmName = "llm", FallbackName = "search (fallback)";

    readonly Graph graph;
    readonly ILanguageModel model;
    readonly LlmOptions options;
    readonly DeviceProfile device;
    readonly SearchGenerator search;
    readonly string header;
    readonly SlicePlan plan;
    readonly string[] grammars;
    readonly string[] baseSlices;
    readonly List<string>[] interfaces;
    // The last exchange of each slice: its question, answer and the corrective prompt that follows.
    readonly List<ChatMessage>[] histories;
    readonly string[] lastAnswers;
    readonly HashSet<string>[] sliceNodes;
    readonly HashSet<string> allNodes;
    int attempts;

    public LlmGenerator(Graph graph, WeightTransfer transfer, LatencyPredictor predictor, ILanguageModel model, LlmOptions options)
    {
        this.graph = graph;
        this.model = model;
        this.options = options;
        device = predictor.Profile;
        search = new SearchGenerator(transfer, predictor);
        header = LamdaTextWriter.Header(graph);
        plan = PlanSlices(graph, model, options, Prompts.Question(new Constraints(device, 1, 1, Constraints.DescribeTask(graph)), ""));
        grammars = new string[plan.Slices.Count];
        baseSlices = new string[plan.Slices.Count];
        interfaces = new List<string>[plan.Slices.Count];
        histories = new List<ChatMessage>[plan.Slices.Count];
        lastAnswers = new string[plan.Slices.Count];
        sliceNodes = new HashSet<string>[plan.Slices.Count];
        allNodes = graph.Nodes.Select(n => n.Id).ToHashSet(StringComparer.Ordinal);
        for (int s = 0; s < plan.Slices.Count; s++)
        {
            var nodes = Nodes(plan.Slices[s]);
            grammars[s] = LamdaGrammar.ForNodes(graph, nodes, transfer.Analysis);
            baseSlices[s] = string.Concat(nodes.Select(n => LamdaTextWriter.NodeLine(n) + "\n"));
            interfaces[s] = SharedEdges(plan.Slices[s]);
            histories[s] = [];
            sliceNodes[s] = nodes.Select(n => n.Id).ToHashSet(StringComparer.Ordinal);
        }
    }

    public string Name { get; private set; } = LlmName;
    public SlicePlan Plan => plan;
    public int Attempts => attempts;
    /// <summary>Answers the model gave and how many parsed (every one does, by the grammar).</summary>
    public int Answers { get; private set; }
    public int ParsedAnswers { get; private set; }
    /// <summary>The messages sent for each slice at the last LLM attempt (for the report and tests).</summary>
    public IReadOnlyList<IReadOnlyList<ChatMessage>> LastPrompts { get; private set; } = [];
    public IReadOnlyList<string> Grammars => grammars;

    /// <summary>The search generator's smallest architecture: the one the fallback can reach.</summary>
    public (double PredictedMs, string Text) Smallest() => search.Smallest();
    /// <inheritdoc/>
    public IEnumerable<(double PredictedMs, string Text)> SmallestCandidates() => search.SmallestCandidates();

    public Proposal Generate(GenerationRequest request)
    {
        if (attempts >= options.MaxAttempts) return Fallback(request);
        attempts++;
        double baseMs = request.BaseMs > 0 ? request.BaseMs : request.TargetMs;
        var constraints = new Constraints(device, request.TargetMs, baseMs, Constraints.DescribeTask(graph));
        var answers = new string[plan.Slices.Count];
        var prompts = new List<IReadOnlyList<ChatMessage>>();
        for (int s = 0; s < plan.Slices.Count; s++)
        {
            var history = histories[s];
            if (history.Count == 0 || request.Feedback.Count == 0)
            {
                history.Clear();
                history.Add(ChatMessage.System(Prompts.System));
                (int, int, IReadOnlyList<string>)? position = plan.Slices.Count > 1 ? (s, plan.Slices.Count, interfaces[s]) : null;
                history.Add(ChatMessage.User(Prompts.Question(constraints, baseSlices[s], position)));
            }
            else
            {
                // Keep only the latest exchange: question, last answer, its corrective prompt (bounded context).
                if (history.Count > 2) history.RemoveRange(2, history.Count - 2);
                history.Add(ChatMessage.Assistant(lastAnswers[s]));
                history.Add(ChatMessage.User(Prompts.Corrective(Relevant(request.Feedback, s))));
            }
            int promptTokens = model.CountPromptTokens(history);
            int room = model.ContextSize - promptTokens;
            if (room < 16)
                throw new LamdaException(ErrorCodes.ContextTooSmall, $"{model.Name}: the prompt for slice {s + 1} takes {promptTokens} " +
                    $"of the {model.ContextSize} context tokens; use a model with a larger context (--llm-context).");
            uint seed = unchecked((uint)(options.Seed * 7919 + attempts * 104729 + s * 131));
            answers[s] = model.Complete(history, grammars[s], room, seed);
            lastAnswers[s] = answers[s];
            prompts.Add(history.ToList());
        }
        LastPrompts = prompts;
        var text = header + string.Concat(answers.Select(a => a.EndsWith('\n') ? a : a + "\n"));
        Answers += answers.Length;
        // A slice reads edges of the slices before it and the outputs are written after it: each answer is
        // parsed in place of its slice of the base.
        int parsed = Enumerable.Range(0, answers.Length).Count(s => LamdaTextReader.TryRead(
            header + string.Concat(baseSlices.Take(s)) + answers[s] + string.Concat(baseSlices.Skip(s + 1)),
            $"slice{s + 1}.lamda", out _) != null);
        ParsedAnswers += parsed;
        var mismatches = CheckInterfaces(text);
        Name = LlmName;
        var note = $"LLM attempt {attempts}/{options.MaxAttempts}: {plan.Slices.Count} slice(s), " +
            $"{parsed}/{answers.Length} answers parse, " +
            $"{mismatches.Count} slice-interface mismatch(es)";
        return new Proposal(text, Note: note) { Diagnostics = mismatches };
    }

    /// <summary>
    /// The search generator's answer, once the LLM has had its attempts; the first one says so in the report. It
    /// carries no family: the loop has never calibrated its aim per family after a fallback, and this redesign
    /// changes no behaviour (giving the fallback its family would sharpen the aim on <c>host</c>).
    /// </summary>
    Proposal Fallback(GenerationRequest request)
    {
        var warning = Name == FallbackName ? null
            : $"the LLM generator ({model.Name}) gave no architecture that met every constraint in {attempts} attempts; " +
              $"the search generator took over at iteration {request.Iteration}.";
        Name = FallbackName;
        return search.Generate(request) with { Family = null, Warning = warning };
    }

    /// <summary>The diagnostics a slice can act on: those about its own nodes, and those about the whole model.</summary>
    IReadOnlyList<Diagnostic> Relevant(IReadOnlyList<Diagnostic> feedback, int slice) =>
        feedback.Where(d => d.Message.Split(' ', 2)[0] is var first && (!allNodes.Contains(first) || sliceNodes[slice].Contains(first)))
            .ToList();

    IReadOnlyList<Node> Nodes(Slice s) => graph.Nodes.Skip(s.FirstNode).Take(s.LastNode - s.FirstNode + 1).ToList();

    /// <summary>Edges produced in one slice and read in another, as "%id (N channels)".</summary>
    List<string> SharedEdges(Slice s)
    {
        var inside = Nodes(s).Select(n => n.Output).ToHashSet(StringComparer.Ordinal);
        var producers = graph.Nodes.ToDictionary(n => n.Output, StringComparer.Ordinal);
        var shared = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var n in Nodes(s))
            foreach (var e in n.EdgeInputs)
                if (!inside.Contains(e.Edge) && producers.ContainsKey(e.Edge)) shared.Add("%" + e.Key);
        foreach (var n in graph.Nodes.Where(n => !inside.Contains(n.Output)))
            foreach (var e in n.EdgeInputs)
                if (inside.Contains(e.Edge)) shared.Add("%" + e.Key);
        return shared.ToList();
    }

    /// <summary>
    /// Every edge that crosses a slice boundary must carry the same channel count on both sides: the producer's
    /// declared OUT (in its slice) and the IN of each consumer that reads it first (in another slice).
    /// </summary>
    List<Diagnostic> CheckInterfaces(string text)
    {
        var result = new List<Diagnostic>();
        if (plan.Slices.Count < 2) return result;
        var candidate = LamdaTextReader.TryRead(text, "candidate.lamda", out _);
        if (candidate == null) return result;
        var sliceOf = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int s = 0; s < plan.Slices.Count; s++)
            for (int i = plan.Slices[s].FirstNode; i <= plan.Slices[s].LastNode; i++) sliceOf[candidate.Nodes[i].Output] = s;
        var producers = candidate.Nodes.ToDictionary(n => n.Output, StringComparer.Ordinal);
        foreach (var consumer in candidate.Nodes)
        {
            if (consumer.EdgeInputs.FirstOrDefault() is not { } first || first.Index != 0
                || !producers.TryGetValue(first.Edge, out var producer)) continue;
            if (sliceOf[producer.Output] == sliceOf[consumer.Output]) continue;
            if (producer.OutChannels is { } o && consumer.InChannels is { } c && o != c)
                result.Add(Diagnostic.Syntax(ValidationCodes.SliceInterface, $"{consumer.Id} ({consumer.Op})",
                    $"reads %{first.Key} with {c} channels, but {producer.Id} ({producer.Op}) in slice {sliceOf[producer.Output] + 1} " +
                    $"writes {o}; an edge between slices must keep one channel count"));
        }
        return result;
    }

    /// <summary>
    /// Slices whose question, answer and one round of refinement (previous answer and corrective prompt) fit in
    /// the context: the answer repeats the slice, so a slice may take about a quarter of what is left.
    /// </summary>
    static SlicePlan PlanSlices(Graph graph, ILanguageModel model, LlmOptions options, string emptyQuestion)
    {
        var counter = new ModelTokenCounter(model);
        int overhead = model.CountPromptTokens([ChatMessage.System(Prompts.System), ChatMessage.User(emptyQuestion)]) + 64;
        int limit = (model.ContextSize - overhead - options.CorrectiveReserve) / 4;
        var lines = graph.Nodes.Select(n => (n, tokens: counter.Count(LamdaTextWriter.NodeLine(n) + "\n"))).ToList();
        var longest = lines.MaxBy(l => l.tokens);
        if (limit < longest.tokens)
            throw new LamdaException(ErrorCodes.ContextTooSmall,
                $"{model.Name}: a context of {model.ContextSize} tokens is too small for one slice: the prompt takes {overhead} tokens " +
                $"and node {longest.n.Id} alone {longest.tokens}, " +
                $"so at least {overhead + options.CorrectiveReserve + 4 * longest.tokens} " +
                "are needed. Use a larger --llm-context or a model trained for a longer context.");
        return Slicer.Plan(graph, limit, counter);
    }
}

/// <summary>Token counts from the language model's own tokenizer, for slicing.</summary>
internal sealed class ModelTokenCounter(ILanguageModel model) : ITokenCounter
{
    public string Name => model.Name;
    public int Count(string text) => model.CountTokens(text);
}

using System.Text.Json;
using System.Text.Json.Nodes;
using Lamda.Graphs;
using Lamda.Slicing;
using Lamda.Text;

namespace Lamda.Cli.Commands;

internal sealed class SliceCommand : Command
{
    public override string Name => "slice";
    public override string Summary => "cut LamdaText into slices under a token limit, severing the fewest edges";
    public override string Usage => """
        Usage: lamda slice MODEL.onnx|FILE.lamda --max-tokens N [--normalize] [--json]

        Plans the optimal slicing of the node lines (the LAMDA paper's Algorithm 1): every slice has at most
        N tokens and the total number of edges cut is minimal. Node indices are in serialized order.
          --normalize   normalize an ONNX model before serializing it
          --json        {"maxTokens","totalTokens","severedEdges","slices":[{"firstNode","lastNode","tokens"}]}
        """;
    public override string[] ValueOptions => ["--max-tokens"];
    public override string[] FlagOptions => ["--json", "--normalize"];

    public override int Run(Arguments args, TextWriter stdout, TextWriter stderr)
    {
        var path = args.Positional(0, "a model or LamdaText file");
        args.NoMorePositionals(1);
        int max = args.Int("--max-tokens", 0);
        if (max <= 0) throw new LamdaException(ErrorCodes.BadArgument, "'lamda slice' needs --max-tokens N with N > 0.");
        var (graph, weights) = ModelSource.Load(path);
        if (args.Flag("--normalize") && !ModelSource.IsLamdaText(path)) graph = Normalizer.Normalize(graph, weights).Graph;
        var plan = Slicer.Plan(graph, max, EstimatingTokenCounter.Instance);
        if (args.Flag("--json"))
        {
            var json = new JsonObject
            {
                ["maxTokens"] = plan.MaxTokens,
                ["totalTokens"] = plan.TotalTokens,
                ["severedEdges"] = plan.SeveredEdges,
                ["nodes"] = graph.Nodes.Count,
                ["tokenCounter"] = EstimatingTokenCounter.Instance.Name,
                ["slices"] = new JsonArray(plan.Slices.Select(s => (JsonNode)new JsonObject
                {
                    ["firstNode"] = s.FirstNode, ["lastNode"] = s.LastNode, ["tokens"] = s.Tokens,
                    ["firstId"] = graph.Nodes[s.FirstNode].Id, ["lastId"] = graph.Nodes[s.LastNode].Id,
                }).ToArray()),
            };
            stdout.WriteLine(json.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
            return 0;
        }
        stdout.WriteLine($"{graph.Nodes.Count} nodes, {plan.TotalTokens:N0} tokens, max {plan.MaxTokens:N0} per slice: " +
            $"{plan.Slices.Count} slices, {plan.SeveredEdges} severed edges");
        for (int i = 0; i < plan.Slices.Count; i++)
        {
            var s = plan.Slices[i];
            stdout.WriteLine($"  slice {i,3}: nodes {s.FirstNode,4}..{s.LastNode,-4} " +
                $"({graph.Nodes[s.FirstNode].Id}..{graph.Nodes[s.LastNode].Id}) {s.Tokens,6} tokens");
        }
        return 0;
    }
}

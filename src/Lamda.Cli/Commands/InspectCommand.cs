using System.Text.Json;
using System.Text.Json.Nodes;
using Lamda.Adaptation;
using Lamda.Graphs;
using Lamda.Text;

namespace Lamda.Cli.Commands;

internal sealed class InspectCommand : Command
{
    public override string Name => "inspect";
    public override string Summary => "operator counts, parameters, MACs, shapes and LamdaText tokens of a model";
    public override string Usage => """
        Usage: lamda inspect MODEL.onnx|FILE.lamda [--weights BASE.onnx] [--input-shape 1,3,640,640] [--json]

        Prints operator counts, parameter count, multiply-accumulates (MACs), input and output shapes and
        the number of LamdaText tokens (estimated; see docs/lamdatext.md). Parameters include weights held in
        Constant nodes (as paddle2onnx exports them). MACs are per sample; with dynamic input dims they need
        --input-shape (otherwise the layers whose size is unknown count 0).
          --input-shape S      the input size to count MACs at: 1,3,640,640, or x=1,3,640,640 y=1,4
          --weights BASE.onnx  base model for a LamdaText file (parameters and MACs need its weights)
          --json               machine-readable output
        """;
    public override string[] ValueOptions => ["--weights", InputShapes.Option];
    public override string[] FlagOptions => ["--json"];

    public override int Run(Arguments args, TextWriter stdout, TextWriter stderr)
    {
        var path = args.Positional(0, "a model file");
        args.NoMorePositionals(1);
        var (graph, weights) = ModelSource.Load(path, args.Value("--weights"));
        if (args.Value(InputShapes.Option) is { } shape) graph = InputShapes.Parse(shape).Pin(graph, path);
        var inference = ShapeInference.Run(graph, weights, batchOne: true);
        var stats = GraphStats.Of(graph, weights, inference);
        var counter = EstimatingTokenCounter.Instance;
        int tokens = counter.Count(LamdaTextWriter.Write(graph));
        if (args.Flag("--json"))
        {
            var json = new JsonObject
            {
                ["model"] = path,
                ["opset"] = graph.Opset,
                ["nodes"] = graph.Nodes.Count,
                ["opCounts"] = new JsonObject(stats.OpCounts.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)kv.Value))),
                ["parameters"] = stats.Parameters,
                ["macs"] = stats.Macs,
                ["inputs"] = Values(graph.Inputs),
                ["outputs"] = Values(graph.Outputs),
                ["lamdaTextTokens"] = tokens,
                ["tokenCounter"] = counter.Name,
            };
            stdout.WriteLine(json.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
            return 0;
        }
        stdout.WriteLine($"model      {path}");
        stdout.WriteLine($"opset      {graph.Opset}");
        foreach (var i in graph.Inputs) stdout.WriteLine($"input      {i.Name} {i.Type}");
        foreach (var o in graph.Outputs) stdout.WriteLine($"output     {o.Name} {o.Type}");
        stdout.WriteLine($"nodes      {graph.Nodes.Count}");
        stdout.WriteLine($"parameters {stats.Parameters:N0}");
        stdout.WriteLine($"MACs       {stats.Macs:N0}");
        stdout.WriteLine($"tokens     {tokens:N0} ({counter.Name})");
        stdout.WriteLine("operators");
        foreach (var (op, count) in stats.OpCounts.OrderByDescending(kv => kv.Value).ThenBy(kv => kv.Key, StringComparer.Ordinal))
            stdout.WriteLine($"  {op,-24} {count}");
        return 0;
    }

    static JsonArray Values(IEnumerable<GraphValue> values) => new(values.Select(v => (JsonNode)new JsonObject
    {
        ["name"] = v.Name,
        ["type"] = DataTypes.Name(v.Type.ElemType),
        ["shape"] = v.Type.Dims == null ? null
            : new JsonArray(v.Type.Dims.Select(d => d.IsKnown ? JsonValue.Create(d.Value)
            : (JsonNode)JsonValue.Create(d.ToString())).ToArray()),
    }).ToArray());
}

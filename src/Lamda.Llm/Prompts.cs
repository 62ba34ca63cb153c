using System.Globalization;
using System.Text;
using Lamda.Adaptation;
using Lamda.Graphs;
using Lamda.Latency;

namespace Lamda.Llm;

/// <summary>What the question states about the goal: the device, the budget, the task.</summary>
internal sealed record Constraints(DeviceProfile Device, double TargetMs, double BaseMs, string Task)
{
    /// <summary>The task as the base model's interface fixes it: inputs, outputs, output head width.</summary>
    public static string DescribeTask(Graph graph) =>
        "keep the interface: inputs " + string.Join(", ", graph.Inputs.Select(i => $"'{i.Name}' {i.Type}")) +
        "; outputs " + string.Join(", ", graph.Outputs.Select(o => $"'{o.Name}' {o.Type}"));
}

/// <summary>
/// Every prompt the LLM generator sends, in one place. The question follows the LAMDA paper (4.1): target
/// constraints (device and its specifications, target latency, task), the base architecture in LamdaText
/// (or one slice of it) and the syntax rules; the answer is the new LamdaText. The corrective prompt carries
/// the validators' diagnostics in the paper's Table 2 templates ("Syntax Error: ...", "Task Error: ...",
/// "Requirement Error: ..."), sent after the previous answer so the model sees its own output.
/// <c>lamda dataset</c> writes its training pairs with the same templates, so a model fine-tuned on them
/// is asked exactly what it learned.
/// </summary>
internal static class Prompts
{
    // The raw blocks join with one space where a prompt line would pass the 140-character rule; the text is unchanged.
    public const string System =
        """
        You are an expert in neural network architecture design for edge devices. You rewrite a model written in LamdaText so that it
        """ + " " +
        """
        meets a latency budget on a target device while keeping as much accuracy as possible.

        LamdaText syntax rules:
        - One node per line: NODEID OP(INPUTS) -> %OUT ch=IN:OUT ATTRIBUTES
        - Inputs are edges (%5 is the output of the node that writes -> %5; %5.1 its second output; %in0 a graph input), weights (@name,
        """ + " " +
        """
        taken from the base model) or small literals (i64[2]{1,-1}).
        - ch=IN:OUT are the channels of the first input and of the output.
        - Keep every node, its operator, its inputs, its output id and its attributes. Change only channel counts.
        - A layer keeps at most its base width. Layers joined by Add, Mul or a depthwise Conv must have equal widths; Concat's output is
        """ + " " +
        """
        the sum of its inputs; a node's IN equals the OUT of the node that produces its input.
        - Fewer channels in the expensive layers lower latency; keep the widths as large as the budget allows.
        Answer with the node lines only, one per line, nothing else.
        """;

    static string F(double v) => v.ToString("0.###", CultureInfo.InvariantCulture);

    /// <summary>The question for a whole model (<paramref name="part"/> null) or for one slice of it.</summary>
    public static string Question(Constraints c, string architecture, (int Index, int Count, IReadOnlyList<string> Interface)? part = null)
    {
        var d = c.Device;
        var sb = new StringBuilder();
        sb.Append("Target constraints:\n");
        sb.Append($"- Device: {d.Name}{(d.Calibrated ? "" : " (uncalibrated estimate from public specifications)")}");
        if (d.Description.Length > 0) sb.Append($": {d.Description}");
        sb.Append('\n');
        if (d.Hardware is { } h)
            sb.Append($"- Device specifications: {h.Cores} cores{(h.Processor is { } p ? $" ({p})" : "")}, peak {F(h.PeakGflops)} " +
                $"GFLOP/s, memory bandwidth {F(h.MemoryBandwidthGBs)} GB/s\n");
        sb.Append($"- Execution: ONNX Runtime, {d.Execution.Provider}, {d.Execution.Threads} thread(s), batch 1\n");
        sb.Append($"- Target latency: {F(c.TargetMs)} ms (the base model takes {F(c.BaseMs)} ms, so about " +
            $"{100 * c.TargetMs / c.BaseMs:0}% of it)\n");
        sb.Append($"- Task: {c.Task}\n\n");
        if (part is { } s)
        {
            sb.Append($"Base architecture, slice {s.Index + 1} of {s.Count} (the other slices are rewritten separately; reduce this " +
                "slice's latency to the same share):\n");
            if (s.Interface.Count > 0)
                sb.Append("Edges this slice shares with the others (keep their channel counts consistent): ").Append(string.Join(", ",
                    s.Interface)).Append('\n');
        }
        else sb.Append("Base architecture:\n");
        sb.Append(architecture);
        if (!architecture.EndsWith('\n')) sb.Append('\n');
        sb.Append("\nWrite the new architecture.");
        return sb.ToString();
    }

    /// <summary>The corrective prompt: the diagnostics of the previous answer, at most <paramref name="limit"/> of them.</summary>
    public static string Corrective(IReadOnlyList<Diagnostic> diagnostics, int limit = 8)
    {
        var sb = new StringBuilder("The architecture you wrote does not meet the requirements.\n");
        foreach (var d in diagnostics.Take(limit)) sb.Append(d.Prompt).Append('\n');
        if (diagnostics.Count > limit) sb.Append($"({diagnostics.Count - limit} more errors of the same kinds.)\n");
        sb.Append("Write the corrected architecture.");
        return sb.ToString();
    }
}

using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Lamda.Cli.Bench;

/// <summary>
/// One adaptation of the accuracy benchmark, measured afterwards on the validation inputs: the budget asked (a share
/// of the base's latency), the latency the loop measured, accuracy (with labels), fidelity with the base, wall time.
/// </summary>
/// <param name="Model">The benchmark case's name.</param>
/// <param name="Method">"base", "L1 only", "reconstruction" or "distillation".</param>
/// <param name="Target">The budget as a share of the base's latency (1 for the base).</param>
/// <param name="WallSeconds">Wall time of the whole <c>lamda adapt</c> run, data loading and fine-tuning included.</param>
/// <param name="BaseMs">The base's latency as the loop measured it on host, in ms.</param>
/// <param name="Ms">The result's latency as the loop measured it on host, in ms.</param>
/// <param name="Accuracy">Accuracy on the validation inputs, when they have labels.</param>
/// <param name="Fidelity">Agreement with the base on the validation inputs (the lowest over the outputs).</param>
/// <param name="TrainSteps">Fine-tuning steps taken (distillation only).</param>
/// <param name="Error">Why the run gave no model, when it did not.</param>
/// <param name="Note">Something to know about the result (for example that it runs only at batch 1).</param>
internal sealed record AccuracyBenchRow(
    string Model, string Method, double Target, double WallSeconds = 0, double? BaseMs = null, double? Ms = null,
    double? Accuracy = null, double? Fidelity = null, int? TrainSteps = null, string? Error = null, string? Note = null)
{
    /// <summary>The latency reached as a share of the base's, both as the loop measured them.</summary>
    public double? Reached => Ms is { } ms && BaseMs is { } b && b > 0 ? ms / b : Method == "base" ? 1 : null;

    /// <summary>What the plot shows for the row: accuracy when there are labels, else fidelity.</summary>
    public double? Score => Accuracy ?? Fidelity;

    const string Header = "model,method,target,base_ms,ms,reached,accuracy,fidelity,wall_s,train_steps,error,note";

    /// <summary>The rows as CSV with a header line, numbers in invariant culture.</summary>
    public static string Csv(IEnumerable<AccuracyBenchRow> rows)
    {
        var csv = new StringBuilder(Header).Append('\n');
        foreach (var r in rows)
            csv.Append(string.Join(",", r.Model, r.Method, N(r.Target), N(r.BaseMs), N(r.Ms), N(r.Reached), N(r.Accuracy), N(r.Fidelity),
                N(r.WallSeconds), r.TrainSteps?.ToString(CultureInfo.InvariantCulture) ?? "", Quote(r.Error), Quote(r.Note))).Append('\n');
        return csv.ToString();
    }

    /// <summary>The rows as an indented JSON array (camelCase names).</summary>
    public static string Json(IEnumerable<AccuracyBenchRow> rows) =>
        JsonSerializer.Serialize(rows, Options) + "\n";

    /// <summary>How <see cref="Json"/> writes and <c>--combine</c> reads the rows.</summary>
    public static readonly JsonSerializerOptions Options =
        new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.CamelCase };

    /// <summary>One line of the printed table.</summary>
    public string Line() =>
        $"{Model,-14} {Method,-15} {Target,6:P0} {Fmt(Ms, "F3"),9} {Fmt(Reached, "P1"),8} {Fmt(Accuracy, "P1"),8} " +
        $"{Fmt(Fidelity, "P1"),8} " +
        $"{WallSeconds,7:F1}" + (Error != null ? $"  {Error}" : "") + (Note != null ? $"  ({Note})" : "");

    /// <summary>The heading of <see cref="Line"/>.</summary>
    public static string TableHeader =>
        $"{"model",-14} {"method",-15} {"target",6} {"ms",9} {"reached",8} {"accuracy",8} {"fidelity",8} {"wall s",7}";

    static string Fmt(double? v, string format) => v?.ToString(format, CultureInfo.InvariantCulture) ?? "-";

    static string N(double? v) => v?.ToString("0.#####", CultureInfo.InvariantCulture) ?? "";

    static string Quote(string? text) => text == null ? "" : "\"" + text.Replace("\"", "\"\"") + "\"";
}

using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Onnx;

namespace Lamda.Onnx;

/// <summary>
/// What an adapted model says about itself, stored in the ONNX <c>metadata_props</c> under keys prefixed
/// <c>lamda.</c>: an app can read at run time (ONNX Runtime's ModelMetadata.CustomMetadataMap) which budget,
/// device and base it ships, and the build reads the same record to summarize a cache hit.
/// </summary>
internal sealed record ModelProvenance
{
    public const string Prefix = "lamda.";

    public required string Version { get; init; }
    public required string Device { get; init; }
    /// <summary>SHA-256 of the device profile the budget was checked against (its JSON).</summary>
    public required string DeviceProfileHash { get; init; }
    /// <summary>The budget as given: <c>5ms</c> or <c>50%</c>.</summary>
    public required string Budget { get; init; }
    public required double BudgetMs { get; init; }
    public required double AchievedMs { get; init; }
    /// <summary><c>measured</c> (ONNX Runtime on the host) or <c>predicted</c> (the device's predictor).</summary>
    public required string AchievedKind { get; init; }
    public required double BaseMs { get; init; }
    public required string BaseModelHash { get; init; }
    public required string Generator { get; init; }
    public required int Seed { get; init; }
    public string? InputShape { get; init; }
    public double? Accuracy { get; init; }
    public double? BaseAccuracy { get; init; }
    /// <summary>Agreement with the base model on the validation inputs, when adapted with data.</summary>
    public double? Fidelity { get; init; }

    /// <summary>Replaces any <c>lamda.</c> entries of <paramref name="model"/> with this record.</summary>
    public void Stamp(ModelProto model)
    {
        var keep = model.MetadataProps.Where(p => !p.Key.StartsWith(Prefix, StringComparison.Ordinal)).ToList();
        model.MetadataProps.Clear();
        model.MetadataProps.AddRange(keep);
        foreach (var (key, value) in Entries())
            model.MetadataProps.Add(new StringStringEntryProto { Key = Prefix + key, Value = value });
    }

    IEnumerable<(string Key, string Value)> Entries()
    {
        yield return ("version", Version);
        yield return ("device", Device);
        yield return ("device_profile_sha256", DeviceProfileHash);
        yield return ("budget", Budget);
        yield return ("budget_ms", Number(BudgetMs));
        yield return ("achieved_ms", Number(AchievedMs));
        yield return ("achieved_kind", AchievedKind);
        yield return ("base_ms", Number(BaseMs));
        yield return ("base_model_sha256", BaseModelHash);
        yield return ("generator", Generator);
        yield return ("seed", Seed.ToString(CultureInfo.InvariantCulture));
        if (InputShape != null) yield return ("input_shape", InputShape);
        if (Accuracy is { } a) yield return ("accuracy", Number(a));
        if (BaseAccuracy is { } b) yield return ("base_accuracy", Number(b));
        if (Fidelity is { } f) yield return ("fidelity", Number(f));
    }

    /// <summary>The record stamped in <paramref name="model"/>, or null when it has none (not made by Lamda).</summary>
    public static ModelProvenance? Read(ModelProto model)
    {
        var map = model.MetadataProps.Where(p => p.Key.StartsWith(Prefix, StringComparison.Ordinal))
            .ToDictionary(p => p.Key[Prefix.Length..], p => p.Value, StringComparer.Ordinal);
        if (!map.ContainsKey("version")) return null;
        string Text(string k) => map.GetValueOrDefault(k, "");
        double Real(string k) => double.TryParse(Text(k), NumberStyles.Float, CultureInfo.InvariantCulture, out var v) ? v : double.NaN;
        double? Maybe(string k) => map.ContainsKey(k) ? Real(k) : null;
        return new ModelProvenance
        {
            Version = Text("version"), Device = Text("device"), DeviceProfileHash = Text("device_profile_sha256"),
            Budget = Text("budget"), BudgetMs = Real("budget_ms"), AchievedMs = Real("achieved_ms"), AchievedKind = Text("achieved_kind"),
            BaseMs = Real("base_ms"), BaseModelHash = Text("base_model_sha256"), Generator = Text("generator"),
            Seed = int.TryParse(Text("seed"), CultureInfo.InvariantCulture, out var s) ? s : 0,
            InputShape = map.GetValueOrDefault("input_shape"), Accuracy = Maybe("accuracy"), BaseAccuracy = Maybe("base_accuracy"),
            Fidelity = Maybe("fidelity"),
        };
    }

    /// <summary>One line for logs: budget (both forms when relative), achieved latency and its kind, the base's.</summary>
    public string Summary()
    {
        var budget = Budget.EndsWith('%') ? $"{Budget} of base = {BudgetMs:F3} ms" : $"{BudgetMs:F3} ms";
        var accuracy = (Accuracy is { } a ? $", accuracy {BaseAccuracy:P2} -> {a:P2}" : "")
            + (Fidelity is { } f ? $", fidelity {f:P2}" : "");
        return $"{Device}: budget {budget}, achieved {AchievedMs:F3} ms {AchievedKind} (base {BaseMs:F3} ms){accuracy}";
    }

    public static string Sha256(byte[] bytes) => Convert.ToHexString(SHA256.HashData(bytes)).ToLowerInvariant();

    public static string Sha256(string text) => Sha256(Encoding.UTF8.GetBytes(text));

    static string Number(double v) => v.ToString("R", CultureInfo.InvariantCulture);
}

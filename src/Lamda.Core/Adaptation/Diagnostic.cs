namespace Lamda.Adaptation;

/// <summary>
/// Which check failed: the LamdaText did not parse, the model no longer does its task, or a requirement (latency, accuracy) was missed.
/// </summary>
public enum DiagnosticKind
{
    /// <summary>The candidate's LamdaText does not parse or its structure is inconsistent ("Syntax Error").</summary>
    Syntax,
    /// <summary>The candidate's inputs or outputs no longer match the base model's ("Task Error").</summary>
    Task,
    /// <summary>The candidate misses a requirement: over budget, budget unused, or accuracy ("Requirement Error").</summary>
    Requirement,
}

/// <summary>
/// A validation failure: a stable code, a message for people, and the corrective prompt that feeds it back
/// to a generator, in the templates of the LAMDA paper (Table 2).
/// </summary>
public sealed record Diagnostic(string Code, DiagnosticKind Kind, string Message, string Prompt)
{
    /// <summary>"Syntax Error: {op position}: {problem}".</summary>
    public static Diagnostic Syntax(string code, string position, string problem) =>
        new(code, DiagnosticKind.Syntax, $"{position}: {problem}", $"Syntax Error: {position}: {problem}");

    /// <summary>"Task Error: The model's {parameter} is {actual} which does not match the required {expected}."</summary>
    public static Diagnostic Task(string code, string parameter, string actual, string expected) =>
        new(code, DiagnosticKind.Task, $"{parameter} is {actual}, required {expected}",
            $"Task Error: The model's {parameter} is {actual} which does not match the required {expected}.");

    /// <summary>"Requirement Error: The {requirement} is {target}, but the {metric} is {actual}."</summary>
    public static Diagnostic Requirement(
        string code, string requirement, string target, string metric, string actual, string? advice = null) =>
        new(code, DiagnosticKind.Requirement, $"{requirement} {target}, {metric} {actual}",
            $"Requirement Error: The {requirement} is {target}, but the {metric} is {actual}.{(advice == null ? "" : " " + advice)}");

    /// <summary>The code and the corrective prompt, as a generator is shown them.</summary>
    public override string ToString() => $"{Code} {Prompt}";
}

/// <summary>Codes of the adaptation validators (README lists them).</summary>
internal static class ValidationCodes
{
    public const string Parse = "LV101", Structure = "LV102", Width = "LV103", Coupling = "LV104", ChannelMismatch = "LV105",
        Shapes = "LV106", SliceInterface = "LV107";
    public const string InputChanged = "LV201", OutputChanged = "LV202";
    public const string LatencyOver = "LV301", LatencyUnder = "LV302", Accuracy = "LV303";
}

namespace Lamda;

/// <summary>
/// A failure the user can act on (bad input, an impossible request). It carries a stable code so
/// that the CLI, the MSBuild task and the docs can all refer to the same condition. Anything that
/// is not a <see cref="LamdaException"/> is a bug in Lamda.
/// </summary>
public class LamdaException : Exception
{
    public LamdaException(string code, string message, Exception? inner = null) : base(message, inner) => Code = code;

    /// <summary>Stable identifier, for example <c>LAMDA002</c> or <c>LT003</c>.</summary>
    public string Code { get; }

    public override string ToString() => $"{Code}: {Message}";
}

/// <summary>Error codes shared by the library, the CLI and the build task. Documented in README.</summary>
public static class ErrorCodes
{
    public const string FileNotFound = "LAMDA001";
    public const string InvalidModel = "LAMDA002";
    public const string UnsupportedModel = "LAMDA003";
    public const string MissingWeight = "LAMDA004";
    public const string SliceTooLarge = "LAMDA005";
    public const string BadArgument = "LAMDA006";
    public const string WriteFailed = "LAMDA007";
    public const string RuntimeFailed = "LAMDA008";
    public const string UnknownDevice = "LAMDA009";
    public const string BadProfile = "LAMDA010";
    public const string BadBudget = "LAMDA011";
    public const string ImpossibleBudget = "LAMDA012";
    public const string BudgetNotMet = "LAMDA013";
    public const string AccuracyNotMet = "LAMDA014";
    public const string BadData = "LAMDA015";
    public const string BadLlmModel = "LAMDA016";
    public const string ContextTooSmall = "LAMDA017";
    public const string DynamicInput = "LAMDA018";
    public const string ResourceLimit = "LAMDA019";
    /// <summary>An operator (or an attribute of it) on the path from a trainable weight to the loss has no gradient rule.</summary>
    public const string NoGradient = "LAMDA020";
}

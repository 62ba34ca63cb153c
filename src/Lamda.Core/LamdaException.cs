namespace Lamda;

/// <summary>
/// A failure the user can act on (bad input, an impossible request). It carries a stable code so
/// that the CLI, the MSBuild task and the docs can all refer to the same condition. Anything that
/// is not a <see cref="LamdaException"/> is a bug in Lamda.
/// </summary>
public class LamdaException : Exception
{
    /// <summary>
    /// An error with stable code <paramref name="code"/> (<see cref="ErrorCodes"/>) and a message naming the input and what to do.
    /// </summary>
    public LamdaException(string code, string message, Exception? inner = null) : base(message, inner) => Code = code;

    /// <summary>Stable identifier, for example <c>LAMDA002</c> or <c>LT003</c>.</summary>
    public string Code { get; }

    /// <summary>The code and the message, as the CLI prints them.</summary>
    public override string ToString() => $"{Code}: {Message}";
}

/// <summary>Error codes shared by the library, the CLI and the build task. Documented in README.</summary>
public static class ErrorCodes
{
    /// <summary>A file was not found or cannot be read.</summary>
    public const string FileNotFound = "LAMDA001";
    /// <summary>A file is not a valid ONNX model (empty, truncated, another format, a directory).</summary>
    public const string InvalidModel = "LAMDA002";
    /// <summary>The model uses something Lamda cannot handle (non-tensor inputs or outputs, constant outputs).</summary>
    public const string UnsupportedModel = "LAMDA003";
    /// <summary>LamdaText refers to a weight the base model lacks.</summary>
    public const string MissingWeight = "LAMDA004";
    /// <summary>One node alone exceeds the token limit of a slice.</summary>
    public const string SliceTooLarge = "LAMDA005";
    /// <summary>A command-line argument or item metadata value is not valid.</summary>
    public const string BadArgument = "LAMDA006";
    /// <summary>An output cannot be written (permissions, free space).</summary>
    public const string WriteFailed = "LAMDA007";
    /// <summary>ONNX Runtime cannot load or run the model.</summary>
    public const string RuntimeFailed = "LAMDA008";
    /// <summary>The device is neither a built-in name, host, nor a profile file.</summary>
    public const string UnknownDevice = "LAMDA009";
    /// <summary>A device profile is corrupt, truncated or invalid.</summary>
    public const string BadProfile = "LAMDA010";
    /// <summary>A latency budget is not a number with a unit (5ms, 500us, 0.02s) or a fraction of the base.</summary>
    public const string BadBudget = "LAMDA011";
    /// <summary>The budget is below the smallest architecture Lamda can make.</summary>
    public const string ImpossibleBudget = "LAMDA012";
    /// <summary>No architecture met every constraint within the iteration limit.</summary>
    public const string BudgetNotMet = "LAMDA013";
    /// <summary>The accuracy drop is above the allowed drop at this budget.</summary>
    public const string AccuracyNotMet = "LAMDA014";
    /// <summary>A data folder or file is unreadable or inconsistent.</summary>
    public const string BadData = "LAMDA015";
    /// <summary>The LLM generator's model is not a usable GGUF.</summary>
    public const string BadLlmModel = "LAMDA016";
    /// <summary>The LLM's context cannot hold the prompt and one slice.</summary>
    public const string ContextTooSmall = "LAMDA017";
    /// <summary>The model has dynamic input dimensions besides the batch and no input shape was given.</summary>
    public const string DynamicInput = "LAMDA018";
    /// <summary>An input, activation or weight is larger than the tensor limit.</summary>
    public const string ResourceLimit = "LAMDA019";
    /// <summary>An operator (or an attribute of it) on the path from a trainable weight to the loss has no gradient rule.</summary>
    public const string NoGradient = "LAMDA020";
}

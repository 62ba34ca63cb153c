namespace Lamda.Graphs;

/// <summary>One input of a node: an edge, a weight of the base model, an inline constant, or omitted.</summary>
public abstract record Operand;

/// <summary>Output <see cref="Index"/> of the node (or graph input) that defines edge <see cref="Edge"/>. Text: <c>%5</c>,
/// <c>%5.1</c>.</summary>
public sealed record EdgeOperand(string Edge, int Index = 0) : Operand
{
    /// <summary>The key that names this tensor in inference results: "5" or "5.1".</summary>
    public string Key => Index == 0 ? Edge : Edge + "." + Index;
}

/// <summary>A tensor taken from the base model by name. Text: <c>@features.0.weight</c>.</summary>
public sealed record WeightOperand(string Name) : Operand;

/// <summary>A small constant written inline. Text: <c>i64[2]{1,-1}</c>.</summary>
public sealed record LiteralOperand(TensorLiteral Value) : Operand;

/// <summary>An omitted optional input. Text: <c>_</c>.</summary>
public sealed record EmptyOperand : Operand
{
    /// <summary>The one empty operand (an optional input left out).</summary>
    public static readonly EmptyOperand Instance = new();
}

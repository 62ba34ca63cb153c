namespace Lamda.Training;

/// <summary>
/// An ONNX model that computes a loss and its gradient with respect to trainable weights in one ONNX Runtime run.
/// Its inputs are the forward model's data inputs, the loss targets and the weights (by their own names); its
/// outputs are <see cref="Loss"/> and one gradient per weight.
/// </summary>
internal sealed class GradientModel
{
    public required byte[] Model { get; init; }
    public required string Loss { get; init; }
    /// <summary>Trainable weight name to the output holding its gradient.</summary>
    public required IReadOnlyDictionary<string, string> Gradients { get; init; }
    /// <summary>Weights the loss does not depend on (no gradient output; they keep their values).</summary>
    public required IReadOnlyList<string> Unreached { get; init; }
}

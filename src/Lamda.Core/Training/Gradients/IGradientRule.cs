using Onnx;

namespace Lamda.Training.Gradients;

/// <summary>
/// How the loss gradient passes backwards through one operator family, written with standard ONNX operators (as ONNX
/// Runtime's training build does in its gradient builders) so that the backward pass runs in an ordinary ORT session.
/// </summary>
public interface IGradientRule
{
    /// <summary>The operator types this rule differentiates.</summary>
    IReadOnlyList<string> Ops { get; }

    /// <summary>Whether a gradient flows through input <paramref name="slot"/> (not through shapes, indices, limits).</summary>
    bool IsDifferentiable(NodeProto node, int slot) => slot == 0;

    /// <summary>Inputs whose values the rule reads while building (Slice bounds, Resize scales).</summary>
    IEnumerable<int> ValueSlots(NodeProto node) => [];

    void Backward(NodeGradient g);
}

using Lamda.Graphs;
using Lamda.Onnx;
using Onnx;

namespace Lamda.Adaptation;

/// <summary>
/// An architecture with its weights, realized from LamdaText (or the base model itself). It is exported to
/// ONNX and serialized at most once, and only when something runs it.
/// </summary>
internal sealed class Candidate(Graph graph, WeightStore weights)
{
    ModelProto? model;
    byte[]? bytes;
    string? hash;

    public Graph Graph { get; } = graph;
    public WeightStore Weights { get; } = weights;
    /// <summary>The base output channels each narrowed layer keeps, when known: where fine-tuning puts its feature losses.</summary>
    public IReadOnlyDictionary<string, int[]>? KeptOutputs { get; init; }
    public ModelProto Model => model ??= OnnxExporter.Export(Graph, Weights);
    public byte[] Bytes => bytes ??= ModelFile.ToBytes(Model);
    /// <summary>SHA-256 of <see cref="Bytes"/>: the identity of the architecture with its weights, for the loop's caches.</summary>
    public string Hash => hash ??= ModelProvenance.Sha256(Bytes);
}

using Lamda.Graphs;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Lamda.Runtime;

/// <summary>Options for running a model with ONNX Runtime on the CPU.</summary>
internal sealed record RunnerOptions
{
    public int IntraOpThreads { get; init; } = 1;
    public GraphOptimizationLevel Optimization { get; init; } = GraphOptimizationLevel.ORT_ENABLE_ALL;
    /// <summary>When set, ONNX Runtime's profiler writes per-node timings to a JSON file with this path prefix.</summary>
    public string? ProfilePrefix { get; init; }
}

/// <summary>
/// A loaded ONNX Runtime session, as plain as ORT's own API: create, run, dispose. Execution is
/// sequential on the CPU with the given intra-op threads, which is what latency measurement needs.
/// </summary>
internal sealed class ModelRunner : IDisposable
{
    readonly InferenceSession session;
    readonly SessionOptions options;

    public ModelRunner(byte[] model, RunnerOptions? settings = null, string displayName = "model")
    {
        settings ??= new RunnerOptions();
        options = new SessionOptions
        {
            IntraOpNumThreads = settings.IntraOpThreads,
            InterOpNumThreads = 1,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            GraphOptimizationLevel = settings.Optimization,
        };
        if (settings.ProfilePrefix != null)
        {
            // The prefix first: enabling profiling hands ORT the prefix set at that moment.
            options.ProfileOutputPathPrefix = settings.ProfilePrefix;
            options.EnableProfiling = true;
        }
        try { session = new InferenceSession(model, options); }
        catch (OnnxRuntimeException e)
        {
            options.Dispose();
            throw new LamdaException(ErrorCodes.RuntimeFailed, $"{displayName}: ONNX Runtime cannot load the model: {e.Message}", e);
        }
        try { CheckInputSizes(displayName); }
        catch { Dispose(); throw; }
    }

    /// <summary>
    /// Refuses inputs whose static size is above <see cref="ResourceLimits.MaxTensorBytes"/> before anyone allocates
    /// them (symbolic dimensions count as 1, as <see cref="TensorData.RandomInputs"/> feeds them).
    /// </summary>
    void CheckInputSizes(string displayName)
    {
        foreach (var (name, meta) in session.InputMetadata)
        {
            if (!meta.IsTensor) continue;
            var dims = meta.Dimensions.Select(d => d > 0 ? (long)d : 1L).ToArray();
            ResourceLimits.CheckInput(displayName, name, dims, (int)meta.ElementDataType);
        }
    }

    public IReadOnlyList<string> OutputNames => session.OutputNames;

    /// <summary>Stops ONNX Runtime's profiler (see <see cref="RunnerOptions.ProfilePrefix"/>) and returns the path of its JSON
    /// file.</summary>
    public string EndProfiling() => session.EndProfiling();
    public IReadOnlyList<string> InputNames => session.InputNames;

    /// <summary>The batch size the first input fixes (an exported batch of 1, say), or null when it is symbolic.</summary>
    public long? FixedBatch => session.InputMetadata[session.InputNames[0]].Dimensions is [> 0 and var d, ..] ? d : null;

    /// <summary>Runs once and returns every graph output by name.</summary>
    public Dictionary<string, TensorData> Run(IReadOnlyDictionary<string, TensorData> inputs)
    {
        var names = inputs.Keys.ToArray();
        var values = names.Select(n => ToOrt(inputs[n])).ToArray();
        // Held in a local and disposed after the call: a RunOptions left to the finalizer can be released by a
        // collection while the native run still uses it (seen as rare segmentation faults under GC pressure).
        using var runOptions = new RunOptions();
        try
        {
            using var results = session.Run(runOptions, names, values, session.OutputNames);
            var outputs = new Dictionary<string, TensorData>(StringComparer.Ordinal);
            for (int i = 0; i < results.Count; i++) outputs[session.OutputNames[i]] = FromOrt(results[i]);
            return outputs;
        }
        catch (OnnxRuntimeException e)
        {
            throw new LamdaException(ErrorCodes.RuntimeFailed, $"ONNX Runtime failed to run the model: {e.Message}", e);
        }
        finally
        {
            foreach (var v in values) v.Dispose();
        }
    }

    /// <summary>Prepared inputs for timing loops, so that measurement excludes input marshalling.</summary>
    public PreparedRun Prepare(IReadOnlyDictionary<string, TensorData> inputs)
        => new(session, inputs.Keys.ToArray(), inputs.Values.Select(ToOrt).ToArray());

    static OrtValue ToOrt(TensorData t) => t.Values switch
    {
        float[] f => OrtValue.CreateTensorValueFromMemory(f, t.Shape),
        long[] l => OrtValue.CreateTensorValueFromMemory(l, t.Shape),
        int[] i => OrtValue.CreateTensorValueFromMemory(i, t.Shape),
        bool[] b => OrtValue.CreateTensorValueFromMemory(b, t.Shape),
        _ => throw new ArgumentException($"unsupported input array {t.Values.GetType().Name}"),
    };

    static TensorData FromOrt(OrtValue v)
    {
        var info = v.GetTensorTypeAndShape();
        var shape = info.Shape;
        return info.ElementDataType switch
        {
            TensorElementType.Float => new TensorData(DataTypes.Float, shape, v.GetTensorDataAsSpan<float>().ToArray()),
            TensorElementType.Int64 => new TensorData(DataTypes.Int64, shape, v.GetTensorDataAsSpan<long>().ToArray()),
            TensorElementType.Int32 => new TensorData(DataTypes.Int32, shape, v.GetTensorDataAsSpan<int>().ToArray()),
            TensorElementType.Bool => new TensorData(DataTypes.Bool, shape, v.GetTensorDataAsSpan<bool>().ToArray()),
            var other => throw new LamdaException(ErrorCodes.UnsupportedModel, $"output element type {other} is not supported"),
        };
    }

    public void Dispose()
    {
        session.Dispose();
        options.Dispose();
    }

    /// <summary>A session with its inputs bound, run repeatedly by the latency meter.</summary>
    public sealed class PreparedRun(InferenceSession session, string[] names, OrtValue[] values) : IDisposable
    {
        readonly RunOptions runOptions = new();

        public void Run()
        {
            using var _ = session.Run(runOptions, names, values, session.OutputNames);
        }

        public void Dispose()
        {
            foreach (var v in values) v.Dispose();
            runOptions.Dispose();
        }
    }
}

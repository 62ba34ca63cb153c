using Lamda.Graphs;
using Lamda.Onnx;
using Lamda.Runtime;
using Onnx;

namespace Lamda.Tests;

/// <summary>
/// Locates the shared models (../shared from the repository root, or LAMDA_SHARED_DIR). Tests that need
/// them use <see cref="SharedFactAttribute"/> / <see cref="SharedTheoryAttribute"/> and are skipped, with
/// the reason shown, when the folder is absent.
/// </summary>
public static class Shared
{
    public static readonly string[] Models = ["squeezenet1_1", "mobilenet_v2", "mnasnet0_5", "shufflenet_v2_x0_5", "googlenet", "resnet18"];
    public static readonly string[] Trained = ["digits_cnn", "digits_resnet"];

    public static string? Folder { get; } = Locate();

    public const string MissingReason = "shared models not found: expected ../shared/models beside the repository (or set LAMDA_SHARED_DIR)";

    static string? Locate()
    {
        if (Environment.GetEnvironmentVariable("LAMDA_SHARED_DIR") is { Length: > 0 } env && Directory.Exists(Path.Combine(env, "models"))) return env;
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Lamda.sln")))
            {
                var shared = Path.Combine(dir.Parent?.FullName ?? dir.FullName, "shared");
                return Directory.Exists(Path.Combine(shared, "models")) ? shared : null;
            }
        }
        return null;
    }

    public static string RepoRoot
    {
        get
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
                if (File.Exists(Path.Combine(dir.FullName, "Lamda.sln"))) return dir.FullName;
            throw new InvalidOperationException("repository root not found");
        }
    }

    public static string ModelPath(string name) =>
        Shared.Models.Contains(name) ? Path.Combine(Folder!, "models", name + ".onnx") : Path.Combine(Folder!, "trained", name + ".onnx");

    public static IEnumerable<object[]> AllModels() => Models.Concat(Trained).Select(m => new object[] { m });
    public static IEnumerable<object[]> TorchvisionModels() => Models.Select(m => new object[] { m });

    public static (ModelProto Model, Graph Graph, WeightStore Weights) Load(string name)
    {
        var path = ModelPath(name);
        var model = ModelFile.Load(path);
        var (g, w) = OnnxImporter.Import(model, path);
        return (model, g, w);
    }
}

public sealed class SharedFactAttribute : FactAttribute
{
    public SharedFactAttribute() { if (Shared.Folder == null) Skip = Shared.MissingReason; }
}

public sealed class SharedTheoryAttribute : TheoryAttribute
{
    public SharedTheoryAttribute() { if (Shared.Folder == null) Skip = Shared.MissingReason; }
}

/// <summary>Runs models with ONNX Runtime and compares outputs.</summary>
public static class Ort
{
    public static Dictionary<string, TensorData> Run(ModelProto model, Dictionary<string, TensorData> inputs)
    {
        using var runner = new ModelRunner(ToBytes(model));
        return runner.Run(inputs);
    }

    public static byte[] ToBytes(ModelProto model) => ModelFile.ToBytes(model);

    /// <summary>Largest absolute difference over all outputs; shapes and names must agree.</summary>
    public static double MaxAbsDiff(Dictionary<string, TensorData> a, Dictionary<string, TensorData> b)
    {
        Assert.Equal(a.Keys.OrderBy(k => k), b.Keys.OrderBy(k => k));
        double max = 0;
        foreach (var (name, x) in a)
        {
            var y = b[name];
            Assert.Equal(x.Shape, y.Shape);
            var xs = (float[])x.Values; var ys = (float[])y.Values;
            for (int i = 0; i < xs.Length; i++)
            {
                Assert.False(float.IsNaN(xs[i]) != float.IsNaN(ys[i]), $"NaN mismatch in {name}[{i}]");
                max = Math.Max(max, Math.Abs((double)xs[i] - ys[i]));
            }
        }
        return max;
    }

    /// <summary>True when every output value has the same bits.</summary>
    public static bool BitIdentical(Dictionary<string, TensorData> a, Dictionary<string, TensorData> b) =>
        a.Keys.All(k => b.ContainsKey(k) && ((float[])a[k].Values).Select(BitConverter.SingleToInt32Bits)
            .SequenceEqual(((float[])b[k].Values).Select(BitConverter.SingleToInt32Bits)));
}

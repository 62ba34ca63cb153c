using System.Text.Json;
using Lamda.Cli;
using Lamda.Graphs;
using Lamda.Onnx;
using Lamda.Runtime;
using Lamda.Tests;

namespace Lamda.Cli.Tests;

/// <summary>Drives the real <c>lamda</c> entry point in-process, with files on disk, as a user would.</summary>
public class CliTests : CliTestBase
{
    static void AssertUserError((int Code, string Out, string Err) r, string mustMention)
    {
        Assert.Equal(1, r.Code);
        Assert.Contains(mustMention, r.Err);
        Assert.DoesNotContain("   at ", r.Err); // never a stack trace
        Assert.Single(r.Err.TrimEnd().Split('\n'));
    }

    [SharedTheory]
    [MemberData(nameof(Shared.AllModels), MemberType = typeof(Shared))]
    public void SerializeThenDeserializeGivesIdenticalOutputs(string name)
    {
        var model = Shared.ModelPath(name);
        var text = Path.Combine(dir, name + ".lamda");
        var rebuilt = Path.Combine(dir, name + ".onnx");
        Assert.Equal(0, Lamda("serialize", model, "-o", text).Code);
        var d = Lamda("deserialize", text, "--weights", model, "-o", rebuilt);
        Assert.True(d.Code == 0, d.Err);

        // The text written by the CLI is idempotent through parse and write.
        var content = File.ReadAllText(text);
        Assert.Equal(content, Text.LamdaTextWriter.Write(Text.LamdaTextReader.Read(content)));

        var (original, graph, _) = Shared.Load(name);
        var inputs = TensorData.RandomInputs(graph, 5);
        Assert.True(Ort.BitIdentical(Ort.Run(original, inputs), Ort.Run(ModelFile.Load(rebuilt), inputs)));
    }

    [SharedTheory]
    [MemberData(nameof(Shared.AllModels), MemberType = typeof(Shared))]
    public void NormalizeKeepsOutputsWithinTolerance(string name)
    {
        var output = Path.Combine(dir, name + ".norm.onnx");
        var r = Lamda("normalize", Shared.ModelPath(name), "-o", output);
        Assert.True(r.Code == 0, r.Err);
        var (original, graph, _) = Shared.Load(name);
        var inputs = TensorData.RandomInputs(graph, 11);
        Assert.InRange(Ort.MaxAbsDiff(Ort.Run(original, inputs), Ort.Run(ModelFile.Load(output), inputs)), 0, 1e-5);
    }

    [SharedFact]
    public void SliceJsonOnGooglenetIsValidAndOptimal()
    {
        var r = Lamda("slice", Shared.ModelPath("googlenet"), "--max-tokens", "2048", "--json");
        Assert.Equal(0, r.Code);
        using var json = JsonDocument.Parse(r.Out);
        var root = json.RootElement;
        Assert.Equal(2048, root.GetProperty("maxTokens").GetInt32());
        var slices = root.GetProperty("slices").EnumerateArray().ToList();
        var (_, graph, _) = Shared.Load("googlenet");
        var counter = Text.EstimatingTokenCounter.Instance;
        var tokens = graph.Nodes.Select(n => counter.Count(Text.LamdaTextWriter.NodeLine(n) + "\n")).ToArray();
        int expectFirst = 0, total = 0;
        foreach (var s in slices)
        {
            int first = s.GetProperty("firstNode").GetInt32(), last = s.GetProperty("lastNode").GetInt32(), t = s.GetProperty("tokens").GetInt32();
            Assert.Equal(expectFirst, first);
            Assert.InRange(t, 1, 2048);
            Assert.Equal(tokens[first..(last + 1)].Sum(), t);
            expectFirst = last + 1;
            total += t;
        }
        Assert.Equal(graph.Nodes.Count, expectFirst);
        Assert.Equal(total, root.GetProperty("totalTokens").GetInt32());
        Assert.Equal(SliceReference.ShortestPathOptimum(tokens, Slicing.Slicer.SeveredAt(graph), 2048), root.GetProperty("severedEdges").GetInt32());
    }

    [Fact]
    public void InspectJsonReportsShapesCountsAndTokens()
    {
        var r = Lamda("inspect", TinyNet, "--json");
        Assert.Equal(0, r.Code);
        using var json = JsonDocument.Parse(r.Out);
        var root = json.RootElement;
        var b = SampleModels.TinyNet();
        Assert.Equal(b.Graph.Nodes.Count, root.GetProperty("nodes").GetInt32());
        Assert.Equal(b.Graph.Nodes.Count(n => n.Op == "Conv"), root.GetProperty("opCounts").GetProperty("Conv").GetInt32());
        Assert.Equal(GraphStats.Of(b.Graph, b.Weights).Parameters, root.GetProperty("parameters").GetInt64());
        Assert.Equal(new long[] { 1, 3, 32, 32 }, root.GetProperty("inputs")[0].GetProperty("shape").EnumerateArray().Select(e => e.GetInt64()));
        Assert.Equal(new long[] { 1, 10 }, root.GetProperty("outputs")[0].GetProperty("shape").EnumerateArray().Select(e => e.GetInt64()));
        Assert.Equal(Text.EstimatingTokenCounter.Instance.Count(Text.LamdaTextWriter.Write(b.Graph)), root.GetProperty("lamdaTextTokens").GetInt32());
        Assert.True(root.GetProperty("macs").GetInt64() > 0);
    }

    [Fact]
    public void SliceAcceptsLamdaTextAndReportsOversizedNode()
    {
        var text = Path.Combine(dir, "tiny.lamda");
        Assert.Equal(0, Lamda("serialize", TinyNet, "-o", text).Code);
        Assert.Equal(0, Lamda("slice", text, "--max-tokens", "200").Code);
        AssertUserError(Lamda("slice", text, "--max-tokens", "5"), "LAMDA005");
    }

    [Fact]
    public void BadInputsAreOneLineUserErrorsNamingTheFile()
    {
        var empty = Path.Combine(dir, "empty.onnx");
        File.WriteAllBytes(empty, []);
        var notOnnx = Path.Combine(dir, "readme.onnx");
        File.WriteAllText(notOnnx, "# not a model\nsome text\n");
        var truncated = Path.Combine(dir, "truncated.onnx");
        var bytes = File.ReadAllBytes(TinyNet);
        File.WriteAllBytes(truncated, bytes[..(bytes.Length * 2 / 3)]);
        var missing = Path.Combine(dir, "missing.onnx");
        foreach (var cmd in new[] { "inspect", "serialize" })
            foreach (var path in new[] { empty, notOnnx, truncated, missing, dir })
                AssertUserError(Lamda(cmd, path), path);
        AssertUserError(Lamda("normalize", missing, "-o", Path.Combine(dir, "x.onnx")), missing);
    }

    [Fact]
    public void BadLamdaTextReportsFileLineAndColumn()
    {
        var text = Path.Combine(dir, "bad.lamda");
        File.WriteAllText(text, "lamdatext 1\nmodel ir=8 opset=13\ninput %in0 \"input\" f32[1,3,32,32]\noutput %0 \"output\" f32[1,3,32,32]\nn0 Rellu(%in0) -> %0 ch=3:3\n");
        var r = Lamda("deserialize", text, "--weights", TinyNet, "-o", Path.Combine(dir, "out.onnx"));
        AssertUserError(r, $"{text}:5:4: LT002");
        Assert.False(File.Exists(Path.Combine(dir, "out.onnx")));
    }

    [Fact]
    public void DeserializeRefusesToOverwriteItsInputs()
    {
        var text = Path.Combine(dir, "t.lamda");
        Assert.Equal(0, Lamda("serialize", TinyNet, "-o", text).Code);
        var copy = Path.Combine(dir, "base.onnx");
        File.Copy(TinyNet, copy);
        var before = File.ReadAllBytes(copy);
        AssertUserError(Lamda("deserialize", text, "--weights", copy, "-o", copy), "overwrite");
        Assert.Equal(before, File.ReadAllBytes(copy));
    }

    [Fact]
    public void UnknownCommandsAndOptionsAreUserErrors()
    {
        AssertUserError(Lamda("frobnicate"), "unknown command");
        AssertUserError(Lamda("inspect", TinyNet, "--jsn"), "unknown option '--jsn'");
        AssertUserError(Lamda("slice", TinyNet), "--max-tokens");
        Assert.Equal(0, Lamda("slice", "--help").Code);
        Assert.Equal(0, Lamda("--help").Code);
    }
}

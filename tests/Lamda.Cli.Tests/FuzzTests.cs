using System.Text;
using Lamda.Cli.Commands;
using Lamda.Fuzzing;
using Lamda.Llm;
using Lamda.Onnx;
using Onnx;

namespace Lamda.Cli.Tests;

/// <summary>
/// The mutation fuzzer in the suite: a few hundred cases over every reader must each end in success or a coded
/// error within 10 s, and the inputs that once found bugs stay here as regression tests.
/// </summary>
public sealed class FuzzTests : CliTestBase
{
    static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    [Theory]
    [InlineData(1)]
    [InlineData(20261202)]
    public void MutatedInputsEndInSuccessOrACodedErrorWithinTheTimeout(int seed)
    {
        var report = new Fuzzer(FuzzTargets.All(), dir, Timeout).Run(180, seed);
        var bugs = report.Bugs.Select(b => $"{b.Target} case {b.Index} seed {seed}: {b.Outcome}: {b.Detail}");
        Assert.True(report.Bugs.Count == 0, string.Join("\n", bugs));
        Assert.Equal(180, report.Total);
        // Every reader was reached, and the mutations are neither all harmless nor all fatal.
        Assert.Equal(FuzzTargets.All().Select(t => t.Name).Order(), report.Counts.Keys.Order());
        Assert.All(report.Counts.Values, c => Assert.True(c.GetValueOrDefault(FuzzOutcome.Refused) > 0));
        Assert.Contains(report.Counts.Values, c => c.GetValueOrDefault(FuzzOutcome.Accepted) > 0);
    }

    [Fact]
    public void ACaseIsReproducedByItsSeedAndIndex()
    {
        var fuzzer = new Fuzzer(FuzzTargets.All(), dir, Timeout);
        for (int i = 0; i < 12; i++)
        {
            var (target, input) = fuzzer.CaseInput(7, i);
            var (again, same) = fuzzer.CaseInput(7, i);
            Assert.Equal(target.Name, again.Name);
            Assert.Equal(input, same);
        }
        Assert.NotEqual(fuzzer.CaseInput(7, 0).Input, fuzzer.CaseInput(8, 0).Input);
    }

    [Fact]
    public void BenchFuzzPrintsCountsPerReaderAndOutcome()
    {
        var (code, output, _) = Lamda("bench-fuzz", "60", "--seed", "3");
        Assert.Equal(0, code);
        foreach (var reader in new[] { "onnx", "lamdatext", "profile", "npy", "pb", "gguf" }) Assert.Contains(reader, output);
        Assert.Contains("60 cases", output);
        Assert.Contains("0 bugs", output);
    }

    /// <summary>Regression: arrays of arrays nested 200,000 deep made the header reader recurse until the stack overflowed.</summary>
    [Fact]
    public void DeeplyNestedGgufArraysAreACodedError()
    {
        var path = Path.Combine(dir, "nested.gguf");
        using (var w = new BinaryWriter(File.Create(path), Encoding.UTF8))
        {
            w.Write(0x46554747u); w.Write(3u); w.Write(0UL); w.Write(1UL);
            w.Write(1UL); w.Write((byte)'x'); w.Write(9u);
            for (int i = 0; i < 200_000; i++) { w.Write(9u); w.Write(1UL); }
            w.Write(4u); w.Write(1UL); w.Write(0u);
        }
        var e = Assert.Throws<LamdaException>(() => GgufFile.Read(path));
        Assert.Equal(ErrorCodes.BadLlmModel, e.Code);
    }

    /// <summary>Regression: TensorProto dims whose product overflows (2^32 x 2^32 wraps to 0) passed as a small constant.</summary>
    [Theory]
    [InlineData(new long[] { 4294967296, 4294967296 })]
    [InlineData(new long[] { -1, 16 })]
    [InlineData(new long[] { 1000000, 1000000, 1000000, 1000000 })]
    public void AbsurdInitializerDimsAreACodedErrorNamingTheTensor(long[] dims)
    {
        var model = ModelFile.Load(TinyNet);
        var weight = model.Graph.Initializer[0];
        weight.Dims.Clear();
        weight.Dims.AddRange(dims);
        var path = Path.Combine(dir, "absurd.onnx");
        ModelFile.Save(model, path);
        var (code, _, err) = Lamda("inspect", path);
        Assert.Equal(1, code);
        Assert.Contains(ErrorCodes.InvalidModel, err);
        Assert.Contains(weight.Name, err);
    }

    [Fact]
    public void InitializerDimsThatDisagreeWithItsDataAreACodedError()
    {
        var model = ModelFile.Load(TinyNet);
        var weight = model.Graph.Initializer.First(t => t.Dims.Count == 4);
        weight.Dims[0] *= 2;
        var path = Path.Combine(dir, "lying.onnx");
        ModelFile.Save(model, path);
        var (code, _, err) = Lamda("inspect", path);
        Assert.Equal(1, code);
        Assert.Contains("holds", err);
        Assert.Contains(weight.Name, err);
    }

    [Fact]
    public void ACyclicGraphIsACodedErrorNamingTheNode()
    {
        var model = ModelFile.Load(TinyNet);
        var first = model.Graph.Node[0];
        first.Input[0] = model.Graph.Node[2].Output[0]; // n0 now reads what n2 computes from n0
        var path = Path.Combine(dir, "cycle.onnx");
        ModelFile.Save(model, path);
        var (code, _, err) = Lamda("inspect", path);
        Assert.Equal(1, code);
        Assert.Contains(ErrorCodes.InvalidModel, err);
        Assert.Contains("cycle", err);
    }

    /// <summary>If nodes nested 200 deep: protobuf's recursion limit refuses the file before any recursive code of Lamda runs.</summary>
    [Fact]
    public void DeeplyNestedSubgraphsAreACodedError()
    {
        var model = ModelFile.Load(TinyNet);
        var body = new GraphProto { Name = "leaf" };
        for (int depth = 0; depth < 200; depth++)
        {
            var node = new NodeProto { OpType = "If", Name = $"if{depth}" };
            node.Attribute.Add(new AttributeProto { Name = "then_branch", Type = AttributeProto.Types.AttributeType.Graph, G = body });
            body = new GraphProto { Name = $"g{depth}" };
            body.Node.Add(node);
        }
        model.Graph.Node.Add(body.Node[0]);
        var path = Path.Combine(dir, "nested.onnx");
        File.WriteAllBytes(path, ModelFile.ToBytes(model));
        var (code, _, err) = Lamda("inspect", path);
        Assert.Equal(1, code);
        Assert.Contains(ErrorCodes.InvalidModel, err);
    }
}

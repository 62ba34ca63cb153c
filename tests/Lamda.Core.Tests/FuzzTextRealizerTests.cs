using Lamda.Fuzzing;
using Lamda.Graphs;
using Lamda.Onnx;
using Lamda.Runtime;
using Lamda.Text;
using Onnx;

namespace Lamda.Tests;

/// <summary>
/// Realizing LamdaText against weights is a bijection: a mutated text either fails with a coded diagnostic, or
/// realizes a model that serializes back to exactly that text. And the resource limits refuse by size.
/// </summary>
public class FuzzTextRealizerTests
{
    static (Graph Graph, WeightStore Weights) Imported(string name, ModelProto model) => OnnxImporter.Import(model, name);

    static (Graph Graph, WeightStore Weights) TinyNet()
    {
        var b = SampleModels.TinyNet();
        return Imported("tinynet.onnx", OnnxExporter.Export(b.Graph, b.Weights));
    }

    /// <summary>Non-comment, non-blank lines: what the realizer compares.</summary>
    static string[] Content(string text) =>
        text.Split('\n').Select(l => l.TrimEnd('\r')).Where(l => l.TrimStart() is { Length: > 0 } t && t[0] != '#').ToArray();

    static (int Accepted, int Refused, int Disagreements) MutateAndRealize(string text, WeightStore weights, int seed, int cases)
    {
        int accepted = 0, refused = 0, disagreements = 0;
        var rng = new Random(seed);
        for (int i = 0; i < cases; i++)
        {
            var mutated = Mutator.MutateText(text, rng);
            ModelProto model;
            try { model = TextRealizer.Realize(mutated, "mutated.lamda", weights); }
            catch (LamdaException e)
            {
                Assert.Matches("^(LAMDA0\\d\\d|LT0\\d\\d)$", e.Code);
                if (e is LamdaTextException t) Assert.All(t.Diagnostics, d => Assert.True(d.Line >= 1 && d.Column >= 1, d.ToString()));
                refused++;
                if (e.Code == TextCodes.Disagreement) disagreements++;
                continue;
            }
            var back = LamdaTextWriter.Write(Imported("realized", ModelFile.Parse(ModelFile.ToBytes(model), "realized")).Graph);
            Assert.Equal(Content(mutated), Content(back));
            accepted++;
        }
        return (accepted, refused, disagreements);
    }

    [Fact]
    public void MutatedTinyNetTextsFailWithACodeOrRoundTripExactly()
    {
        var (graph, weights) = TinyNet();
        var (accepted, refused, disagreements) = MutateAndRealize(LamdaTextWriter.Write(graph), weights, seed: 11, cases: 300);
        Assert.True(accepted > 0, "some mutations (of a literal, an epsilon) keep a valid, consistent text");
        Assert.True(disagreements > 0, "some mutations (of a ch= count) contradict the weights");
        Assert.Equal(300, accepted + refused);
    }

    [SharedTheory]
    [InlineData("digits_cnn")]
    [InlineData("digits_resnet")]
    [InlineData("squeezenet1_1")]
    public void MutatedTextsOfRealModelsFailWithACodeOrRoundTripExactly(string name)
    {
        var (_, graph, weights) = Shared.Load(name);
        var (accepted, refused, _) = MutateAndRealize(LamdaTextWriter.Write(graph), weights, seed: 5, cases: 100);
        Assert.Equal(100, accepted + refused);
    }

    [Fact]
    public void EveryChannelCountOfTinyNetThatDisagreesIsCaughtAtItsColumn()
    {
        var (graph, weights) = TinyNet();
        var lines = LamdaTextWriter.Write(graph).Split('\n');
        int checkedLines = 0;
        for (int i = 0; i < lines.Length; i++)
        {
            int at = lines[i].IndexOf(" ch=", StringComparison.Ordinal);
            bool sixteenOut = lines[i].Contains(":16 ", StringComparison.Ordinal) || lines[i].EndsWith(":16", StringComparison.Ordinal);
            if (at < 0 || !sixteenOut) continue;
            var edited = lines.ToArray();
            int colon = edited[i].IndexOf(':', at);
            edited[i] = edited[i][..(colon + 1)] + "17" + edited[i][(colon + 3)..];
            var e = Assert.Throws<LamdaTextException>(() => TextRealizer.Realize(string.Join('\n', edited), "t.lamda", weights));
            Assert.Equal(TextCodes.Disagreement, e.Code);
            Assert.Equal(i + 1, e.Diagnostics[0].Line);
            Assert.Equal(at + 2, e.Diagnostics[0].Column);
            checkedLines++;
        }
        Assert.True(checkedLines >= 3);
    }

    [Theory]
    [InlineData(null, 4L << 30)]
    [InlineData("", 4L << 30)]
    [InlineData("1000", 1000L)]
    [InlineData("512M", 512L << 20)]
    [InlineData("16g", 16L << 30)]
    public void TheLimitIsReadFromBytesOrASuffix(string? text, long expected) => Assert.Equal(expected, ResourceLimits.Parse(text));

    [Theory]
    [InlineData("lots")]
    [InlineData("-5")]
    [InlineData("99999999999G")]
    public void ABadLimitIsABadArgument(string text) =>
        Assert.Equal(ErrorCodes.BadArgument, Assert.Throws<LamdaException>(() => ResourceLimits.Parse(text)).Code);

    [Fact]
    public void SizesSaturateInsteadOfOverflowing()
    {
        Assert.Equal(3L * 100000 * 100000 * 4, ResourceLimits.Bytes([1, 3, 100000, 100000], DataTypes.Float));
        Assert.Equal(long.MaxValue, ResourceLimits.Bytes([1L << 32, 1L << 32], DataTypes.Float));
        Assert.Null(ResourceLimits.Bytes([1, -1], DataTypes.Float));
    }

    [Fact]
    public void AnActivationAboveTheLimitIsNamedWithItsNode()
    {
        var (graph, weights) = TinyNet();
        // The input (3x32x32 floats, 12 KiB) fits; the first Conv's 16x32x32 output (64 KiB) does not.
        ResourceLimits.CheckGraph(graph, weights, "tinynet.onnx", limit: 1L << 20);
        var e = Assert.Throws<LamdaException>(() => ResourceLimits.CheckGraph(graph, weights, "tinynet.onnx", limit: 32L << 10));
        Assert.Equal(ErrorCodes.ResourceLimit, e.Code);
        Assert.Contains("the output of n0 (Conv) is [1x16x32x32]", e.Message);
        var input = Assert.Throws<LamdaException>(() => ResourceLimits.CheckGraph(graph, weights, "tinynet.onnx", limit: 8L << 10));
        Assert.Contains("input 'input' [1x3x32x32]", input.Message);
    }
}

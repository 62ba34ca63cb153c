using Lamda.Graphs;
using Lamda.Onnx;
using Lamda.Runtime;
using Lamda.Text;

namespace Lamda.Tests;

public class LamdaTextTests
{
    const string Header = "lamdatext 1\nmodel ir=8 opset=13\ninput %in0 \"x\" f32[1,4,8,8]\noutput %1 \"y\" f32[1,4,8,8]\n";

    static TextDiagnostic Single(string text)
    {
        var e = Assert.Throws<LamdaTextException>(() => LamdaTextReader.Read(text, "arch.lamda"));
        return Assert.Single(e.Diagnostics);
    }

    [Fact]
    public void UnknownOperatorIsReportedWithPositionAndSuggestion()
    {
        var d = Single(Header + "n0 Relu(%in0) -> %0 ch=4:4\nn1 Conv2d(%0) -> %1 ch=4:4\n");
        Assert.Equal((TextCodes.UnknownOperator, 6, 4), (d.Code, d.Line, d.Column));
        Assert.Contains("'Conv2d'", d.Message);
        Assert.Contains("did you mean 'Conv'", d.Message);
        Assert.StartsWith("arch.lamda:6:4: LT002 ", d.ToString());
    }

    [Fact]
    public void DanglingEdgeIsReported()
    {
        var d = Single(Header + "n0 Relu(%7) -> %0 ch=4:4\nn1 Relu(%0) -> %1 ch=4:4\n");
        Assert.Equal((TextCodes.DanglingEdge, 5, 9), (d.Code, d.Line, d.Column));
        Assert.Contains("%7", d.Message);
    }

    [Fact]
    public void OutputIndexBeyondNodeOutputsIsDangling()
    {
        var d = Single(Header + "n0 Relu(%in0) -> %0 ch=4:4\nn1 Relu(%0.1) -> %1 ch=4:4\n");
        Assert.Equal(TextCodes.DanglingEdge, d.Code);
    }

    [Fact]
    public void GraphOutputNeverDefinedIsDangling()
    {
        var d = Single("lamdatext 1\nmodel ir=8 opset=13\ninput %in0 \"x\" f32[1]\noutput %9 \"y\" f32[1]\nn0 Relu(%in0) -> %0 ch=?:?\n");
        Assert.Equal((TextCodes.DanglingEdge, 4), (d.Code, d.Line));
    }

    [Fact]
    public void DuplicateIdsAreReported()
    {
        var d = Single(Header + "n0 Relu(%in0) -> %0 ch=4:4\nn0 Relu(%0) -> %1 ch=4:4\n");
        Assert.Equal((TextCodes.DuplicateId, 6, 1), (d.Code, d.Line, d.Column));
        var e = Single(Header + "n0 Relu(%in0) -> %1 ch=4:4\nn1 Relu(%1) -> %1 ch=4:4\n");
        Assert.Equal((TextCodes.DuplicateId, 6), (e.Code, e.Line));
    }

    [Fact]
    public void MissingRequiredAttributeIsReported()
    {
        var d = Single(Header + "n0 Relu(%in0) -> %0 ch=4:4\nn1 Concat(%0, %0) -> %1 ch=4:8\n");
        Assert.Equal((TextCodes.MissingAttribute, 6), (d.Code, d.Line));
        Assert.Contains("axis", d.Message);
    }

    [Fact]
    public void WrongArityIsReported()
    {
        var d = Single(Header + "n0 Relu(%in0) -> %0 ch=4:4\nn1 Add(%0) -> %1 ch=4:4\n");
        Assert.Equal(TextCodes.WrongArity, d.Code);
    }

    [Theory]
    [InlineData("n0 LeakyRelu(%in0) -> %1 ch=4:4 alpha=0.1.2", TextCodes.BadNumber)]
    [InlineData("n0 Relu(%in0) -> %1 ch=4x:4", TextCodes.BadNumber)]
    [InlineData("n0 Transpose(%in0) -> %1 ch=4:4 perm=[0,99999999999999999999]", TextCodes.BadNumber)]
    [InlineData("n0 Reshape(%in0, i64[2]{1}) -> %1 ch=4:4", TextCodes.BadNumber)]
    public void BadNumbersAreReported(string line, string code)
    {
        var d = Single(Header + line + "\n");
        Assert.Equal((code, 5), (d.Code, d.Line));
    }

    [Fact]
    public void AllErrorsAreCollectedNotJustTheFirst()
    {
        var e = Assert.Throws<LamdaTextException>(() => LamdaTextReader.Read(Header + "n0 Foo(%in0) -> %0 ch=4:4\nn1 Relu(%zz) -> %1 ch=4:4\n", "a.lamda"));
        Assert.Equal(2, e.Diagnostics.Count);
        Assert.Contains("a.lamda:5:", e.Message);
        Assert.Contains("a.lamda:6:", e.Message);
    }

    [Theory]
    [InlineData("")]
    [InlineData("hello world\n")]
    [InlineData("lamdatext 2\nmodel ir=8 opset=13\n")]
    [InlineData("lamdatext 1\nn0 Relu(%in0) -> %0 ch=?:?\n")]
    public void NonLamdaTextIsRejectedWithHeaderError(string text)
    {
        var e = Assert.Throws<LamdaTextException>(() => LamdaTextReader.Read(text, "x.lamda"));
        Assert.Contains(e.Diagnostics, d => d.Code == TextCodes.BadHeader);
    }

    /// <summary>Every attribute kind, quoting, multi-output nodes, omitted inputs and custom domains survive text exactly.</summary>
    [Fact]
    public void EveryConstructRoundTripsExactly()
    {
        var text = """
            lamdatext 1
            model ir=8 opset=13 opset.com.example=2
            input %in0 "in put" f32[batch,4,"h w",?]
            output %3 "y" f32[*]
            output %1.2 "part" f32[batch,1,"h w",?]
            n0 LeakyRelu(%in0) -> %0 ch=4:4 alpha=0.1
            n1 Split(%0, i64[3]{2,1,1}) -> %1*3 ch=4:2 axis=1
            n2 Resize(%1, _, f32[4]{1.0,1.0,2.0,2.0}) -> %2 ch=2:2 coordinate_transformation_mode="half_pixel" mode="nearest" nearest_mode="floor"
            n3 com.example:Fancy(%2, %1.1, @"weird name", @onnx::Conv_1) -> %3 ch=2:? e=[]f f=[1.0,-2.5e-08,inf,-inf] g=[]s i=-3 k=[] s=["a\"b","c\\d\n"] t=f64[2,1]{0.1,nan} u=@graph#body z=nan
            """ + "\n";
        var graph = LamdaTextReader.Read(text);
        Assert.Equal(text, LamdaTextWriter.Write(graph));
        var fancy = graph.Nodes[3];
        Assert.Equal("com.example", fancy.Domain);
        Assert.Equal(AttributeKind.Floats, fancy.Attribute("e")!.Kind);
        Assert.Equal(AttributeKind.Strings, fancy.Attribute("g")!.Kind);
        Assert.Equal(AttributeKind.Ints, fancy.Attribute("k")!.Kind);
        Assert.Equal("a\"b", fancy.Attribute("s")!.Strings[0]);
        Assert.Equal(0.1f, graph.Nodes[0].GetFloat("alpha", 0));
        Assert.Equal(new WeightOperand("weird name"), fancy.Inputs[2]);
        Assert.Equal(new EdgeOperand("1", 1), fancy.Inputs[1]);
        Assert.Equal(3, graph.Nodes[1].OutputCount);
        Assert.IsType<EmptyOperand>(graph.Nodes[2].Inputs[1]);
        Assert.Equal(new Dim(-1, "h w"), graph.Inputs[0].Type.Dims![2]);
    }

    [Fact]
    public void FloatsRoundTripBitExactly()
    {
        var rng = new Random(1);
        for (int i = 0; i < 2000; i++)
        {
            float f = BitConverter.Int32BitsToSingle(rng.Next());
            if (float.IsNaN(f)) continue;
            var text = Header + $"n0 LeakyRelu(%in0) -> %1 ch=4:4 alpha={Syntax.Real(f)}\n";
            Assert.Equal(BitConverter.SingleToInt32Bits(f), BitConverter.SingleToInt32Bits(LamdaTextReader.Read(text).Nodes[0].GetFloat("alpha", 0)));
        }
    }

    [Fact]
    public void MissingWeightNamesTheReferenceAndTheBase()
    {
        var graph = LamdaTextReader.Read(Header + "n0 Conv(%in0, @nope) -> %1 ch=4:4\n");
        var e = Assert.Throws<LamdaException>(() => OnnxExporter.Export(graph, new WeightStore { Source = "base.onnx" }));
        Assert.Equal(ErrorCodes.MissingWeight, e.Code);
        Assert.Contains("@nope", e.Message);
        Assert.Contains("base.onnx", e.Message);
    }

    [Fact]
    public void ChannelsAreInferredForBuiltGraphs()
    {
        var b = SampleModels.TinyNet();
        var concat = b.Graph.Nodes.Single(n => n.Op == "Concat");
        Assert.Equal((24L, 48L), (concat.InChannels!.Value, concat.OutChannels!.Value));
        var gemm = b.Graph.Nodes.Single(n => n.Op == "Gemm");
        Assert.Equal((64L, 10L), (gemm.InChannels!.Value, gemm.OutChannels!.Value));
    }

    [Fact]
    public void MacsFollowTheConvolutionFormula()
    {
        var b = new GraphBuilder();
        var x = b.Input("x", 1, 3, 8, 8);
        var y = b.Conv(x, 8, kernel: 3, stride: 1);
        b.Output(b.Gemm(b.Flatten(b.GlobalAveragePool(y)), 5), "y");
        var stats = GraphStats.Of(b.Graph, b.Weights);
        // Conv: 8x8 outputs x 8 channels x (3 x 3x3) weights each; Gemm: 5 outputs x 8 inputs.
        Assert.Equal(8 * 8 * 8 * 3 * 9 + 5 * 8, stats.Macs);
        Assert.Equal(8 * 3 * 9 + 8 + 5 * 8 + 5, stats.Parameters);
    }

    [Fact]
    public void NormalizerRebindsGraphOutputThroughIdentityAndDropsDropout()
    {
        var b = new GraphBuilder();
        var x = b.Input("x", 1, 4, 8, 8);
        var r = b.Relu(x);
        var d = b.Op("Dropout", [r, new LiteralOperand(new TensorLiteral(DataTypes.Float, [], null, [0.5]))]);
        var i = b.Op("Identity", [d]);
        b.Output(b.Op("Identity", [i]), "y");
        var model = OnnxExporter.Export(b.Graph, b.Weights);
        var (normalized, report) = Normalizer.Normalize(b.Graph, b.Weights);
        Assert.Equal("Relu", Assert.Single(normalized.Nodes).Op);
        Assert.Equal(3, report.Removed.Values.Sum());
        var exported = OnnxExporter.Export(normalized, b.Weights);
        Assert.Equal("y", exported.Graph.Output[0].Name);
        var inputs = TensorData.RandomInputs(b.Graph);
        Assert.True(Ort.BitIdentical(Ort.Run(model, inputs), Ort.Run(exported, inputs)));
    }
}

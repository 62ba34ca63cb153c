using Google.Protobuf;
using Lamda.Graphs;
using Lamda.Onnx;
using Lamda.Runtime;
using Lamda.Text;
using Onnx;

namespace Lamda.Tests;

/// <summary>Models with control flow (If bodies that read outer values by name) and model-local functions.</summary>
public class SubgraphTests
{
    static ValueInfoProto Value(string name, int type, params long[] dims) => OnnxExporter.ValueInfo(name, new TensorType(type, dims.Select(d => new Dim(d)).ToArray()));

    static NodeProto NodeOf(string op, string[] inputs, string output, string domain = "")
    {
        var n = new NodeProto { OpType = op, Domain = domain, Name = output + "_node" };
        n.Input.AddRange(inputs);
        n.Output.Add(output);
        return n;
    }

    /// <summary>y = If(cond, then: Relu(x) + bias, else: Relu(x) - bias); z = custom.Double(y) = y + y.</summary>
    static ModelProto ControlFlowModel()
    {
        var model = new ModelProto { IrVersion = 8, Graph = new GraphProto { Name = "cf" } };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 13 });
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "custom", Version = 1 });
        var g = model.Graph;
        g.Input.Add(Value("x", DataTypes.Float, 2, 3));
        g.Input.Add(Value("cond", DataTypes.Bool));
        var bias = new TensorProto { Name = "bias", DataType = DataTypes.Float, RawData = ByteString.CopyFrom(new float[] { 0.5f, -1.25f, 2f }.SelectMany(BitConverter.GetBytes).ToArray()) };
        bias.Dims.Add(3);
        g.Initializer.Add(bias);
        g.Node.Add(NodeOf("Relu", ["x"], "r"));
        g.Node.Add(NodeOf("Identity", ["r"], "r_id"));

        GraphProto Branch(string op, string output)
        {
            var b = new GraphProto { Name = output };
            b.Node.Add(NodeOf(op, ["r_id", "bias"], output));
            b.Output.Add(Value(output, DataTypes.Float, 2, 3));
            return b;
        }
        var iff = NodeOf("If", ["cond"], "y");
        iff.Attribute.Add(new AttributeProto { Name = "then_branch", Type = AttributeProto.Types.AttributeType.Graph, G = Branch("Add", "t") });
        iff.Attribute.Add(new AttributeProto { Name = "else_branch", Type = AttributeProto.Types.AttributeType.Graph, G = Branch("Sub", "e") });
        g.Node.Add(iff);
        g.Node.Add(NodeOf("Double", ["y"], "z", "custom"));
        g.Output.Add(Value("z", DataTypes.Float, 2, 3));

        var f = new FunctionProto { Name = "Double", Domain = "custom" };
        f.Input.Add("X");
        f.Output.Add("Y");
        f.Node.Add(NodeOf("Add", ["X", "X"], "Y"));
        f.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 13 });
        model.Functions.Add(f);
        return model;
    }

    static Dictionary<string, TensorData> Inputs(bool cond) => new()
    {
        ["x"] = new TensorData(DataTypes.Float, [2, 3], new float[] { -1, 2, 3, -4, 5, 0.25f }),
        ["cond"] = new TensorData(DataTypes.Bool, [], new[] { cond }),
    };

    [Fact]
    public void CapturedValuesAndFunctionsSurviveTextAndNormalize()
    {
        var model = ControlFlowModel();
        var (graph, weights) = OnnxImporter.Import(model);
        var text = LamdaTextWriter.Write(graph);
        Assert.Contains("capture %1 \"r_id\"", text);
        Assert.Contains("custom:Double(", text);
        var parsed = LamdaTextReader.Read(text);
        Assert.Equal(text, LamdaTextWriter.Write(parsed));

        var (normalized, _) = Normalizer.Normalize(graph, weights);
        Assert.Contains(normalized.Nodes, n => n.Op == "Identity"); // captured by the If bodies: kept
        foreach (var cond in new[] { true, false })
        {
            var expected = Ort.Run(model, Inputs(cond));
            Assert.True(Ort.BitIdentical(expected, Ort.Run(OnnxExporter.Export(parsed, weights), Inputs(cond))));
            Assert.True(Ort.BitIdentical(expected, Ort.Run(OnnxExporter.Export(normalized, weights), Inputs(cond))));
        }
    }

    [Fact]
    public void CaptureOfUndefinedEdgeIsDangling()
    {
        var e = Assert.Throws<LamdaTextException>(() => LamdaTextReader.Read(
            "lamdatext 1\nmodel ir=8 opset=13\ninput %in0 \"x\" f32[1]\noutput %0 \"y\" f32[1]\ncapture %9 \"gone\"\nn0 Relu(%in0) -> %0 ch=?:?\n"));
        Assert.Equal((TextCodes.DanglingEdge, 5), (e.Diagnostics[0].Code, e.Diagnostics[0].Line));
    }
}

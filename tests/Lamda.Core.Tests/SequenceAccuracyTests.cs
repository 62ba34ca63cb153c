using Google.Protobuf;
using Lamda.Adaptation;
using Lamda.Data;
using Lamda.Evaluation;
using Lamda.Graphs;
using Lamda.Runtime;
using Onnx;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace Lamda.Tests;

/// <summary>Greedy CTC decoding and reading accuracy of sequence outputs, on hand-made [N, T, C] tensors.</summary>
public sealed class SequenceAccuracyTests : IDisposable
{
    readonly DirectoryInfo root = Directory.CreateTempSubdirectory("lamda-seq-");

    public void Dispose() => root.Delete(recursive: true);

    // Classes: 0 blank, 1 "a", 2 "b", 3 "C", and 4 the space after the dictionary's symbols.
    static readonly CtcAlphabet Abc = new(["a", "b", "C"]);
    const int Classes = 5;

    /// <summary>[T, C] scores that put the most weight on the given class at each position.</summary>
    static float[] Scores(params int[] classes)
    {
        var v = new float[classes.Length * Classes];
        for (int t = 0; t < classes.Length; t++)
        {
            for (int k = 0; k < Classes; k++) v[t * Classes + k] = 0.1f * k / Classes; // a tie-free background
            v[t * Classes + classes[t]] = 0.9f;
        }
        return v;
    }

    [Fact]
    public void GreedyMergesRepeatsAndDropsBlanks()
    {
        // a a _ a b b _ _ C: the repeat of a is one symbol, a blank between two a's keeps both.
        Assert.Equal([1, 1, 2, 3], CtcDecoder.Greedy(Scores(1, 1, 0, 1, 2, 2, 0, 0, 3), Classes));
        Assert.Equal("aabC", CtcDecoder.Decode(Scores(1, 1, 0, 1, 2, 2, 0, 0, 3), Classes, Abc));
        Assert.Empty(CtcDecoder.Greedy(Scores(0, 0, 0), Classes));
    }

    [Fact]
    public void TheClassAfterTheDictionaryIsASpace()
    {
        Assert.Equal("a b", CtcDecoder.Decode(Scores(1, 4, 4, 2, 0), Classes, Abc));
        Assert.True(Abc.Fits(4));
        Assert.True(Abc.Fits(5));
        Assert.False(Abc.Fits(6));
    }

    [Fact]
    public void CorrectCountsWholeLinesOnly()
    {
        // Three sequences of 4 positions: "ab", "C", "ba"; labels "ab", "c", "b".
        var values = Scores(1, 0, 2, 2).Concat(Scores(3, 3, 0, 0)).Concat(Scores(2, 0, 1, 0)).ToArray();
        var outputs = new TensorData(DataTypes.Float, [3, 4, Classes], values);
        Assert.Equal(1, SequenceAccuracy.Correct(outputs, ["ab", "c", "b"], Abc));
        Assert.Equal(2, SequenceAccuracy.Correct(outputs, ["ab", "c", "b"], Abc, ignoreCase: true));
    }

    [Fact]
    public void AWrongDictionaryIsACodedError()
    {
        var outputs = new TensorData(DataTypes.Float, [1, 2, 9], new float[18]);
        var e = Assert.Throws<LamdaException>(() => SequenceAccuracy.Correct(outputs, ["a"], Abc));
        Assert.Equal(ErrorCodes.BadData, e.Code);
        Assert.Contains("dictionary", e.Message);
    }

    /// <summary>y = Softmax(x, axis 2): the decode of y is the decode of the scores fed in.</summary>
    static byte[] SoftmaxModel()
    {
        var model = new ModelProto { IrVersion = 8, Graph = new GraphProto { Name = "seq" } };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 13 });
        ValueInfoProto Value(string name)
        {
            var tensor = new TypeProto.Types.Tensor { ElemType = DataTypes.Float, Shape = new TensorShapeProto() };
            tensor.Shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimParam = "n" });
            tensor.Shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = 4 });
            tensor.Shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = Classes });
            return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = tensor } };
        }
        model.Graph.Input.Add(Value("x"));
        model.Graph.Output.Add(Value("y"));
        var node = new NodeProto { OpType = "Softmax", Name = "softmax" };
        node.Input.Add("x");
        node.Output.Add("y");
        node.Attribute.Add(new AttributeProto { Name = "axis", Type = AttributeProto.Types.AttributeType.Int, I = 2 });
        model.Graph.Node.Add(node);
        return model.ToByteArray();
    }

    [Fact]
    public void AdaptDataMeasuresReadingAccuracyThroughTheModel()
    {
        var values = Scores(1, 0, 2, 2).Concat(Scores(3, 4, 1, 0)).Concat(Scores(2, 0, 1, 0)).Concat(Scores(0, 0, 0, 0)).ToArray();
        var data = new AdaptData
        {
            Validation = new TensorData(DataTypes.Float, [4, 4, Classes], values),
            ValidationTexts = ["ab", "C a", "ab", ""],
            Alphabet = Abc,
            Split = "test",
        };
        Assert.True(data.HasLabels);
        // Read: "ab", "C a", "ba", "": three of four right, run in batches of 16 and of 3.
        Assert.Equal(0.75, data.Accuracy(SoftmaxModel()));
        Assert.Equal(0.75, SequenceAccuracy.Measure(SoftmaxModel(), data.Validation, data.ValidationTexts, Abc, batch: 3));
    }

    string ImageFolderWithTexts(string[] texts, int images)
    {
        var dir = root.CreateSubdirectory("data" + Guid.NewGuid().ToString("N")).FullName;
        foreach (var sub in new[] { "calib", "val" })
        {
            var d = Directory.CreateDirectory(Path.Combine(dir, sub)).FullName;
            for (int i = 0; i < images; i++)
            {
                using var image = new Image<Rgb24>(8, 4, new Rgb24((byte)(40 * i), 100, 200));
                image.SaveAsPng(Path.Combine(d, $"{i:D3}.png"));
            }
        }
        File.WriteAllLines(Path.Combine(dir, "val", DataFolder.TextsFile), texts);
        File.WriteAllLines(Path.Combine(dir, DataFolder.DictionaryFile), ["a", "b", "C"]);
        return dir;
    }

    [Fact]
    public void AFolderWithTextsAndADictionaryHasTextLabels()
    {
        var dir = ImageFolderWithTexts(["ab", "C a", "b"], 3);
        var data = AdaptData.Load(dir, [-1, 3, 4, 8], seed: 0);
        Assert.Equal(["ab", "C a", "b"], data.ValidationTexts);
        Assert.Equal("a", data.Alphabet!.Symbol(1));
        Assert.Equal(" ", data.Alphabet.Symbol(4));
        Assert.True(data.HasLabels);
        Assert.Null(data.ValidationLabels);
    }

    [Fact]
    public void TextsThatDoNotMatchTheImagesAreACodedError()
    {
        var dir = ImageFolderWithTexts(["ab", "C a"], 3);
        var e = Assert.Throws<LamdaException>(() => DataFolder.Load(dir, [-1, 3, 4, 8]));
        Assert.Equal(ErrorCodes.BadData, e.Code);
        Assert.Contains("labels.txt", e.Message);
        Assert.Contains("2 lines for 3 images", e.Message);
    }

    [Fact]
    public void ADictionaryWithoutValidationTextsIsACodedError()
    {
        var dir = ImageFolderWithTexts(["ab", "C a", "b"], 3);
        File.Delete(Path.Combine(dir, "val", DataFolder.TextsFile));
        var e = Assert.Throws<LamdaException>(() => DataFolder.Load(dir, [-1, 3, 4, 8]));
        Assert.Equal(ErrorCodes.BadData, e.Code);
        Assert.Contains("dictionary.txt", e.Message);
    }
}

using Lamda.Tests;

namespace Lamda.Cli.Tests;

/// <summary>
/// Inputs that are valid files but impossible requests: a model whose static input is far too large to allocate,
/// and LamdaText that contradicts the weights it is realized with. Each ends in a coded error (exit 1).
/// </summary>
public sealed class FaultInputCliTests : CliTestBase
{
    /// <summary>tinynet with its 1x3x32x32 input declared as 1x3x100000x100000 (about 112 GiB of floats).</summary>
    string HugeInputModel()
    {
        var text = Lamda("serialize", TinyNet).Out.Replace("f32[1,3,32,32]", "f32[1,3,100000,100000]");
        var lamda = Path.Combine(dir, "huge.lamda");
        File.WriteAllText(lamda, text);
        var model = Path.Combine(dir, "huge.onnx");
        var (code, _, err) = Lamda("deserialize", lamda, "--weights", TinyNet, "-o", model);
        Assert.True(code == 0, err);
        return model;
    }

    [Theory]
    [InlineData("measure", "--runs", "1", "--warmup", "0")]
    [InlineData("predict", "--device", "jetson-nano")]
    [InlineData("adapt", "--latency", "1ms", "--device", "jetson-nano", "-o", "OUT")]
    public void AHugeStaticInputIsACodedErrorNamingTheInputAndWhatToDo(string command, params string[] options)
    {
        var model = HugeInputModel();
        var output = Path.Combine(dir, "out.onnx");
        var (code, _, err) = Lamda([command, model, .. options.Select(o => o == "OUT" ? output : o)]);
        Assert.True(code == 1, err);
        Assert.Contains("LAMDA019", err);
        Assert.Contains("'input' [1x3x100000x100000]", err);
        Assert.Contains("--input-shape", err);
        Assert.False(File.Exists(output));
    }

    [Fact]
    public void TheSameModelAtItsRealSizeStillRuns()
    {
        var (code, _, err) = Lamda("measure", TinyNet, "--runs", "1", "--warmup", "0");
        Assert.True(code == 0, err);
    }

    /// <summary>The first Conv line of a serialized model with one token replaced; line 5 is the first node.</summary>
    (int Code, string Err, string Output) DeserializeEdited(string model, string from, string to)
    {
        var text = Lamda("serialize", model).Out;
        var lines = text.Split('\n');
        Assert.StartsWith("n0 Conv(", lines[4]);
        Assert.Contains(from, lines[4]);
        lines[4] = lines[4].Replace(from, to);
        var path = Path.Combine(dir, "edited.lamda");
        File.WriteAllText(path, string.Join('\n', lines));
        var output = Path.Combine(dir, "edited.onnx");
        var (code, _, err) = Lamda("deserialize", path, "--weights", model, "-o", output);
        return (code, err, output);
    }

    [Theory]
    [InlineData("ch=3:16", "ch=3:2000000000", "'ch=3:2000000000' disagrees", "'ch=3:16'")]
    [InlineData("ch=3:16", "ch=4:16", "'ch=4:16' disagrees", "'ch=3:16'")]
    [InlineData("kernel_shape=[3,3]", "kernel_shape=[5,5]", "kernel_shape=[5,5] disagrees", "[3,3]")]
    [InlineData("group=1", "group=3", "group=3", "the input has 3")]
    public void LamdaTextThatContradictsItsWeightsIsAnLt010AtItsLineAndColumn(string from, string to, string says, string truth)
    {
        var (code, err, output) = DeserializeEdited(TinyNet, from, to);
        Assert.True(code == 1, err);
        Assert.Contains("LT010", err);
        var line = File.ReadAllText(Path.Combine(dir, "edited.lamda")).Split('\n')[4];
        var column = line.IndexOf(to.Split('=')[0] + "=", StringComparison.Ordinal) + 1;
        Assert.Contains($"edited.lamda:5:{column}:", err);
        Assert.Contains(says, err);
        Assert.Contains(truth, err);
        Assert.False(File.Exists(output));
    }

    [SharedFact]
    public void TheLyingDigitsCnnTextOfTheIssueIsRefused()
    {
        var (code, err, _) = DeserializeEdited(Shared.ModelPath("digits_cnn"), "ch=1:32", "ch=1:2000000000");
        Assert.Equal(1, code);
        Assert.Contains("edited.lamda:5:", err);
        Assert.Contains("LT010 'ch=1:2000000000' disagrees", err);
        Assert.Contains("'ch=1:32'", err);
    }

    [Fact]
    public void AnUneditedTextStillDeserializesToAModelThatSerializesBackToIt()
    {
        var text = Lamda("serialize", TinyNet).Out;
        var path = Path.Combine(dir, "same.lamda");
        File.WriteAllText(path, text);
        var output = Path.Combine(dir, "same.onnx");
        var (code, _, err) = Lamda("deserialize", path, "--weights", TinyNet, "-o", output);
        Assert.True(code == 0, err);
        Assert.Equal(text, Lamda("serialize", output).Out);
    }
}

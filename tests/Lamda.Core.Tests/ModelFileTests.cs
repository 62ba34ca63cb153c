using Lamda.Onnx;

namespace Lamda.Tests;

public class ModelFileTests : IDisposable
{
    readonly string dir = Directory.CreateTempSubdirectory("lamda-test-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    string Write(string name, byte[] bytes)
    {
        var path = Path.Combine(dir, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    [Fact]
    public void MissingFileNamesThePath()
    {
        var e = Assert.Throws<LamdaException>(() => ModelFile.Load(Path.Combine(dir, "nope.onnx")));
        Assert.Equal(ErrorCodes.FileNotFound, e.Code);
        Assert.Contains("nope.onnx", e.Message);
    }

    [Fact]
    public void EmptyTextTruncatedAndDirectoryAreInvalidModels()
    {
        var real = Ort.ToBytes(OnnxExporter.Export(Lamda.Graphs.SampleModels.TinyNet().Graph, Lamda.Graphs.SampleModels.TinyNet().Weights));
        foreach (var path in new[]
                 {
                     Write("empty.onnx", []),
                     Write("text.onnx", System.Text.Encoding.UTF8.GetBytes("this is not a model\n")),
                     Write("truncated.onnx", real[..(real.Length / 2)]),
                     dir,
                 })
        {
            var e = Assert.Throws<LamdaException>(() => ModelFile.Load(path));
            Assert.Equal(ErrorCodes.InvalidModel, e.Code);
            Assert.Contains(path, e.Message);
        }
    }

    [Fact]
    public void AtomicWriteKeepsOldFileWhenWritingFails()
    {
        var path = Write("keep.txt", [1, 2, 3]);
        Assert.Throws<InvalidOperationException>(() => AtomicFile.Write(path, s => { s.WriteByte(9); throw new InvalidOperationException("boom"); }));
        Assert.Equal(new byte[] { 1, 2, 3 }, File.ReadAllBytes(path));
        Assert.Single(Directory.GetFiles(dir)); // no temporary file left behind
    }
}

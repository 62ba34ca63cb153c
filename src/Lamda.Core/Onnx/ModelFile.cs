using Google.Protobuf;
using Onnx;

namespace Lamda.Onnx;

/// <summary>Reads and writes ONNX model files, turning every failure into an actionable <see cref="LamdaException"/>.</summary>
public static class ModelFile
{
    /// <summary>Reads the ONNX model at <paramref name="path"/>; a missing or invalid file is a coded error naming it.</summary>
    public static ModelProto Load(string path)
    {
        if (Directory.Exists(path))
            throw new LamdaException(ErrorCodes.InvalidModel,
                $"{path}: is a directory, not an ONNX model file. Pass the path of a .onnx file.");
        if (!File.Exists(path))
            throw new LamdaException(ErrorCodes.FileNotFound, $"{path}: file not found. Check the path to the ONNX model.");
        byte[] bytes;
        try { bytes = File.ReadAllBytes(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new LamdaException(ErrorCodes.FileNotFound, $"{path}: cannot be read ({e.Message}).", e);
        }
        var model = Parse(bytes, path);
        LoadExternalData(model, Path.GetDirectoryName(Path.GetFullPath(path))!, path);
        return model;
    }

    /// <summary>Parses ONNX bytes; invalid bytes are a coded error naming <paramref name="displayName"/>.</summary>
    public static ModelProto Parse(byte[] bytes, string displayName)
    {
        if (bytes.Length == 0)
            throw new LamdaException(ErrorCodes.InvalidModel, $"{displayName}: the file is empty, not an ONNX model. Re-export the model.");
        ModelProto model;
        try { model = ModelProto.Parser.ParseFrom(bytes); }
        catch (InvalidProtocolBufferException e)
        {
            throw new LamdaException(ErrorCodes.InvalidModel,
                $"{displayName}: not a valid ONNX model (protobuf: {e.Message}). The file may be truncated or of another format; " +
                    "re-export it.", e);
        }
        if (model.Graph == null || (model.Graph.Node.Count == 0 && model.Graph.Input.Count == 0 && model.Graph.Output.Count == 0))
            throw new LamdaException(ErrorCodes.InvalidModel,
                $"{displayName}: not an ONNX model (no graph found). Check that this is a .onnx file.");
        if (model.OpsetImport.Count == 0)
            throw new LamdaException(ErrorCodes.InvalidModel,
                $"{displayName}: the model declares no opset_import; re-export it with a valid opset.");
        return model;
    }

    /// <summary>Brings tensors stored in external files into memory, so the model is self-contained.</summary>
    static void LoadExternalData(ModelProto model, string directory, string displayName)
    {
        foreach (var t in model.Graph.Initializer)
        {
            if (t.DataLocation != TensorProto.Types.DataLocation.External) continue;
            string? location = null; long offset = 0, length = -1;
            foreach (var kv in t.ExternalData)
            {
                if (kv.Key == "location") location = kv.Value;
                else if (kv.Key == "offset") offset = long.Parse(kv.Value);
                else if (kv.Key == "length") length = long.Parse(kv.Value);
            }
            var file = location == null ? null : Path.Combine(directory, location);
            if (file == null || !File.Exists(file))
                throw new LamdaException(ErrorCodes.InvalidModel,
                    $"{displayName}: tensor '{t.Name}' is stored in external file '{location}', which was not found beside the model.");
            using var fs = File.OpenRead(file);
            fs.Seek(offset, SeekOrigin.Begin);
            var data = new byte[length >= 0 ? length : fs.Length - offset];
            fs.ReadExactly(data);
            t.RawData = ByteString.CopyFrom(data);
            t.DataLocation = TensorProto.Types.DataLocation.Default;
            t.ExternalData.Clear();
        }
    }

    /// <summary>The model's protobuf bytes, as ONNX Runtime loads them.</summary>
    public static byte[] ToBytes(ModelProto model)
    {
        using var ms = new MemoryStream();
        using (var cos = new CodedOutputStream(ms, leaveOpen: true)) model.WriteTo(cos);
        return ms.ToArray();
    }

    /// <summary>Writes atomically: a temporary file beside the target, then a rename. An existing file is replaced only on
    /// success.</summary>
    public static void Save(ModelProto model, string path) => AtomicFile.Write(path, stream => model.WriteTo(stream));
}

/// <summary>Writes files so that readers never see a torn file and a failure never destroys the previous content.</summary>
internal static class AtomicFile
{
    public static void Write(string path, Action<Stream> write)
    {
        var full = Path.GetFullPath(path);
        var dir = Path.GetDirectoryName(full)!;
        try
        {
            Directory.CreateDirectory(dir);
            var tmp = Path.Combine(dir, $".{Path.GetFileName(full)}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
            try
            {
                using (var fs = new FileStream(tmp, FileMode.CreateNew, FileAccess.Write))
                {
                    write(fs);
                    fs.Flush(flushToDisk: true);
                }
                File.Move(tmp, full, overwrite: true);
            }
            finally
            {
                if (File.Exists(tmp)) File.Delete(tmp);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new LamdaException(ErrorCodes.WriteFailed, $"{path}: cannot write ({e.Message}).", e);
        }
    }

    public static void WriteText(string path, string text) =>
        Write(path, s => { var b = new System.Text.UTF8Encoding(false).GetBytes(text); s.Write(b); });
}

using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
using Lamda.Graphs;
using Lamda.Runtime;
using Onnx;

namespace Lamda.Data;

/// <summary>Reads tensors from NumPy <c>.npy</c> files (little-endian f4/i8/i4, C order) and ONNX TensorProto <c>.pb</c> files.</summary>
internal static partial class TensorFile
{
    public static TensorData Read(string path)
    {
        if (!File.Exists(path)) throw new LamdaException(ErrorCodes.FileNotFound, $"{path}: data file not found.");
        try
        {
            return Path.GetExtension(path).ToLowerInvariant() switch
            {
                ".npy" => ReadNpy(path),
                ".pb" => ReadProto(path),
                _ => throw new LamdaException(ErrorCodes.BadData,
                    $"{path}: unsupported data file; use .npy (NumPy) or .pb (ONNX TensorProto)."),
            };
        }
        catch (Exception e) when (e is not LamdaException)
        {
            throw new LamdaException(ErrorCodes.BadData, $"{path}: cannot read the tensor ({e.Message}); the file may be truncated.", e);
        }
    }

    [GeneratedRegex(@"'descr':\s*'([<>|])([a-z])(\d+)'.*'fortran_order':\s*(True|False).*'shape':\s*\(([^)]*)\)", RegexOptions.Singleline)]
    private static partial Regex NpyHeader();

    static TensorData ReadNpy(string path)
    {
        var bytes = File.ReadAllBytes(path);
        if (bytes.Length < 10 || bytes[0] != 0x93 || System.Text.Encoding.ASCII.GetString(bytes, 1, 5) != "NUMPY")
            throw new LamdaException(ErrorCodes.BadData, $"{path}: not a NumPy .npy file.");
        int major = bytes[6];
        int headerLength = major == 1 ? BitConverter.ToUInt16(bytes, 8) : BitConverter.ToInt32(bytes, 8);
        int offset = major == 1 ? 10 : 12;
        var header = System.Text.Encoding.ASCII.GetString(bytes, offset, headerLength);
        var m = NpyHeader().Match(header);
        if (!m.Success) throw new LamdaException(ErrorCodes.BadData, $"{path}: unreadable .npy header.");
        if (m.Groups[1].Value == ">" || m.Groups[4].Value == "True")
            throw new LamdaException(ErrorCodes.BadData,
                $"{path}: big-endian or Fortran-order arrays are not supported; save with numpy.save in C order.");
        var shape = m.Groups[5].Value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(s => long.Parse(s, CultureInfo.InvariantCulture)).ToArray();
        long count = shape.Aggregate(1L, (a, b) => a * b);
        var data = bytes.AsSpan(offset + headerLength);
        string type = m.Groups[2].Value + m.Groups[3].Value;
        int size = int.Parse(m.Groups[3].Value, CultureInfo.InvariantCulture);
        if (data.Length < count * size)
            throw new LamdaException(ErrorCodes.BadData,
                $"{path}: truncated: {count} values of {size} bytes expected, {data.Length} bytes present.");
        data = data[..(int)(count * size)];
        return type switch
        {
            "f4" => new TensorData(DataTypes.Float, shape, MemoryMarshal.Cast<byte, float>(data).ToArray()),
            "i8" => new TensorData(DataTypes.Int64, shape, MemoryMarshal.Cast<byte, long>(data).ToArray()),
            "i4" => new TensorData(DataTypes.Int64, shape, MemoryMarshal.Cast<byte, int>(data).ToArray().Select(v => (long)v).ToArray()),
            _ => throw new LamdaException(ErrorCodes.BadData,
                $"{path}: element type '{type}' is not supported (use float32 images and int64 labels)."),
        };
    }

    static TensorData ReadProto(string path)
    {
        var t = TensorProto.Parser.ParseFrom(File.ReadAllBytes(path));
        var shape = t.Dims.ToArray();
        if (t.DataType == DataTypes.Float) return new TensorData(DataTypes.Float, shape, FloatTensor.From(t).Data);
        if (TensorLiteral.FromTensorProto(t) is { Ints: { } ints }) return new TensorData(DataTypes.Int64, shape, ints);
        throw new LamdaException(ErrorCodes.BadData,
            $"{path}: TensorProto of type {DataTypes.Name(t.DataType)} is not supported (use float images and int64 labels).");
    }
}

/// <summary>
/// A labelled data set for accuracy, and calibration inputs, read from a folder with
/// <c>val_images</c>, <c>val_labels</c> and optionally <c>calib_images</c>, each as .npy or .pb.
/// </summary>
public sealed class DataSet
{
    /// <summary>The validation inputs.</summary>
    public required TensorData ValImages { get; init; }
    /// <summary>One class label per validation input.</summary>
    public required long[] ValLabels { get; init; }
    /// <summary>Calibration inputs, when the folder has calib_images.</summary>
    public TensorData? CalibImages { get; init; }

    /// <summary>Reads the folder; a missing folder or file, or labels that do not match the images, is a coded error naming it.</summary>
    public static DataSet Load(string dir)
    {
        if (!Directory.Exists(dir)) throw new LamdaException(ErrorCodes.FileNotFound, $"{dir}: data folder not found.");
        string? Find(string stem) => new[] { ".npy", ".pb" }.Select(e => Path.Combine(dir, stem + e)).FirstOrDefault(File.Exists);
        var images = Find("val_images") ?? throw new LamdaException(ErrorCodes.BadData,
            $"{dir}: no val_images.npy or val_images.pb; the data folder needs validation images and labels.");
        var labels = Find("val_labels") ?? throw new LamdaException(ErrorCodes.BadData, $"{dir}: no val_labels.npy or val_labels.pb.");
        var x = TensorFile.Read(images);
        var y = TensorFile.Read(labels);
        if (x.ElemType != DataTypes.Float || y.Values is not long[] ys || x.Shape[0] != ys.Length)
            throw new LamdaException(ErrorCodes.BadData,
                $"{dir}: val_images must be float32 [N,...] and val_labels int64 [N] with the same N.");
        var calib = Find("calib_images") is { } c ? TensorFile.Read(c) : null;
        return new DataSet { ValImages = x, ValLabels = ys, CalibImages = calib };
    }

    /// <summary>
    /// Top-1 accuracy of a model on the validation set (argmax of its first output), in batches of
    /// <paramref name="batch"/> unless the model fixes its batch size.
    /// </summary>
    public double Accuracy(byte[] model, int batch = 100)
    {
        using var runner = new ModelRunner(model);
        long n = ValImages.Shape[0];
        int correct = 0;
        var inputName = runner.InputNames[0];
        batch = (int)(runner.FixedBatch ?? batch); // a model exported with a fixed batch takes only that many
        for (long start = 0; start < n; start += batch)
        {
            long b = Math.Min(batch, n - start);
            var outputs = runner.Run(new Dictionary<string, TensorData> { [inputName] = ValImages.Rows(start, b) });
            var logits = (float[])outputs[runner.OutputNames[0]].Values;
            int classes = logits.Length / (int)b;
            for (int i = 0; i < b; i++)
            {
                int best = 0;
                for (int k = 1; k < classes; k++) if (logits[i * classes + k] > logits[i * classes + best]) best = k;
                if (best == ValLabels[start + i]) correct++;
            }
        }
        return correct / (double)n;
    }
}

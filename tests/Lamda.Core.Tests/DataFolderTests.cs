using System.Text;
using Lamda.Data;
using Lamda.Runtime;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace Lamda.Tests;

/// <summary>Data folders a user has: images with a preprocessing spec, optional labels, and coded errors for bad folders.</summary>
public sealed class DataFolderTests : IDisposable
{
    readonly DirectoryInfo root = Directory.CreateTempSubdirectory("lamda-data-");

    public void Dispose() => root.Delete(recursive: true);

    string Folder(string name) => Directory.CreateDirectory(Path.Combine(root.FullName, name)).FullName;

    /// <summary>Seeded random RGB images written as PNG; returns their pixels as [image][y][x] = (r, g, b).</summary>
    static List<Rgb24[,]> WriteImages(string dir, int count, int width, int height, int seed)
    {
        var rng = new Random(seed);
        var all = new List<Rgb24[,]>();
        for (int i = 0; i < count; i++)
        {
            using var image = new Image<Rgb24>(width, height);
            var pixels = new Rgb24[height, width];
            for (int y = 0; y < height; y++)
                for (int x = 0; x < width; x++)
                    image[x, y] = pixels[y, x] = new Rgb24((byte)rng.Next(256), (byte)rng.Next(256), (byte)rng.Next(256));
            image.SaveAsPng(Path.Combine(dir, $"img{i:D3}.png"));
            all.Add(pixels);
        }
        return all;
    }

    static void WriteNpy(string path, long[] shape, float[] values)
    {
        var header = $"{{'descr': '<f4', 'fortran_order': False, 'shape': ({string.Join(", ", shape)}{(shape.Length == 1 ? "," : "")}), }}";
        header = header.PadRight(((header.Length + 11) / 64 + 1) * 64 - 11) + "\n";
        using var f = File.Create(path);
        f.Write([0x93, .. "NUMPY"u8, 1, 0]);
        f.Write(BitConverter.GetBytes((ushort)header.Length));
        f.Write(Encoding.ASCII.GetBytes(header));
        foreach (var v in values) f.Write(BitConverter.GetBytes(v));
    }

    [Theory]
    [InlineData("nchw")]
    [InlineData("nhwc")]
    public void An_image_folder_with_a_spec_gives_the_same_tensor_as_the_npy_path(string layout)
    {
        float[] mean = [0.485f, 0.456f, 0.406f], std = [0.229f, 0.224f, 0.225f];
        var images = Folder("images");
        var pixels = WriteImages(Directory.CreateDirectory(Path.Combine(images, "calib")).FullName, 3, 8, 6, seed: 1);
        File.WriteAllText(Path.Combine(images, "preprocess.json"),
            $$"""{ "channels": "bgr", "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225], """ +
            $$"""  "layout": "{{layout}}", "resize": "none" }""");
        // The same data as a tensor, written the way a NumPy user would: BGR, x/255, minus mean, over std.
        var expected = new float[3 * 3 * 6 * 8];
        for (int i = 0; i < 3; i++)
            for (int y = 0; y < 6; y++)
                for (int x = 0; x < 8; x++)
                {
                    var p = pixels[i][y, x];
                    byte[] bgr = [p.B, p.G, p.R];
                    for (int c = 0; c < 3; c++)
                        expected[layout == "nchw" ? ((i * 3 + c) * 6 + y) * 8 + x
                            : ((i * 6 + y) * 8 + x) * 3 + c] = (bgr[c] / 255f - mean[c]) / std[c];
                }
        long[] shape = layout == "nchw" ? [3, 3, 6, 8] : [3, 6, 8, 3];
        var tensors = Folder("tensors");
        WriteNpy(Path.Combine(tensors, "calib_images.npy"), shape, expected);
        long[] input = layout == "nchw" ? [-1, 3, 6, 8] : [-1, 6, 8, 3];
        var fromImages = DataFolder.Load(images, input).Calibration;
        var fromNpy = DataFolder.Load(tensors, input).Calibration;
        Assert.Equal(fromNpy.Shape, fromImages.Shape);
        var a = (float[])fromImages.Values;
        var b = (float[])fromNpy.Values;
        for (int i = 0; i < a.Length; i++) Assert.True(Math.Abs(a[i] - b[i]) <= 1e-5f, $"element {i}: {a[i]} vs {b[i]}");
        Assert.Null(DataFolder.Load(images, input).CalibrationLabels);
    }

    [Fact]
    public void Height_resize_keeps_the_aspect_ratio_and_pads_on_the_right()
    {
        var dir = Folder("lines");
        WriteImages(Directory.CreateDirectory(Path.Combine(dir, "calib")).FullName, 1, 10, 4, seed: 2);
        File.WriteAllText(Path.Combine(dir, "preprocess.json"), """{ "size": [8, 40], "resize": "height", "padValue": -7 }""");
        var t = DataFolder.Load(dir, [-1, 3, -1, -1]).Calibration;
        Assert.Equal(new long[] { 1, 3, 8, 40 }, t.Shape);
        var v = (float[])t.Values;
        Assert.All(Enumerable.Range(20, 20), x => Assert.Equal(-7f, v[x])); // first row: 20 image pixels, then padding
        Assert.All(Enumerable.Range(0, 20), x => Assert.InRange(v[x], 0f, 1f));
    }

    [Fact]
    public void Rotate180_augmentation_adds_turned_over_copies_to_calibration_and_unlabelled_validation()
    {
        var dir = Folder("augment");
        WriteImages(Directory.CreateDirectory(Path.Combine(dir, "calib")).FullName, 2, 5, 3, seed: 9);
        var val = Directory.CreateDirectory(Path.Combine(dir, "val")).FullName;
        WriteImages(val, 1, 5, 3, seed: 10);
        File.WriteAllText(Path.Combine(dir, "preprocess.json"), """{ "resize": "none", "augment": ["rotate180"] }""");
        var data = DataFolder.Load(dir, [-1, 3, 3, 5]);
        Assert.Equal(4, data.Calibration.Shape[0]);
        // Fidelity with the base covers the copies; a labelled image's copy would need a label of its own.
        Assert.Equal(2, data.Validation!.Shape[0]);
        File.WriteAllText(Path.Combine(val, "classes.txt"), "img000.png 0\n");
        Assert.Equal(1, DataFolder.Load(dir, [-1, 3, 3, 5]).Validation!.Shape[0]);
        var v = (float[])data.Calibration.Values;
        const int plane = 15, image = 45;
        for (int i = 0; i < 2; i++)
            for (int c = 0; c < 3; c++)
                for (int k = 0; k < plane; k++) // turning over reverses each channel's pixels
                    Assert.Equal(v[i * image + c * plane + k], v[(i + 2) * image + c * plane + plane - 1 - k]);
    }

    [Fact]
    public void Labels_come_from_class_subfolders_or_classes_txt()
    {
        var dir = Folder("classes");
        foreach (var (split, cls, n) in new[] { ("calib", "cat", 2), ("calib", "dog", 3), ("val", "dog", 1), ("val", "cat", 2) })
            WriteImages(Directory.CreateDirectory(Path.Combine(dir, split, cls)).FullName, n, 4, 4, seed: n);
        var data = DataFolder.Load(dir, [-1, 3, 4, 4]);
        Assert.Equal(new long[] { 0, 0, 1, 1, 1 }, data.CalibrationLabels);
        Assert.Equal(new long[] { 0, 0, 1 }, data.ValidationLabels);
        Assert.Equal(new[] { "cat", "dog" }, data.ClassNames);

        var flat = Folder("flat");
        WriteImages(Directory.CreateDirectory(Path.Combine(flat, "calib")).FullName, 2, 4, 4, seed: 3);
        File.WriteAllText(Path.Combine(flat, "calib", "classes.txt"), "img001.png 4\nimg000.png 7\n");
        Assert.Equal(new long[] { 7, 4 }, DataFolder.Load(flat, [-1, 3, 4, 4]).CalibrationLabels);
    }

    [Fact]
    public void A_flat_folder_is_split_by_a_seed_and_the_split_is_reported()
    {
        var dir = Folder("flat");
        WriteImages(dir, 10, 4, 4, seed: 4);
        var a = DataFolder.Load(dir, [-1, 3, 4, 4], seed: 5);
        var b = DataFolder.Load(dir, [-1, 3, 4, 4], seed: 5);
        Assert.Equal(8, a.Calibration.Shape[0]);
        Assert.Equal(2, a.Validation!.Shape[0]);
        Assert.Contains("seed 5", a.Split);
        Assert.Equal((float[])a.Validation.Values, (float[])b.Validation!.Values);
    }

    public static TheoryData<string> BadFolders => new() { "corrupt image", "wrong size", "missing label", "bad spec", "no data",
        "stray image" };

    [Theory]
    [MemberData(nameof(BadFolders))]
    public void A_bad_data_folder_is_a_coded_error_and_nothing_is_written(string problem)
    {
        var dir = Folder("bad");
        var calib = Directory.CreateDirectory(Path.Combine(dir, "calib")).FullName;
        if (problem != "no data") WriteImages(calib, 2, 4, 4, seed: 6);
        string expectedInMessage = problem switch
        {
            "corrupt image" => Write(Path.Combine(calib, "img001.png"), "not a png at all"),
            "wrong size" => Path.GetFileName(WriteImages(Folder("other"), 1, 5, 4, seed: 7) is var _ ? MoveInto(calib) : ""),
            "missing label" => Write(Path.Combine(calib, "classes.txt"), "img000.png 1\n") is var _ ? "img001.png" : "",
            "bad spec" => Write(Path.Combine(dir, "preprocess.json"), """{ "channels": "cmyk" }""") is var _ ? "cmyk" : "",
            "stray image" => Directory.CreateDirectory(Path.Combine(calib, "cat")) is var _ && WriteImages(Path.Combine(calib, "cat"), 1,
                4, 4, 8) is var _ ? "outside the class" : "",
            _ => "",
        };
        var before = Directory.EnumerateFileSystemEntries(root.FullName, "*", SearchOption.AllDirectories).Order().ToList();
        var e = Assert.Throws<LamdaException>(() => DataFolder.Load(dir, [-1, 3, 4, 4]));
        Assert.Equal(ErrorCodes.BadData, e.Code);
        Assert.Contains(expectedInMessage, e.Message);
        Assert.Equal(before, Directory.EnumerateFileSystemEntries(root.FullName, "*", SearchOption.AllDirectories).Order().ToList());
    }

    static string Write(string path, string text)
    {
        File.WriteAllText(path, text);
        return Path.GetFileName(path);
    }

    /// <summary>Moves the 5x4 image from "other" into calib (the model takes 4x4, and the spec says not to resize).</summary>
    string MoveInto(string calib)
    {
        File.WriteAllText(Path.Combine(Path.GetDirectoryName(calib)!, "preprocess.json"), """{ "resize": "none" }""");
        var target = Path.Combine(calib, "wrong.png");
        File.Move(Path.Combine(root.FullName, "other", "img000.png"), target);
        return target;
    }
}

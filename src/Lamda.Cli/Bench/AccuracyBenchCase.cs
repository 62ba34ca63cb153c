using Lamda.Data;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Processing;

namespace Lamda.Cli.Bench;

/// <summary>
/// One model of the accuracy benchmark: the ONNX file, the input shape its budget holds at (for dynamic inputs), and a
/// data folder in the layout <c>lamda adapt --data</c> reads (docs/dataset-folders.md), made from the shared images.
/// </summary>
/// <param name="Name">the model's name in the table</param>
/// <param name="ModelPath">the ONNX file</param>
/// <param name="InputShape">the --input-shape value, or null for a model with static inputs</param>
/// <param name="DataDirectory">the --data folder</param>
/// <param name="Measure">what accuracy means for it, for the table and the plot</param>
internal sealed record AccuracyBenchCase(string Name, string ModelPath, string? InputShape, string DataDirectory, string Measure)
{
    /// <summary>The models the benchmark knows, in its order.</summary>
    public static readonly string[] Known = ["digits_cnn", "digits_resnet", "ppocr_cls", "ppocr_det", "ppocr_rec"];

    /// <summary>The rec model's file and dictionary in the held-out folder (bench/fetch-heldout.sh).</summary>
    public const string RecModel = "ch_PP-OCRv4_rec_infer.onnx", RecDictionary = "ppocr_keys_v1.txt";

    /// <summary>The case of <paramref name="name"/>, its data folder made under <paramref name="dataRoot"/>.</summary>
    /// <param name="name">one of <see cref="Known"/></param>
    /// <param name="shared">the shared folder (trained/ and real/)</param>
    /// <param name="heldout">the folder with the rec model and its dictionary; needed only for ppocr_rec</param>
    /// <param name="dataRoot">where the data folders are written</param>
    /// <param name="recLines">how many lines of lines-val the rec model is measured on</param>
    public static AccuracyBenchCase Make(string name, string shared, string? heldout, string dataRoot, int recLines)
    {
        string trained = Path.Combine(shared, "trained"), real = Path.Combine(shared, "real");
        string data = Path.Combine(dataRoot, name);
        switch (name)
        {
            case "digits_cnn" or "digits_resnet":
                return new(name, Path.Combine(trained, name + ".onnx"), null, trained, "accuracy (1,000 digits)");
            case "ppocr_cls":
                ClassifierData(real, data);
                return new(name, Path.Combine(real, "ppocr_cls.onnx"), "1,3,48,192", data, "accuracy (300 lines, odd ones turned over)");
            case "ppocr_det":
                Fresh(data);
                Link(Path.Combine(real, "scenes-calib"), Path.Combine(data, "calib"));
                Link(Path.Combine(real, "scenes-val"), Path.Combine(data, "val"));
                File.WriteAllText(Path.Combine(data, DataFolder.SpecFile), """
                    { "size": [320, 320], "channels": "bgr", "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225] }
                    """);
                return new(name, Path.Combine(real, "ppocr_det.onnx"), "1,3,320,320", data, "text-mask IoU with base (24 scenes)");
            case "ppocr_rec":
                var model = heldout != null ? Path.Combine(heldout, RecModel) : null;
                if (model == null || !File.Exists(model))
                    throw new LamdaException(ErrorCodes.FileNotFound,
                        $"ppocr_rec needs --heldout DIR holding {RecModel} and {RecDictionary} (bench/fetch-heldout.sh DIR gets them).");
                RecognizerData(real, Path.Combine(heldout!, RecDictionary), data, recLines);
                return new(name, model, "1,3,48,320", data, $"lines read right ({recLines} lines)");
            default:
                throw new LamdaException(ErrorCodes.BadArgument, $"unknown model '{name}'; use some of {string.Join(",", Known)}.");
        }
    }

    /// <summary>lines-calib as it is (turned-over copies added by the spec), lines-val with every odd line turned over (label 1).</summary>
    static void ClassifierData(string real, string data)
    {
        Fresh(data);
        Link(Path.Combine(real, "lines-calib"), Path.Combine(data, "calib"));
        var val = Directory.CreateDirectory(Path.Combine(data, "val")).FullName;
        var files = ImageFolder.Files(Path.Combine(real, "lines-val"));
        var labels = new List<string>();
        for (int i = 0; i < files.Count; i++)
        {
            var name = Path.GetFileName(files[i]);
            using var image = Image.Load(files[i]);
            if (i % 2 == 1) image.Mutate(m => m.Rotate(RotateMode.Rotate180));
            image.SaveAsPng(Path.Combine(val, name));
            labels.Add($"{name} {i % 2}");
        }
        File.WriteAllLines(Path.Combine(val, DataFolder.LabelsFile), labels);
        File.WriteAllText(Path.Combine(data, DataFolder.SpecFile), """
            { "size": [48, 192], "resize": "height", "channels": "bgr", "mean": [0.5], "std": [0.5], "augment": ["rotate180"] }
            """);
    }

    /// <summary>
    /// lines-calib unlabelled; the first <paramref name="lines"/> lines of lines-val with their texts, and the dictionary.
    /// </summary>
    static void RecognizerData(string real, string dictionary, string data, int lines)
    {
        Fresh(data);
        Link(Path.Combine(real, "lines-calib"), Path.Combine(data, "calib"));
        var val = Directory.CreateDirectory(Path.Combine(data, "val")).FullName;
        var source = Path.Combine(real, "lines-val");
        var files = ImageFolder.Files(source).Take(lines).ToList();
        foreach (var f in files) File.CreateSymbolicLink(Path.Combine(val, Path.GetFileName(f)), f);
        var texts = File.ReadLines(Path.Combine(source, DataFolder.TextsFile)).Take(files.Count);
        File.WriteAllLines(Path.Combine(val, DataFolder.TextsFile), texts);
        File.CreateSymbolicLink(Path.Combine(data, DataFolder.DictionaryFile), dictionary);
        File.WriteAllText(Path.Combine(data, DataFolder.SpecFile), """
            { "size": [48, 320], "resize": "height", "channels": "bgr", "mean": [0.5], "std": [0.5] }
            """);
    }

    static void Fresh(string dir)
    {
        if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        Directory.CreateDirectory(dir);
    }

    static void Link(string target, string link) => Directory.CreateSymbolicLink(link, Path.GetFullPath(target));
}

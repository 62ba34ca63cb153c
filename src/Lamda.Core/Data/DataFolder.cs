using Lamda.Runtime;

namespace Lamda.Data;

/// <summary>
/// The data a user has, from one folder: calibration inputs for fine-tuning and, kept apart, validation inputs for
/// measuring; labels when there are labels. Accepts tensors (calib_images, val_images, val_labels as .npy or .pb), or
/// images in calib/ and val/ (each flat, with an optional classes.txt, or in one subfolder per class), or one flat
/// folder of images split by a seeded draw that <see cref="Split"/> reports. See docs/dataset-folders.md.
/// </summary>
public sealed class DataFolder
{
    /// <summary>Inputs to fine-tune and reconstruct on, in the model input's layout.</summary>
    public required TensorData Calibration { get; init; }
    /// <summary>Labels of the calibration inputs, when the folder has them.</summary>
    public long[]? CalibrationLabels { get; init; }
    /// <summary>Inputs kept apart for measuring fidelity and accuracy; null when the folder has none.</summary>
    public TensorData? Validation { get; init; }
    /// <summary>Labels of the validation inputs, when the folder has them.</summary>
    public long[]? ValidationLabels { get; init; }
    /// <summary>How calibration and validation were told apart, for reports.</summary>
    public required string Split { get; init; }
    /// <summary>Class names by label (from classes.txt or the class subfolders), empty when unknown.</summary>
    public IReadOnlyList<string> ClassNames { get; init; } = [];
    /// <summary>The text of each validation input, for a sequence model (read with a <see cref="DictionaryFile"/>); else null.</summary>
    public IReadOnlyList<string>? ValidationTexts { get; init; }
    /// <summary>The symbols of a CTC sequence output, from <see cref="DictionaryFile"/>; null without one.</summary>
    public Evaluation.CtcAlphabet? Alphabet { get; init; }

    /// <summary>The optional file that says how images are preprocessed (size, mean, scale, layout).</summary>
    public const string SpecFile = "preprocess.json";
    /// <summary>The optional file that names the classes of a flat folder, one a line, in label order.</summary>
    public const string LabelsFile = "classes.txt";
    /// <summary>The text of each image, one a line in file-name order; read when the folder has a <see cref="DictionaryFile"/>.</summary>
    public const string TextsFile = "labels.txt";
    /// <summary>The symbols of a sequence model's CTC output, one a line (class 0 is the blank, then these, then a space).</summary>
    public const string DictionaryFile = "dictionary.txt";

    /// <inheritdoc cref="LoadFolder"/>
    public static DataFolder Load(string dir, long[] inputShape, int seed = 0, double validationShare = 0.2)
    {
        var folder = LoadFolder(dir, inputShape, seed, validationShare);
        var dictionary = Path.Combine(dir, DictionaryFile);
        if (!File.Exists(dictionary) || folder.Validation == null) return folder;
        // Text labels are for measuring only: distillation needs none, so calibration texts are not read.
        var valDir = Path.Combine(dir, "val");
        var texts = Directory.Exists(valDir) ? TextsOf(valDir, ImageFolder.Files(valDir)) : null;
        return new DataFolder
        {
            Calibration = folder.Calibration, CalibrationLabels = folder.CalibrationLabels, Validation = folder.Validation,
            ValidationLabels = folder.ValidationLabels, Split = folder.Split, ClassNames = folder.ClassNames,
            ValidationTexts = texts ?? throw new LamdaException(ErrorCodes.BadData,
                $"{dir}: {DictionaryFile} is given but there is no val/{TextsFile}; give the text of every validation image."),
            Alphabet = Evaluation.CtcAlphabet.Load(dictionary),
        };
    }

    /// <summary>The texts of <c>labels.txt</c> in <paramref name="dir"/>, one per image; null when there is no such file.</summary>
    static string[]? TextsOf(string dir, List<string> files)
    {
        var path = Path.Combine(dir, TextsFile);
        if (!File.Exists(path)) return null;
        var lines = File.ReadAllText(path).Split('\n').Select(l => l.TrimEnd('\r')).ToList();
        if (lines.Count > 0 && lines[^1].Length == 0) lines.RemoveAt(lines.Count - 1);
        if (lines.Count != files.Count)
            throw new LamdaException(ErrorCodes.BadData,
                $"{path}: {lines.Count} lines for {files.Count} images; give the text of each image, one a line in file-name order.");
        return [.. lines];
    }

    /// <param name="inputShape">the model input's shape (-1 where dynamic), which fixes the image size unless the spec gives one</param>
    /// <param name="dir">the data folder</param>
    /// <param name="seed">the seed of the split when the folder has no calib/ and val/</param>
    /// <param name="validationShare">the share of images held out for validation in a split</param>
    static DataFolder LoadFolder(string dir, long[] inputShape, int seed, double validationShare)
    {
        if (!Directory.Exists(dir)) throw new LamdaException(ErrorCodes.FileNotFound, $"{dir}: data folder not found.");
        string? Tensor(string stem) => new[] { ".npy", ".pb" }.Select(e => Path.Combine(dir, stem + e)).FirstOrDefault(File.Exists);
        if (Tensor("calib_images") is { } calib) return FromTensors(dir, calib, Tensor("val_images"), Tensor("val_labels"));
        var spec = File.Exists(Path.Combine(dir, SpecFile)) ? ImagePreprocessing.Load(Path.Combine(dir, SpecFile))
            : new ImagePreprocessing();
        var (height, width) = ImageSize(dir, spec, inputShape);
        string calibDir = Path.Combine(dir, "calib"), valDir = Path.Combine(dir, "val");
        if (Directory.Exists(calibDir))
        {
            var valClasses = Directory.Exists(valDir) ? ClassFolders(valDir) : [];
            var classes = ClassFolders(calibDir).Union(valClasses).Order(StringComparer.Ordinal).ToList();
            var (c, cl) = Images(calibDir, spec, height, width, classes);
            var (v, vl) = Directory.Exists(valDir) ? Images(valDir, ValidationSpec(spec, valDir, classes), height, width, classes)
                : (null, null);
            return new DataFolder { Calibration = c, CalibrationLabels = cl, Validation = v, ValidationLabels = vl,
                Split = "calib/ and val/ folders", ClassNames = classes };
        }
        var files = ImageFolder.Files(dir);
        if (files.Count < 2)
            throw new LamdaException(ErrorCodes.BadData,
                $"{dir}: no data found: give calib_images.npy (or .pb), a calib/ folder of images, or at least two images.");
        var labels = LabelsOf(dir, files);
        var order = Enumerable.Range(0, files.Count).ToArray();
        new Random(seed).Shuffle(order);
        int valCount = Math.Clamp((int)Math.Round(files.Count * validationShare), 1, files.Count - 1);
        var valItems = order[..valCount].Order().ToArray();
        var calibItems = order[valCount..].Order().ToArray();
        return new DataFolder
        {
            Calibration = ImageFolder.LoadAugmented(calibItems.Select(i => files[i]).ToList(), spec, height, width),
            CalibrationLabels = labels == null ? null : Repeat(calibItems.Select(i => labels[i]).ToArray(), spec),
            Validation = ImageFolder.LoadAugmented(valItems.Select(i => files[i]).ToList(),
                labels == null ? spec : spec with { Augment = [] }, height, width),
            ValidationLabels = labels == null ? null : valItems.Select(i => labels[i]).ToArray(),
            Split = $"seeded split (seed {seed}): {calibItems.Length} calibration, {valItems.Length} validation images",
        };
    }

    /// <summary>
    /// Validation images are augmented like the calibration images only when they have no labels: fidelity with the base
    /// then covers the copies too (a direction classifier judged on upright lines alone would pass by always saying
    /// "upright"), while a label of an original need not hold for its copy (a line turned over changes its class).
    /// </summary>
    static ImagePreprocessing ValidationSpec(ImagePreprocessing spec, string valDir, List<string> classes) =>
        classes.Count > 0 || File.Exists(Path.Combine(valDir, LabelsFile)) ? spec with { Augment = [] } : spec;

    /// <summary>
    /// Labels for the augmented copies: the same label again per augmentation (right for flips of a class, not for
    /// orientation).
    /// </summary>
    static long[]? Repeat(long[]? labels, ImagePreprocessing spec) =>
        labels == null || spec.Augment.Length == 0 ? labels : Enumerable.Repeat(labels, spec.Augment.Length + 1).SelectMany(l
            => l).ToArray();

    static DataFolder FromTensors(string dir, string calib, string? val, string? valLabels)
    {
        var c = TensorFile.Read(calib);
        var v = val == null ? null : TensorFile.Read(val);
        long[]? labels = null;
        if (valLabels != null)
        {
            var y = TensorFile.Read(valLabels);
            if (v == null || y.Values is not long[] ys || ys.Length != v.Shape[0])
                throw new LamdaException(ErrorCodes.BadData, $"{dir}: val_labels must be int64 [N] with one label per val_images item.");
            labels = ys;
        }
        return new DataFolder { Calibration = c, Validation = v, ValidationLabels = labels, Split = "calib_images and val_images files" };
    }

    static (int Height, int Width) ImageSize(string dir, ImagePreprocessing spec, long[] input)
    {
        if (spec.Size is { } s) return (s[0], s[1]);
        bool nhwc = spec.Layout == "nhwc";
        long h = input.Length == 4 ? input[nhwc ? 1 : 2] : -1, w = input.Length == 4 ? input[nhwc ? 2 : 3] : -1;
        if (h < 1 || w < 1)
            throw new LamdaException(ErrorCodes.BadData,
                $"{dir}: the model input has no fixed height and width; give \"size\": [H, W] in {SpecFile}.");
        return ((int)h, (int)w);
    }

    static IEnumerable<string> ClassFolders(string dir) => Directory.EnumerateDirectories(dir).Select(d => Path.GetFileName(d)!);

    /// <summary>One folder's images and labels: from class subfolders, else from classes.txt, else none.</summary>
    static (TensorData Images, long[]? Labels) Images(string dir, ImagePreprocessing spec, int height, int width, List<string> classes)
    {
        var subfolders = ClassFolders(dir).ToList();
        if (subfolders.Count > 0)
        {
            if (ImageFolder.Files(dir).FirstOrDefault() is { } stray)
                throw new LamdaException(ErrorCodes.BadData,
                    $"{stray}: image outside the class subfolders of {dir}; move it into its class folder.");
            var items = subfolders.Order(StringComparer.Ordinal)
                .SelectMany(c => ImageFolder.Files(Path.Combine(dir, c)).Select(f => (File: f, Label: (long)classes.IndexOf(c)))).ToList();
            if (items.Count == 0) throw new LamdaException(ErrorCodes.BadData, $"{dir}: the class subfolders hold no PNG or JPEG images.");
            var labels = items.Select(i => i.Label).ToArray();
            return (ImageFolder.LoadAugmented(items.Select(i => i.File).ToList(), spec, height, width), Repeat(labels, spec));
        }
        var files = ImageFolder.Files(dir);
        if (files.Count == 0) throw new LamdaException(ErrorCodes.BadData, $"{dir}: no PNG or JPEG images.");
        return (ImageFolder.LoadAugmented(files, spec, height, width), Repeat(LabelsOf(dir, files), spec));
    }

    /// <summary>Labels from <c>classes.txt</c> ("FILE LABEL" per line, LABEL an integer), or null when there is no such file.</summary>
    static long[]? LabelsOf(string dir, List<string> files)
    {
        var path = Path.Combine(dir, LabelsFile);
        if (!File.Exists(path)) return null;
        var byFile = new Dictionary<string, long>(StringComparer.Ordinal);
        int line = 0;
        foreach (var text in File.ReadLines(path))
        {
            line++;
            if (text.Trim().Length == 0) continue;
            var parts = text.Split([' ', '\t', ','], StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length != 2 || !long.TryParse(parts[1], out var label) || label < 0)
                throw new LamdaException(ErrorCodes.BadData, $"{path}:{line}: expected \"FILE LABEL\" with a non-negative integer label.");
            byFile[parts[0]] = label;
        }
        return files.Select(f => byFile.TryGetValue(Path.GetFileName(f), out var l) ? l
            : throw new LamdaException(ErrorCodes.BadData,
                $"{path}: no label for {Path.GetFileName(f)}; give every image a line.")).ToArray();
    }
}

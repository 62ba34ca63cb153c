using Lamda.Data;
using Lamda.Evaluation;
using Lamda.Graphs;
using Lamda.Runtime;

namespace Lamda.Adaptation;

/// <summary>
/// The data of one adaptation: calibration inputs (for reconstruction and fine-tuning) and validation inputs (for
/// fidelity with the base, and accuracy when they have labels). Read from any folder <see cref="DataFolder"/>
/// accepts, or from the older validation-only layout (val_images and val_labels, no calibration inputs).
/// </summary>
public sealed class AdaptData
{
    /// <summary>Inputs to reconstruct and fine-tune on; null when the folder has only validation data.</summary>
    public TensorData? Calibration { get; init; }
    /// <summary>Labels of the calibration inputs, when the folder has them (accuracy-aware fine-tuning).</summary>
    public long[]? CalibrationLabels { get; init; }
    /// <summary>Inputs the figures are measured on.</summary>
    public required TensorData Validation { get; init; }
    /// <summary>Labels of the validation inputs; with them the report gives accuracy, without them fidelity only.</summary>
    public long[]? ValidationLabels { get; init; }
    /// <summary>How calibration and validation were told apart, for reports.</summary>
    public required string Split { get; init; }
    /// <summary>The text of each validation input, for a sequence model with a CTC output; null otherwise.</summary>
    public IReadOnlyList<string>? ValidationTexts { get; init; }
    /// <summary>The symbols of the CTC output's classes, with <see cref="ValidationTexts"/>.</summary>
    public CtcAlphabet? Alphabet { get; init; }

    /// <summary>True when accuracy can be measured, so the maximum drop applies to it rather than to fidelity.</summary>
    public bool HasLabels => ValidationLabels != null || ValidationTexts != null;

    /// <param name="dir">the data folder</param>
    /// <param name="inputShape">the model input's shape (-1 where dynamic), for resizing images</param>
    /// <param name="seed">the seed of the split when the folder has no separate validation data</param>
    public static AdaptData Load(string dir, long[] inputShape, int seed)
    {
        bool validationOnly = !HasTensor(dir, "calib_images") && HasTensor(dir, "val_images");
        if (validationOnly) return DataSet.Load(dir);
        var folder = DataFolder.Load(dir, inputShape, seed);
        // Without held-out inputs the figures can only be taken on the calibration inputs; the split says so.
        return new AdaptData
        {
            Calibration = folder.Calibration,
            CalibrationLabels = folder.CalibrationLabels,
            Validation = folder.Validation ?? folder.Calibration,
            ValidationLabels = folder.Validation != null ? folder.ValidationLabels : folder.CalibrationLabels,
            Split = folder.Validation != null ? folder.Split : folder.Split + " (no validation inputs: measured on the calibration inputs)",
            ValidationTexts = folder.ValidationTexts,
            Alphabet = folder.Alphabet,
        };
    }

    /// <summary>The older labelled data set: validation with labels, and calibration inputs when it has them.</summary>
    public static implicit operator AdaptData(DataSet set) => new()
    {
        Calibration = set.CalibImages,
        Validation = set.ValImages,
        ValidationLabels = set.ValLabels,
        Split = set.CalibImages != null ? "calib_images and val_images files" : "val_images only (no calibration inputs)",
    };

    static bool HasTensor(string dir, string stem) =>
        File.Exists(Path.Combine(dir, stem + ".npy")) || File.Exists(Path.Combine(dir, stem + ".pb"));

    /// <summary>
    /// Accuracy on the validation inputs: the share of lines read right for text labels (greedy CTC decoding), top-1
    /// accuracy for class labels; null without labels.
    /// </summary>
    /// <param name="model">the ONNX model</param>
    /// <param name="batch">inputs per run (unless the model fixes its batch); 1 for a model that runs only one at a time</param>
    public double? Accuracy(byte[] model, int batch = 16) =>
        ValidationTexts is { } texts && Alphabet is { } alphabet
            ? SequenceAccuracy.Measure(model, Validation, texts, alphabet, batch: batch)
        : ValidationLabels is { } labels ? new DataSet { ValImages = Validation, ValLabels = labels }.Accuracy(model, batch)
        : null;

    /// <summary>
    /// Agreement with the base on the validation inputs: the lowest of the outputs' agreements, since a model is only as
    /// faithful as its worst output.
    /// </summary>
    /// <param name="baseModel">the base model</param>
    /// <param name="model">the model compared with it</param>
    /// <param name="baseGraph">the base's graph, whose outputs are compared</param>
    /// <param name="batch">inputs per run, as for <see cref="Accuracy"/></param>
    public double Fidelity(byte[] baseModel, byte[] model, Graph baseGraph, int batch = 16) =>
        Evaluation.Fidelity.Measure(baseModel, model, baseGraph, Validation, batch: batch).Min(r => r.Agreement);
}

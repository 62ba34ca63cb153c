using Lamda.Runtime;

namespace Lamda.Evaluation;

/// <summary>
/// Reading accuracy of a sequence model with a CTC output [N, T, C]: the share of inputs whose greedy decode equals
/// the label text exactly.
/// </summary>
public static class SequenceAccuracy
{
    /// <summary>Lines read right in one batch of outputs [N, T, C], against the labels of those N inputs.</summary>
    public static int Correct(TensorData outputs, IReadOnlyList<string> labels, CtcAlphabet alphabet, bool ignoreCase = false)
    {
        if (outputs.Shape.Length != 3 || !alphabet.Fits(outputs.Shape[2]))
            throw new LamdaException(ErrorCodes.BadData,
                $"the model's first output is [{string.Join(",", outputs.Shape)}]; text labels with a dictionary of {alphabet.Count} " +
                $"symbols need [N, T, {alphabet.Count + 1}] or [N, T, {alphabet.Count + 2}] (the blank, the symbols, a space). " +
                "Give the model's own dictionary.");
        var values = (float[])outputs.Values;
        int classes = (int)outputs.Shape[2], per = (int)outputs.Shape[1] * classes;
        var comparison = ignoreCase ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal;
        int correct = 0;
        for (int i = 0; i < labels.Count; i++)
            if (string.Equals(CtcDecoder.Decode(values.AsSpan(i * per, per), classes, alphabet), labels[i], comparison)) correct++;
        return correct;
    }

    /// <summary>The share of <paramref name="inputs"/> a model reads as their labels, run in batches of <paramref name="batch"/>.</summary>
    /// <param name="model">the ONNX model; its first output is the sequence</param>
    /// <param name="inputs">the inputs, fed to the model's first input</param>
    /// <param name="labels">one text per input</param>
    /// <param name="alphabet">the symbols of the output's classes</param>
    /// <param name="ignoreCase">compare letters case-insensitively</param>
    /// <param name="batch">inputs per run, unless the model fixes its batch</param>
    public static double Measure(byte[] model, TensorData inputs, IReadOnlyList<string> labels, CtcAlphabet alphabet,
        bool ignoreCase = false, int batch = 16)
    {
        using var runner = new ModelRunner(model);
        long n = inputs.Shape[0];
        batch = (int)(runner.FixedBatch ?? batch);
        int correct = 0;
        for (long start = 0; start < n; start += batch)
        {
            long b = Math.Min(batch, n - start);
            var outputs = runner.Run(new Dictionary<string, TensorData> { [runner.InputNames[0]] = inputs.Rows(start, b) });
            correct += Correct(outputs[runner.OutputNames[0]], labels.Skip((int)start).Take((int)b).ToList(), alphabet, ignoreCase);
        }
        return n == 0 ? 0 : correct / (double)n;
    }
}

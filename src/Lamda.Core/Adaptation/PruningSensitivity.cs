using Lamda.Graphs;
using Lamda.Runtime;

namespace Lamda.Adaptation;

/// <summary>
/// How much a narrowed architecture, with the base's weights transferred and nothing retrained, changes the base's
/// outputs on a few calibration inputs: the squared error of every output relative to its energy, summed over outputs.
/// The search probes each coupled layer group alone with it, so that width goes where it is needed: a uniform factor
/// narrows the recognizer's fragile layers as much as its robust ones, and two thirds of such candidates collapsed.
/// </summary>
internal sealed class PruningSensitivity
{
    /// <summary>Inputs per probe: enough to rank layer groups (the ranking, not the value, is what is used).</summary>
    public const int Inputs = 8;

    readonly TensorData inputs;
    readonly string inputName;
    readonly long batch;
    readonly List<Dictionary<string, TensorData>> reference = [];

    /// <param name="baseModel">the base model, whose outputs are the reference</param>
    /// <param name="calibration">calibration inputs; the first <see cref="Inputs"/> are used</param>
    public PruningSensitivity(Candidate baseModel, TensorData calibration)
    {
        inputs = calibration.Rows(0, Math.Min(Inputs, calibration.Shape[0]));
        using var runner = new ModelRunner(baseModel.Bytes, displayName: "base model");
        inputName = runner.InputNames[0];
        batch = runner.FixedBatch ?? inputs.Shape[0];
        foreach (var rows in Batches()) reference.Add(runner.Run(new Dictionary<string, TensorData> { [inputName] = rows }));
    }

    IEnumerable<TensorData> Batches()
    {
        for (long start = 0; start < inputs.Shape[0]; start += batch)
            yield return inputs.Rows(start, Math.Min(batch, inputs.Shape[0] - start));
    }

    /// <summary>The damage to the outputs of <paramref name="candidate"/>: 0 for the base, about 1 per output that lost it.</summary>
    public double Of(Candidate candidate)
    {
        using var runner = new ModelRunner(candidate.Bytes, displayName: "probed architecture");
        var error = new Dictionary<string, (double Sq, double Energy)>();
        int b = 0;
        foreach (var rows in Batches())
        {
            var outputs = runner.Run(new Dictionary<string, TensorData> { [inputName] = rows });
            foreach (var (name, expected) in reference[b++])
            {
                if (expected.Values is not float[] e || outputs[name].Values is not float[] a) continue;
                var (sq, energy) = error.GetValueOrDefault(name);
                for (int i = 0; i < e.Length; i++)
                {
                    double d = a[i] - (double)e[i];
                    sq += double.IsFinite(d) ? d * d : 1e30;
                    energy += (double)e[i] * e[i];
                }
                error[name] = (sq, energy);
            }
        }
        return error.Values.Sum(x => x.Energy > 0 ? x.Sq / x.Energy : x.Sq);
    }
}

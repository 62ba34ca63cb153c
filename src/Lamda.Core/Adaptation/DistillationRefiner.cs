using Lamda.Graphs;
using Lamda.Runtime;
using Lamda.Training;

namespace Lamda.Adaptation;

/// <summary>What fine-tuning did to the accepted candidate, for the report.</summary>
/// <param name="Steps">steps taken (0 when training was skipped)</param>
/// <param name="Seconds">wall time of the training</param>
/// <param name="FirstLoss">loss of the first batch</param>
/// <param name="LastLoss">loss of the last batch</param>
/// <param name="StoppedByTime">true when the time budget ended it before the step budget</param>
/// <param name="FidelityBefore">agreement with the base on the validation inputs before training</param>
/// <param name="FidelityAfter">the same after training</param>
/// <param name="Skipped">why it did not train, when it did not</param>
public sealed record TrainingSummary(int Steps, double Seconds, double FirstLoss, double LastLoss, bool StoppedByTime,
    double FidelityBefore, double? FidelityAfter, string? Skipped = null)
{
    /// <summary>False when training lowered the fidelity on the validation inputs and the weights from before were kept.</summary>
    public bool Kept { get; init; } = true;
    /// <summary>How it trained other than asked (on single inputs), when it did.</summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public string? Fallback { get; init; }
}

/// <summary>
/// Fine-tunes a candidate that meets the budget by distillation from the base, on the calibration inputs. It starts
/// from the weights the candidate comes with (transferred and reconstructed by least squares), which measured best
/// on the digit models. A model with an operator that has no gradient rule is returned as it is, with the reason.
/// </summary>
internal sealed class DistillationRefiner(AdaptData data, TrainOptions train, IProgress<TrainProgress>? progress = null)
    : ICandidateRefiner
{
    /// <summary>See <see cref="AdaptOptions.BatchIsFree"/>.</summary>
    public bool BatchIsFree { get; init; }

    /// <summary>The summary of the last refinement, which the loop attaches to its trial.</summary>
    public TrainingSummary? Last { get; private set; }

    public WeightStore Refine(Candidate baseModel, Candidate candidate, int seed)
    {
        // The loop may propose an architecture again (its measurement is noisy); training it again would give the same.
        var key = candidate.Hash + "/" + seed;
        if (done.TryGetValue(key, out var hit))
        {
            Last = hit.Summary;
            return hit.Weights;
        }
        var weights = RefineOnce(baseModel, candidate, seed);
        done[key] = (weights, Last!);
        return weights;
    }

    readonly Dictionary<string, (WeightStore Weights, TrainingSummary Summary)> done = [];

    WeightStore RefineOnce(Candidate baseModel, Candidate candidate, int seed)
    {
        var calibration = data.Calibration
            ?? throw new InvalidOperationException("fine-tuning needs calibration inputs; the loop only refines when there are some.");
        double before = data.Fidelity(baseModel.Bytes, candidate.Bytes, baseModel.Graph);
        try
        {
            var (tuned, report) = Train(baseModel, candidate, calibration, seed);
            double after = data.Fidelity(baseModel.Bytes, new Candidate(candidate.Graph, tuned).Bytes, baseModel.Graph);
            // A candidate the reconstruction already made faithful can lose by a short training; the held-out inputs decide.
            bool kept = after >= before;
            Last = new TrainingSummary(report.Steps, report.Elapsed.TotalSeconds, report.FirstLoss, report.LastLoss, report.StoppedByTime,
                before, after) { Fallback = Fallbacks.LastOrDefault() ?? report.Note, Kept = kept };
            Fallbacks.Clear();
            return kept ? tuned : candidate.Weights;
        }
        catch (TrainingDivergedException e)
        {
            // A diverged run says nothing against the candidate: it keeps the weights it came with, and the loop goes on.
            Last = new TrainingSummary(0, 0, double.NaN, double.NaN, false, before, null,
                $"not fine-tuned: {e.Message} The model keeps its transferred (and reconstructed) weights.");
            return candidate.Weights;
        }
        catch (LamdaException e) when (e.Code == ErrorCodes.NoGradient)
        {
            Last = new TrainingSummary(0, 0, double.NaN, double.NaN, false, before, null,
                $"not fine-tuned ({e.Code}): {e.Message} The model keeps its transferred (and reconstructed) weights.");
            return candidate.Weights;
        }
    }

    /// <summary>
    /// Distillation on batches when the batch is free; a graph whose batch of 1 is built into more than its reshapes
    /// fails to run at another batch, and trains on single inputs instead.
    /// </summary>
    (WeightStore, TrainReport) Train(Candidate baseModel, Candidate candidate, TensorData calibration, int seed)
    {
        TrainOptions options = train.StartingAt(DateTime.UtcNow) with { Seed = seed };
        if (BatchIsFree)
            try
            {
                return Distillation.FineTune(Batched(baseModel.Graph), baseModel.Weights, Batched(candidate.Graph), candidate.Weights,
                    candidate.KeptOutputs, calibration, data.CalibrationLabels, options, progress);
            }
            catch (Exception e) when (e is not TrainingDivergedException
                && e is LamdaException { Code: ErrorCodes.RuntimeFailed } or Microsoft.ML.OnnxRuntime.OnnxRuntimeException)
            {
                int batch = train.BatchFor(calibration.Shape);
                Fallbacks.Add($"fine-tuned on single inputs: the model does not run at batch {batch} ({e.Message})");
            }
        return Distillation.FineTune(baseModel.Graph, baseModel.Weights, candidate.Graph, candidate.Weights, candidate.KeptOutputs,
            calibration, data.CalibrationLabels, options, progress);
    }

    // Why the last fine-tuning ran other than asked, for its summary.
    readonly List<string> Fallbacks = [];

    /// <summary>The graph with its first input's batch pinned to the training batch, when the batch is free; else as it is.</summary>
    Graph Batched(Graph graph)
    {
        var dims = graph.Inputs[0].Type.Dims;
        if (!BatchIsFree || graph.Inputs.Count != 1 || dims is not { Length: > 0 } || dims.Any(d => !d.IsKnown)) return graph;
        return graph.WithFirstInputBatch(train.BatchFor(data.Calibration!.Shape));
    }
}

namespace Lamda.Adaptation;

/// <summary>
/// Watches the loop for the search reaching its floor: once the generator offers its smallest architecture
/// (<see cref="Proposal.Smallest"/>) and that measures above the budget, there is nothing smaller to search for. The
/// other smallest architectures are measured at once (<see cref="BudgetFloor"/>): LAMDA012 naming the reachable latency
/// when none fits, or the fastest of them tried next. Without it, shufflenet_v2_x0_5 at 30% on host (a 0.439 ms budget)
/// was offered the same 0.443 ms architecture twelve times and ended in LAMDA013, "reduce the widths".
/// Before the search gets there, a candidate that measures above the budget is a second point beside the base on the line
/// from predicted to measured latency: where that line puts the smallest architecture near the budget, the smallest are
/// measured at once too (<see cref="ExtrapolatedFloorMs"/>); the base's figures are the first point of that line.
/// </summary>
internal sealed class FloorWatch(string modelName, IArchitectureGenerator generator, CandidateEvaluator evaluator, double targetMs,
    string deviceName, Figures baseFigures, IProgress<string>? progress = null)
{
    // A line through two points extrapolates a little either way; within this share under the ceiling it is measured.
    const double Doubt = 0.1;
    bool measured, probed;
    Proposal? pick;
    double? smallestPredictedMs;

    /// <summary>Looks at a judged trial; throws <see cref="ErrorCodes.ImpossibleBudget"/> when the floor is above the budget.</summary>
    /// <param name="trial">the trial just judged</param>
    /// <param name="correction">how the device departs from the predictor so far (measured over predicted)</param>
    /// <returns>
    /// false when searching on is in vain: the floor was measured and the search offers its smallest again (shufflenet
    /// then spent nine more iterations on the same architecture before returning the pick)
    /// </returns>
    public bool Observe(Trial trial, double correction)
    {
        var metric = evaluator.Metric;
        if (metric.Kind != "measured" || trial.Figures is not { } f || metric.Of(f) <= metric.CeilingOf(targetMs)) return true;
        if (!trial.Proposal.Smallest)
        {
            // Only the refusal, no pick: the smallest architecture is no candidate while the search has wider ones to try.
            if (!probed && ExtrapolatedFloorMs(f) is var line && line > metric.CeilingOf(targetMs) * (1 - Doubt))
            {
                probed = true;
                progress?.Report($"the line from the base through this candidate puts the smallest architecture at {line:F3} ms, "
                    + $"against the budget's ceiling of {metric.CeilingOf(targetMs):F3} ms; measuring the smallest architectures");
                BudgetFloor.Check(modelName, generator, evaluator, correction, targetMs, deviceName, measureAnyway: true);
            }
            return true;
        }
        if (measured) return false;
        measured = true;
        if (BudgetFloor.Check(modelName, generator, evaluator, correction, targetMs, deviceName, measureAnyway: true) is { } fastest
            && fastest.Text != trial.Proposal.Text)
            pick = new Proposal(fastest.Text, Note: $"the fastest of the smallest architectures as measured ({fastest.Ms:F3} ms)")
                { Smallest = true };
        return true;
    }

    /// <summary>
    /// The smallest architecture's latency on the line through the base's and this candidate's (predicted, measured):
    /// a cost per run that the prediction misses weighs most on the smallest models (on a tiny model the base's ratio
    /// of measured to predicted put the floor under a budget that nothing measured under). 0 when there is no line.
    /// </summary>
    double ExtrapolatedFloorMs(Figures candidate)
    {
        if (generator is not IBoundedGenerator bounded || baseFigures.MeasuredMs is not { } baseMs) return 0;
        double p = candidate.PredictedMs, m = candidate.MeasuredMs!.Value, span = baseFigures.PredictedMs - p;
        if (span < 0.1 * baseFigures.PredictedMs || baseMs <= m) return 0;
        // Smallest() predicts every width multiple: once per adaptation, not once per candidate over the ceiling.
        smallestPredictedMs ??= bounded.Smallest().PredictedMs;
        return m + (smallestPredictedMs.Value - p) * (baseMs - m) / span;
    }

    /// <summary>The architecture to try next instead of asking the generator, once; null otherwise.</summary>
    public Proposal? TakePick()
    {
        var next = pick;
        pick = null;
        return next;
    }
}

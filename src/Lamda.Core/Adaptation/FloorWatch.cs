namespace Lamda.Adaptation;

/// <summary>
/// Watches the loop for the search reaching its floor: once the generator offers its smallest architecture
/// (<see cref="Proposal.Smallest"/>) and that measures above the budget, there is nothing smaller to search for. The
/// other smallest architectures are measured at once (<see cref="BudgetFloor"/>): LAMDA012 naming the reachable latency
/// when none fits, or the fastest of them tried next. Without it, shufflenet_v2_x0_5 at 30% on host (a 0.439 ms budget)
/// was offered the same 0.443 ms architecture twelve times and ended in LAMDA013, "reduce the widths".
/// </summary>
internal sealed class FloorWatch(string modelName, IArchitectureGenerator generator, CandidateEvaluator evaluator, double targetMs,
    string deviceName)
{
    bool measured;
    Proposal? pick;

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
        if (!trial.Proposal.Smallest || metric.Kind != "measured" || trial.Figures is not { } f
            || metric.Of(f) <= metric.CeilingOf(targetMs))
            return true;
        if (measured) return false;
        measured = true;
        if (BudgetFloor.Check(modelName, generator, evaluator, correction, targetMs, deviceName, measureAnyway: true) is { } fastest
            && fastest.Text != trial.Proposal.Text)
            pick = new Proposal(fastest.Text, Note: $"the fastest of the smallest architectures as measured ({fastest.Ms:F3} ms)")
                { Smallest = true };
        return true;
    }

    /// <summary>The architecture to try next instead of asking the generator, once; null otherwise.</summary>
    public Proposal? TakePick()
    {
        var next = pick;
        pick = null;
        return next;
    }
}

namespace Lamda.Adaptation;

/// <summary>
/// The one place a budget below what Lamda can reach is refused (<see cref="ErrorCodes.ImpossibleBudget"/>),
/// before the first iteration: the generator's smallest architecture, corrected by what the base measured,
/// and measured itself when the prediction alone says it is too slow; again as soon as the search offers its smallest
/// architecture and that measures above the budget (<see cref="FloorWatch"/>), and after a loop that found nothing.
/// </summary>
internal static class BudgetFloor
{
    // measureAnyway: measure the smallest architectures even when the prediction says they fit, once the search has
    // nothing smaller to offer and its smallest measured above the budget, where the prediction's error is the budget's
    // margin (shufflenet_v2_x0_5 at 30% on host: twelve candidates at 0.229 ms against a 0.229 ms budget, then LAMDA013
    // telling the user to reduce widths).
    /// <returns>
    /// when the smallest architectures were measured, the fastest of them (the budget's margin is then that measurement),
    /// for the loop to try; null when nothing was measured
    /// </returns>
    public static (string Text, double Ms)? Check(string modelName, IArchitectureGenerator generator, CandidateEvaluator evaluator,
        double correction, double targetMs, string deviceName, bool measureAnyway = false)
    {
        if (generator is not IBoundedGenerator bounded) return null;
        var (smallestPredicted, smallestText) = bounded.Smallest();
        if (!measureAnyway && smallestPredicted * correction <= targetMs) return null;
        var metric = evaluator.Metric;
        // The fastest of the generator's smallest architectures as measured, not the predictor's smallest: on digits_cnn
        // (0.14 ms) the predicted smallest measured 0.011-0.015 ms where another width reached 0.008 ms.
        var measured = (metric.Kind == "measured" ? bounded.SmallestCandidates() : [(smallestPredicted, smallestText)])
            .Select(c => (c.Text, Candidate: evaluator.Realize(c.Text, [])))
            .Where(c => c.Candidate != null)
            .Select(c => (c.Text, Ms: metric.Of(metric.Evaluate(c.Candidate!))))
            .ToList();
        (string Text, double Ms)? fastest = measured.Count > 0 ? measured.MinBy(c => c.Ms) : null;
        double reachable = fastest?.Ms ?? smallestPredicted * correction;
        if (reachable > targetMs)
            throw new LamdaException(ErrorCodes.ImpossibleBudget,
                $"{modelName}: the budget of {targetMs:F3} ms on {deviceName} is below the smallest architecture Lamda can make " +
                $"from this model ({reachable:F3} ms, {metric.Kind}); raise the budget to at least that.");
        return fastest;
    }
}

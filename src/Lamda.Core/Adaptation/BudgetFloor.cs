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
        var metric = evaluator.Metric;
        // What the loop accepts is the budget's upper share (a measurement keeps a margin for noise): a floor between that
        // and the budget is out of reach too (shufflenet_v2_x0_5 at 30% on host: its smallest measured 0.443 ms against a
        // 0.444 ms budget that accepts at most 0.435, and the loop ended in LAMDA013 after 12 iterations).
        double ceiling = metric.CeilingOf(targetMs);
        var (smallestPredicted, smallestText) = bounded.Smallest();
        if (!measureAnyway && smallestPredicted * correction <= ceiling) return null;
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
        if (reachable > ceiling)
            throw new LamdaException(ErrorCodes.ImpossibleBudget,
                $"{modelName}: the budget of {targetMs:F3} ms on {deviceName} leaves no margin for noise over the smallest " +
                $"architecture Lamda can make from this model ({reachable:F3} ms, {metric.Kind}; a result must measure at most " +
                $"{metric.UpperShare:P0} of the budget); raise the budget to at least {reachable / metric.UpperShare:F3} ms.");
        return fastest;
    }
}

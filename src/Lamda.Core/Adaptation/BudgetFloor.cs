namespace Lamda.Adaptation;

/// <summary>
/// The one place a budget below what Lamda can reach is refused (<see cref="ErrorCodes.ImpossibleBudget"/>),
/// before the first iteration: the generator's smallest architecture, corrected by what the base measured,
/// and measured itself when the prediction alone says it is too slow.
/// </summary>
internal static class BudgetFloor
{
    public static void Check(string modelName, IArchitectureGenerator generator, CandidateEvaluator evaluator, double correction,
        double targetMs, string deviceName)
    {
        if (generator is not IBoundedGenerator bounded) return;
        var (smallestPredicted, smallestText) = bounded.Smallest();
        if (smallestPredicted * correction <= targetMs) return;
        var metric = evaluator.Metric;
        var smallest = evaluator.Realize(smallestText, []);
        double reachable = smallest != null ? metric.Of(metric.Evaluate(smallest)) : smallestPredicted * correction;
        if (reachable > targetMs)
            throw new LamdaException(ErrorCodes.ImpossibleBudget,
                $"{modelName}: the budget of {targetMs:F3} ms on {deviceName} is below the smallest architecture Lamda can make " +
                $"from this model ({reachable:F3} ms, {metric.Kind}); raise the budget to at least that.");
    }
}

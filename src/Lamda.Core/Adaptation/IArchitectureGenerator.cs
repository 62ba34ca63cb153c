namespace Lamda.Adaptation;

/// <summary>What the loop asks a generator for: a target, the predicted latency to aim at, and the feedback so far.</summary>
/// <param name="TargetMs">the budget, in the loop's metric (measured on host, predicted elsewhere)</param>
/// <param name="AimPredictedMs">the predicted latency to aim at so that the metric lands inside the accepted band</param>
/// <param name="Feedback">the diagnostics of the previous candidate (empty at the first iteration)</param>
/// <param name="Iteration">the loop's iteration, from 1</param>
/// <param name="BaseMs">the base model's latency in the loop's metric</param>
internal sealed record GenerationRequest(
    double TargetMs, double AimPredictedMs, IReadOnlyList<Diagnostic> Feedback, int Iteration, double BaseMs = 0)
{
    /// <summary>
    /// The aim for one candidate family (see <see cref="Proposal.Family"/>): the loop aims a family that has been
    /// measured from its own measurements, any other at <see cref="AimPredictedMs"/>. Null in a request made by
    /// hand, which aims every family at <see cref="AimPredictedMs"/>.
    /// </summary>
    public Func<string, double>? FamilyAim { get; init; }

    public double AimFor(string family) => FamilyAim?.Invoke(family) ?? AimPredictedMs;

    /// <summary>
    /// The rejected candidates nearest the band on either side, once there is one on each (null before, and in a
    /// request made by hand): a generator that made both may answer with an architecture between them.
    /// </summary>
    public Bracket? Bracket { get; init; }
}

/// <summary>One answer of a generator: an architecture in LamdaText and what the generator knows about it.</summary>
/// <param name="Text">the architecture, which the loop validates like any other</param>
/// <param name="Family">
/// the candidate family, or null: candidates of one family depart from the predictor in the same way on a real
/// device (for the search generator: the channel multiple its widths are rounded to, and the blocks it
/// dropped), so the loop calibrates its aim per family
/// </param>
/// <param name="Note">a line for the report about this answer, or null</param>
internal sealed record Proposal(string Text, string? Family = null, string? Note = null)
{
    /// <summary>Problems the generator itself found in this answer (for example between slices); they count like the loop's own.</summary>
    public IReadOnlyList<Diagnostic> Diagnostics { get; init; } = [];

    /// <summary>Something the report must say about the run as a whole (for example a fallback), said once.</summary>
    public string? Warning { get; init; }

    /// <summary>
    /// The lock file this answer replays, or null. A locked architecture is the only answer there is: the loop
    /// judges it once, and a failure tells the user to delete the lock rather than to raise the budget.
    /// </summary>
    public string? LockFile { get; init; }

    /// <summary>
    /// True when the generator had nothing that fits the aim and answers with its smallest architecture: if that measures
    /// above the budget, searching further is in vain (<see cref="FloorWatch"/>).
    /// </summary>
    public bool Smallest { get; init; }
}

/// <summary>Turns a base architecture plus constraints into a new architecture, in LamdaText.</summary>
internal interface IArchitectureGenerator
{
    /// <summary>The generator that produced the last answer (a generator may hand over to another).</summary>
    string Name { get; }

    Proposal Generate(GenerationRequest request);
}

/// <summary>
/// A generator that knows the smallest architecture it can propose: the loop refuses a budget below it before
/// the first iteration (<see cref="ErrorCodes.ImpossibleBudget"/>) instead of searching in vain.
/// </summary>
internal interface IBoundedGenerator : IArchitectureGenerator
{
    /// <summary>The smallest architecture, with its predicted latency.</summary>
    (double PredictedMs, string Text) Smallest();

    /// <summary>
    /// The smallest architecture of each kind the generator makes (one per width multiple, and without blocks): the
    /// predictor's smallest is not always the device's fastest, as tiny widths that are not aligned run slower.
    /// </summary>
    IEnumerable<(double PredictedMs, string Text)> SmallestCandidates() => [Smallest()];
}

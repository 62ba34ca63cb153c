namespace Lamda.Adaptation;

/// <summary>A candidate's predicted latency and what the loop's metric measured for it.</summary>
internal readonly record struct Observation(double Predicted, double Measured);

/// <summary>
/// Where the loop aims the generator: the predicted latency expected to land on the goal in the loop's metric.
/// It learns from every measured candidate (the ratio of measured to predicted, and a secant between the two
/// measurements that bracket the goal), per candidate family, and nudges the aim when the generator repeats
/// itself. Pure arithmetic on (predicted, measured) pairs, with no model and no runtime.
/// </summary>
internal sealed class AimController
{
    /// <summary>The nudge stops the loop outside this band: no new candidate is left in either direction.</summary>
    const double MinNudge = 0.7, MaxNudge = 1.35;

    readonly List<Observation> observed = [];
    // The base model, at full width, belongs to every family: a family's own list starts from it.
    readonly Observation[] baseline;
    readonly Dictionary<string, (List<Observation> Observed, double Correction)> families = [];

    /// <param name="goal">the metric to land on (the middle of the accepted band)</param>
    /// <param name="baseline">the base model's observation, when the metric is measured</param>
    public AimController(double goal, Observation? baseline = null)
    {
        Goal = goal;
        this.baseline = baseline is { } b ? [b] : [];
        observed.AddRange(this.baseline);
        Correction = baseline is { } first ? first.Measured / first.Predicted : 1;
    }

    public double Goal { get; private set; }

    /// <summary>The ratio of measured to predicted latency of the last measured candidate (1 while nothing is measured).</summary>
    public double Correction { get; private set; }

    /// <summary>The factor on the aim while the generator repeats itself (1 after a new candidate).</summary>
    public double Nudge { get; private set; } = 1;

    /// <summary>The predicted latency to aim at, over every measurement.</summary>
    public double Aim => Secant(Goal, Correction, observed) * Nudge;

    /// <summary>
    /// The aim for one family: from its own measurements once it has been measured (the predictor's error
    /// differs between families: misaligned channel counts run slower than predicted), the common aim before.
    /// </summary>
    public double AimFor(string family) =>
        (families.TryGetValue(family, out var f) ? Secant(Goal, f.Correction, f.Observed) : Secant(Goal, Correction, observed)) * Nudge;

    /// <summary>Learns from one measured candidate of a family (or of none).</summary>
    /// <remarks>
    /// A candidate measured again (the same architecture, so the same prediction) replaces its earlier observation:
    /// the metric pools its measurements, and two points at one prediction would make a flat secant.
    /// </remarks>
    public void Observe(Observation o, string? family)
    {
        Correction = o.Measured / o.Predicted;
        Replace(observed, o);
        if (family == null) return;
        var own = families.TryGetValue(family, out var f) ? f.Observed : [.. baseline];
        Replace(own, o);
        families[family] = (own, o.Measured / o.Predicted);
    }

    static void Replace(List<Observation> list, Observation o)
    {
        list.RemoveAll(x => x.Predicted == o.Predicted);
        list.Add(o);
    }

    /// <summary>
    /// Raises the goal after a candidate in the band lost too much accuracy: the next one is aimed halfway between
    /// it and the budget's upper edge, the widest candidate the budget still allows. The goal only rises, so every
    /// further accuracy failure moves it closer to the edge. False when no room is left above the candidate.
    /// </summary>
    /// <param name="metricMs">the rejected candidate's latency in the loop's metric</param>
    /// <param name="ceilingMs">the highest latency the budget accepts in that metric</param>
    public bool Widen(double metricMs, double ceilingMs)
    {
        if (metricMs >= ceilingMs) return false;
        Goal = Math.Max(Goal, (metricMs + ceilingMs) / 2);
        return true;
    }

    /// <summary>
    /// Moves on after a rejected candidate. A repeated one nudges the aim towards the goal, to explore its
    /// neighbours (the predictor may rank near neighbours differently from the device); false when the nudge
    /// has left its band, so the generator has nothing new to offer.
    /// </summary>
    /// <param name="repeated">whether the generator had proposed this architecture before</param>
    /// <param name="metricMs">the candidate's latency in the loop's metric, or null when it was not evaluated</param>
    public bool Advance(bool repeated, double? metricMs)
    {
        if (!repeated)
        {
            Nudge = 1;
            return true;
        }
        Nudge *= metricMs is { } m && m < Goal ? 1.04 : 0.96;
        return Nudge is >= MinNudge and <= MaxNudge;
    }

    /// <summary>
    /// Predicted latency expected to measure <paramref name="goal"/>: interpolated between the two observations
    /// that bracket it (a secant step, stable where the predictor's error varies with width), or the goal over
    /// the correction while the goal is not bracketed.
    /// </summary>
    public static double Secant(double goal, double correction, IReadOnlyList<Observation> observed)
    {
        var below = observed.Where(o => o.Measured <= goal).OrderByDescending(o => o.Measured).Cast<Observation?>().FirstOrDefault();
        var above = observed.Where(o => o.Measured > goal).OrderBy(o => o.Measured).Cast<Observation?>().FirstOrDefault();
        if (below is { } lo && above is { } hi && hi.Measured > lo.Measured)
            return lo.Predicted + (goal - lo.Measured) * (hi.Predicted - lo.Predicted) / (hi.Measured - lo.Measured);
        return goal / correction;
    }
}

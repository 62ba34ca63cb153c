namespace Lamda.Adaptation;

/// <summary>One evaluated architecture at one side of the accepted band: its LamdaText and its latency in the loop's metric.</summary>
internal readonly record struct BracketEnd(string Text, double Ms);

/// <summary>
/// Two rejected candidates, one on either side of the band (see <see cref="BracketTracker"/>), and the goal between
/// them. A generator that made both can propose an architecture between them, closer than the predictor can
/// resolve: on host, candidates predicted 0.4% apart measured 4% apart (mnasnet0_5 at 70%, 0.865 and 0.900 ms
/// around a band of 0.870-0.898 ms), and twelve iterations aimed by the prediction alone never landed in the band.
/// </summary>
internal sealed record Bracket(BracketEnd Under, BracketEnd Over, double GoalMs)
{
    /// <summary>Where the goal lies between the two ends, in the metric: 0 at the one under, 1 at the one over.</summary>
    public double Fraction => Math.Clamp((GoalMs - Under.Ms) / (Over.Ms - Under.Ms), 0, 1);
}

/// <summary>
/// Keeps the rejected candidates in the order they were judged and names the bracket: the latest under the ceiling
/// and the latest over it. The latest, not the nearest, so that an architecture proposed between two ends replaces
/// the end on its side even when it measured beyond it (the device is not monotone in the layers moved: a width
/// off the device's alignment can cost more than a wider aligned one), and every next answer lies strictly between
/// architectures that are closer to each other than before, as in a bisection.
/// </summary>
internal sealed class BracketTracker
{
    readonly List<BracketEnd> seen = [];

    /// <summary>Learns a rejected candidate's latency in the loop's metric (a candidate judged again moves to the end).</summary>
    public void Observe(string text, double ms)
    {
        seen.RemoveAll(e => e.Text == text);
        seen.Add(new BracketEnd(text, ms));
    }

    /// <summary>
    /// The bracket around <paramref name="goalMs"/>, or null until a candidate has been rejected on each side.
    /// </summary>
    /// <param name="goalMs">the latency the loop aims at</param>
    /// <param name="ceilingMs">the highest latency the budget accepts; a candidate above it is over</param>
    public Bracket? Around(double goalMs, double ceilingMs)
    {
        var under = seen.LastOrDefault(e => e.Ms <= ceilingMs);
        var over = seen.LastOrDefault(e => e.Ms > ceilingMs);
        return under.Text != null && over.Text != null ? new Bracket(under, over, goalMs) : null;
    }
}

using System.Globalization;
using System.Text.RegularExpressions;

namespace Lamda.Adaptation;

/// <summary>
/// A budget as the user gave it: absolute milliseconds, or a share of the base model's latency on the device
/// (<c>50%</c>: twice as fast), which the loop resolves once it has evaluated the base.
/// </summary>
internal sealed record LatencyTarget(double? Ms, double? Fraction)
{
    public override string ToString() => Fraction is { } f
        ? (f * 100).ToString("0.###", CultureInfo.InvariantCulture) + "%"
        : Ms!.Value.ToString("0.##########", CultureInfo.InvariantCulture) + "ms";
}

/// <summary>A latency budget from text such as <c>5ms</c>, <c>500us</c>, <c>0.02s</c> or <c>50%</c>.</summary>
internal static partial class LatencyBudget
{
    [GeneratedRegex(@"^\s*([0-9]+(?:\.[0-9]+)?)\s*%\s*$")]
    private static partial Regex PercentPattern();

    /// <summary>An absolute or relative budget; throws <see cref="ErrorCodes.BadBudget"/> for anything else.</summary>
    public static LatencyTarget Parse(string text)
    {
        var m = PercentPattern().Match(text ?? "");
        if (!m.Success) return new LatencyTarget(ParseMs(text!), null);
        var v = double.Parse(m.Groups[1].Value, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture);
        if (v <= 0 || v > 100)
            throw new LamdaException(ErrorCodes.BadBudget,
                $"latency budget '{text}' is not valid; a relative budget is a share of the base model's latency "
                + "above 0% and at most 100%, such as 50%.");
        return new LatencyTarget(null, v / 100);
    }

    [GeneratedRegex(@"^\s*([0-9]+(?:\.[0-9]+)?)\s*(ms|us|µs|s)\s*$", RegexOptions.IgnoreCase)]
    private static partial Regex Pattern();

    /// <summary>Milliseconds; throws <see cref="ErrorCodes.BadBudget"/> for anything else.</summary>
    public static double ParseMs(string text)
    {
        var m = Pattern().Match(text ?? "");
        double v = 0;
        bool parsed = m.Success && double.TryParse(m.Groups[1].Value, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out v);
        if (!parsed || v <= 0)
            throw new LamdaException(ErrorCodes.BadBudget, $"latency budget '{text}' is not valid; write a positive number with a unit: "
                + "5ms, 500us or 0.02s, or a share of the base model's latency: 50%.");
        return m.Groups[2].Value.ToLowerInvariant() switch { "s" => v * 1000, "us" or "µs" => v / 1000, _ => v };
    }

    /// <summary>A fraction from text such as <c>2%</c> or <c>0.02</c>.</summary>
    public static double ParseFraction(string text, string what)
    {
        var t = (text ?? "").Trim();
        bool percent = t.EndsWith('%');
        if (double.TryParse(percent ? t[..^1] : t, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var v) && v >= 0)
            return percent ? v / 100 : v;
        throw new LamdaException(ErrorCodes.BadArgument,
            $"{what} '{text}' is not valid; write a percentage such as 2% (or a fraction such as 0.02).");
    }
}

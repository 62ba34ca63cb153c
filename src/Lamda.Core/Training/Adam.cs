namespace Lamda.Training;

/// <summary>Adam (Kingma and Ba) with bias correction, over named float arrays updated in place.</summary>
internal sealed class Adam(double beta1 = 0.9, double beta2 = 0.999, double epsilon = 1e-8)
{
    readonly Dictionary<string, (float[] M, float[] V)> moments = new(StringComparer.Ordinal);
    int t;

    /// <summary>One update of every weight in <paramref name="gradients"/> with learning rate <paramref name="rate"/>.</summary>
    public void Step(IDictionary<string, float[]> weights, IReadOnlyDictionary<string, float[]> gradients, double rate)
    {
        t++;
        double correction1 = 1 - Math.Pow(beta1, t), correction2 = 1 - Math.Pow(beta2, t);
        foreach (var (name, g) in gradients)
        {
            var w = weights[name];
            if (!moments.TryGetValue(name, out var mv)) moments[name] = mv = (new float[w.Length], new float[w.Length]);
            for (int i = 0; i < w.Length; i++)
            {
                double m = mv.M[i] = (float)(beta1 * mv.M[i] + (1 - beta1) * g[i]);
                double v = mv.V[i] = (float)(beta2 * mv.V[i] + (1 - beta2) * g[i] * g[i]);
                w[i] -= (float)(rate * (m / correction1) / (Math.Sqrt(v / correction2) + epsilon));
            }
        }
    }
}

/// <summary>Cosine decay from the base rate to zero over the planned steps (or the planned time).</summary>
internal static class CosineSchedule
{
    /// <summary>The rate at <paramref name="step"/> of <paramref name="total"/> steps.</summary>
    public static double Rate(double baseRate, int step, int total) =>
        total <= 1 ? baseRate : AtFraction(baseRate, step / (double)total);

    /// <summary>The rate once <paramref name="done"/> (0 to 1) of the run's budget is spent.</summary>
    public static double AtFraction(double baseRate, double done) =>
        baseRate * 0.5 * (1 + Math.Cos(Math.PI * Math.Clamp(done, 0, 1)));
}

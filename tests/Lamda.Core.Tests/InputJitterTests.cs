using Lamda.Graphs;
using Lamda.Runtime;
using Lamda.Training;

namespace Lamda.Tests;

/// <summary>The training batches' perturbation: seeded, shape-keeping, and the input left as it was.</summary>
public class InputJitterTests
{
    static TensorData Images(int seed, int n = 4)
    {
        var rng = new Random(seed);
        return new TensorData(DataTypes.Float, [n, 3, 48, 64], Enumerable.Range(0, n * 3 * 48 * 64).Select(_ => rng.NextSingle()).ToArray());
    }

    [Fact]
    public void The_same_seed_gives_the_same_batch_and_another_seed_another()
    {
        var images = Images(1);
        var before = ((float[])images.Values).ToArray();
        var a = (float[])new InputJitter(3).Apply(images).Values;
        var b = (float[])new InputJitter(3).Apply(images).Values;
        var c = (float[])new InputJitter(4).Apply(images).Values;
        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
        Assert.NotEqual(before, a);
        Assert.Equal(before, (float[])images.Values);
        Assert.All(a, v => Assert.True(float.IsFinite(v)));
    }

    [Fact]
    public void A_flat_image_stays_flat_and_content_moves_by_at_most_the_stretch_and_the_shift()
    {
        var flat = new TensorData(DataTypes.Float, [2, 1, 10, 100], Enumerable.Repeat(0.25f, 2000).ToArray());
        Assert.All((float[])new InputJitter(0).Apply(flat).Values, v => Assert.Equal(0.25f, v, 6));
        // One bright column at x = 50: after the jitter the brightest column is within 15% of 50 (the stretch, from the
        // left edge) and 3 pixels (the shift) of it.
        for (int seed = 0; seed < 8; seed++)
        {
            var moved = Row((float[])new InputJitter(seed).Apply(Columns(50)).Values);
            int brightest = Enumerable.Range(0, 100).MaxBy(x => moved[x]);
            Assert.InRange(brightest, 50 * (1 - InputJitter.Stretch) - 3, 50 * (1 + InputJitter.Stretch) + 3);
        }
    }

    [Fact]
    public void The_width_is_stretched_or_narrowed_by_the_seed_and_not_beyond_the_largest_stretch()
    {
        // Two bright columns 60 pixels apart: a shift keeps their distance, a stretch scales it.
        var distances = Enumerable.Range(0, 8).Select(seed =>
        {
            var row = Row((float[])new InputJitter(seed).Apply(Columns(20, 80)).Values);
            var peaks = Enumerable.Range(1, 98).Where(x => row[x] > 0.3 && row[x] >= row[x - 1] && row[x] >= row[x + 1]).ToList();
            return peaks[^1] - peaks[0];
        }).ToList();
        Assert.All(distances, d => Assert.InRange(d, 60 * (1 - InputJitter.Stretch) - 1, 60 * (1 + InputJitter.Stretch) + 1));
        Assert.True(distances.Distinct().Count() > 2, string.Join(", ", distances));
    }

    /// <summary>One 10x100 image, dark but for full-height bright columns at <paramref name="xs"/>.</summary>
    static TensorData Columns(params int[] xs)
    {
        var line = new float[10 * 100];
        foreach (int x in xs)
            for (int y = 0; y < 10; y++) line[y * 100 + x] = 1;
        return new TensorData(DataTypes.Float, [1, 1, 10, 100], line);
    }

    static float[] Row(float[] image) => image[(5 * 100)..(6 * 100)];

    [Fact]
    public void Only_images_are_perturbed()
    {
        var vectors = new TensorData(DataTypes.Float, [4, 10], Enumerable.Range(0, 40).Select(i => (float)i).ToArray());
        Assert.Same(vectors, new InputJitter(0).Apply(vectors));
    }
}

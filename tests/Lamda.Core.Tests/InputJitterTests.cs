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
    public void A_flat_image_stays_flat_and_the_shift_moves_content_by_a_few_pixels()
    {
        var flat = new TensorData(DataTypes.Float, [2, 1, 10, 100], Enumerable.Repeat(0.25f, 2000).ToArray());
        Assert.All((float[])new InputJitter(0).Apply(flat).Values, v => Assert.Equal(0.25f, v, 6));
        // One bright column at x = 50: after the jitter the brightest column is within the largest shift of it.
        var line = new float[1 * 1 * 10 * 100];
        for (int y = 0; y < 10; y++) line[y * 100 + 50] = 1;
        var moved = (float[])new InputJitter(5).Apply(new TensorData(DataTypes.Float, [1, 1, 10, 100], line)).Values;
        int brightest = Enumerable.Range(0, 100).MaxBy(x => moved[5 * 100 + x]);
        Assert.InRange(brightest, 50 - 3, 50 + 3);
    }

    [Fact]
    public void Only_images_are_perturbed()
    {
        var vectors = new TensorData(DataTypes.Float, [4, 10], Enumerable.Range(0, 40).Select(i => (float)i).ToArray());
        Assert.Same(vectors, new InputJitter(0).Apply(vectors));
    }
}

using Lamda.Graphs;
using Lamda.Runtime;
using Lamda.Training;

namespace Lamda.Tests;

/// <summary>CutMix along the width: seeded, full-height strips from other images of the batch, the batch left as it was.</summary>
public class StripMixTests
{
    /// <summary>Image i is filled with the value i + 1 in every channel, so each pixel says which image it came from.</summary>
    static TensorData Constant(int n, int c = 3, int h = 8, int w = 40) => new(DataTypes.Float, [n, c, h, w],
        Enumerable.Range(0, n).SelectMany(i => Enumerable.Repeat(i + 1f, c * h * w)).ToArray());

    [Fact]
    public void Mixed_images_get_one_full_height_strip_of_another_image_and_the_rest_stays()
    {
        const int n = 16, c = 3, h = 8, w = 40;
        var batch = Constant(n, c, h, w);
        var before = ((float[])batch.Values).ToArray();
        var mixed = (float[])new StripMix(7).Apply(batch).Values;
        Assert.Equal(before, (float[])batch.Values);
        int changed = 0;
        for (int i = 0; i < n; i++)
        {
            // The columns of image i that hold another image's value: the same in every row and channel, contiguous.
            var columns = Enumerable.Range(0, w).Where(x => mixed[(i * c) * h * w + x] != i + 1).ToList();
            for (int ch = 0; ch < c; ch++)
                for (int y = 0; y < h; y++)
                    for (int x = 0; x < w; x++)
                    {
                        float v = mixed[((i * c + ch) * h + y) * w + x];
                        Assert.Equal(columns.Contains(x), v != i + 1);
                        Assert.Equal(mixed[(i * c) * h * w + x], v);
                    }
            if (columns.Count == 0) continue;
            changed++;
            Assert.Equal(columns.Count, columns[^1] - columns[0] + 1);
            Assert.InRange(columns.Count, (int)Math.Floor(StripMix.MinShare * w), (int)Math.Ceiling(StripMix.MaxShare * w));
            Assert.InRange(mixed[(i * c) * h * w + columns[0]], 1, n);
        }
        Assert.True(changed > 0);
    }

    [Fact]
    public void About_the_stated_share_of_images_is_mixed()
    {
        var mix = new StripMix(11);
        var batch = Constant(16, c: 1, h: 2, w: 40);
        int mixed = 0, total = 0;
        for (int b = 0; b < 50; b++)
        {
            var values = (float[])mix.Apply(batch).Values;
            for (int i = 0; i < 16; i++, total++)
                if (values.Skip(i * 80).Take(80).Any(v => v != i + 1)) mixed++;
        }
        Assert.InRange(mixed / (double)total, StripMix.Probability - 0.05, StripMix.Probability + 0.05);
    }

    [Fact]
    public void The_same_seed_gives_the_same_batch_and_another_seed_another()
    {
        var batch = Constant(16);
        Assert.Equal((float[])new StripMix(3).Apply(batch).Values, (float[])new StripMix(3).Apply(batch).Values);
        Assert.NotEqual((float[])new StripMix(3).Apply(batch).Values, (float[])new StripMix(4).Apply(batch).Values);
    }

    [Fact]
    public void A_single_image_or_a_batch_of_vectors_is_left_alone()
    {
        var one = Constant(1);
        Assert.Same(one, new StripMix(0).Apply(one));
        var vectors = new TensorData(DataTypes.Float, [4, 10], new float[40]);
        Assert.Same(vectors, new StripMix(0).Apply(vectors));
    }
}

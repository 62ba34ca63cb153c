using Lamda.Graphs;
using Lamda.Runtime;
using Lamda.Training;

namespace Lamda.Tests;

/// <summary>Packing right-padded images: seeded, another image's content after a word's gap, the batch left as it was.</summary>
public class PaddingFillTests
{
    const int C = 3, H = 8, W = 64;

    /// <summary>
    /// Image i holds i + 1 + x / 1000 + y / 100000 in its first widths[i] columns (a pixel says which image, which column and
    /// which row it came from) and 0 after.
    /// </summary>
    static TensorData Lines(int[] widths)
    {
        var values = new float[widths.Length * C * H * W];
        for (int i = 0; i < widths.Length; i++)
            for (int ch = 0; ch < C; ch++)
                for (int y = 0; y < H; y++)
                    for (int x = 0; x < widths[i]; x++) values[((i * C + ch) * H + y) * W + x] = Value(i, x, y);
        return new TensorData(DataTypes.Float, [widths.Length, C, H, W], values);
    }

    static float Value(int image, int x, int y) => image + 1 + x / 1000f + y / 100000f;

    [Fact]
    public void The_content_width_is_what_lies_left_of_the_trailing_columns_of_one_value()
    {
        var widths = new[] { 10, 40, W, 1 };
        var values = (float[])Lines(widths).Values;
        for (int i = 0; i < widths.Length; i++) Assert.Equal(widths[i], PaddingFill.ContentWidth(values, i, C, H, W));
        // A last column of one value is taken for padding.
        for (int ch = 0; ch < C; ch++)
            for (int y = 0; y < H; y++) values[((2 * C + ch) * H + y) * W + W - 1] = 7f;
        Assert.Equal(W - 1, PaddingFill.ContentWidth(values, 2, C, H, W));
    }

    [Fact]
    public void Padded_images_get_another_images_content_after_a_gap_and_their_own_stays()
    {
        var widths = new[] { 10, 20, 30, 12, 50, 64, 8, 16, 25, 33, 41, 14, 9, 22, 18, 27 };
        var batch = Lines(widths);
        var before = ((float[])batch.Values).ToArray();
        var filled = (float[])new PaddingFill(3).Apply(batch).Values;
        Assert.Equal(before, (float[])batch.Values);
        int packed = 0;
        for (int i = 0; i < widths.Length; i++)
        {
            float At(int ch, int y, int x) => filled[((i * C + ch) * H + y) * W + x];
            for (int ch = 0; ch < C; ch++)
                for (int y = 0; y < H; y++)
                    for (int x = 0; x < W; x++)
                    {
                        // Every channel is the same, and the image's own content stays.
                        Assert.Equal(At(0, y, x), At(ch, y, x));
                        if (x < widths[i]) Assert.Equal(Value(i, x, y), At(ch, y, x));
                    }
            var pasted = Enumerable.Range(widths[i], W - widths[i]).Where(x => At(0, 0, x) != 0).ToList();
            if (pasted.Count == 0) continue;
            packed++;
            Assert.True(W - widths[i] - H / 4 >= H, "only an image with room for a gap and a square of its height is filled");
            int start = pasted[0], gap = start - widths[i];
            Assert.InRange(gap, H / 4, H);
            Assert.Equal(pasted.Count, pasted[^1] - start + 1);
            // The donor's first columns, in order, no more than it has.
            int donor = (int)Math.Floor(At(0, 0, start)) - 1;
            Assert.NotEqual(i, donor);
            Assert.InRange(pasted.Count, 1, widths[donor]);
            for (int k = 0; k < pasted.Count; k++)
                for (int y = 0; y < H; y++) Assert.Equal(Value(donor, k, y), At(0, y, start + k));
        }
        Assert.InRange(packed, 4, widths.Length - 1);
        Assert.Equal(filled, (float[])new PaddingFill(3).Apply(batch).Values);
        Assert.NotEqual(filled, (float[])new PaddingFill(4).Apply(batch).Values);
    }

    [Fact]
    public void Images_without_padding_are_left_as_they_are()
    {
        var batch = Lines([W, W, W, W]);
        Assert.Equal((float[])batch.Values, (float[])new PaddingFill(0).Apply(batch).Values);
    }
}

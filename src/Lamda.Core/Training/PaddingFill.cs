using Lamda.Graphs;
using Lamda.Runtime;

namespace Lamda.Training;

/// <summary>
/// Seeded packing of right-padded images for distillation: an image whose right part is padding (a text line resized
/// to the model's height and padded to its width, say) gets the content of another image of the batch pasted after its
/// own, a word's gap apart, as sequence packing does for text. The teacher labels the packed image as it is. Half of
/// the pixels of the recognizer's 48x320 calibration inputs were padding, and a step costs the same whatever its pixels
/// hold, so distillation spent half its time learning that padding reads as nothing.
/// </summary>
internal sealed class PaddingFill(int seed)
{
    /// <summary>
    /// Share of the images with room that are filled: the rest keep their padding, as the model meets it when deployed.
    /// </summary>
    public const double Probability = 0.75;

    readonly Random rng = new(seed ^ 0x51F7);

    /// <summary>A filled copy of <paramref name="batch"/> (donors are taken from the batch as given); the batch is not changed.</summary>
    public TensorData Apply(TensorData batch)
    {
        if (!StripMix.Applies(batch.Shape) || batch.Values is not float[] source) return batch;
        long n = batch.Shape[0], c = batch.Shape[1], h = batch.Shape[2], w = batch.Shape[3];
        var content = Enumerable.Range(0, (int)n).Select(i => ContentWidth(source, i, c, h, w)).ToArray();
        var result = (float[])source.Clone();
        for (int i = 0; i < n; i++)
        {
            // A gap between a quarter and all of the height: about a space between words in a line of text.
            int gap = (int)(h / 4 + rng.Next((int)(h - h / 4 + 1)));
            int room = (int)(w - content[i] - gap);
            long donor = BatchColumns.OtherImage(rng, i, n);
            // Room for less than a square of the height holds no more than a cut character.
            if (rng.NextDouble() >= Probability || room < h) continue;
            int width = Math.Min(content[donor], room);
            BatchColumns.Copy(source, donor, 0, result, i, content[i] + gap, width, c, h, w);
        }
        return new TensorData(DataTypes.Float, batch.Shape.ToArray(), result);
    }

    /// <summary>
    /// The width of image <paramref name="i"/> left of its padding: the trailing columns that hold one value in every row
    /// and channel, the last column's, do not count. An image whose last column varies has no padding.
    /// </summary>
    internal static int ContentWidth(float[] images, long i, long c, long h, long w)
    {
        long Index(long ch, long y, long x) => ((i * c + ch) * h + y) * w + x;
        float pad = images[Index(0, 0, w - 1)];
        long x = w;
        while (x > 0 && IsPadding(x - 1)) x--;
        return (int)x;

        bool IsPadding(long column)
        {
            for (long ch = 0; ch < c; ch++)
                for (long y = 0; y < h; y++)
                    if (images[Index(ch, y, column)] != pad) return false;
            return true;
        }
    }
}

namespace Lamda.Training;

/// <summary>
/// What the batch augmentations that paste one image's columns into another (<see cref="StripMix"/>, <see cref="PaddingFill"/>)
/// share: drawing the donor among the other images, and copying full-height columns of every channel in an NCHW batch.
/// </summary>
internal static class BatchColumns
{
    /// <summary>Another image of a batch of <paramref name="n"/> (at least two), drawn uniformly.</summary>
    public static long OtherImage(Random rng, long i, long n) => (i + 1 + rng.Next((int)n - 1)) % n;

    /// <summary>
    /// Copies columns [<paramref name="fromX"/>, + <paramref name="width"/>) of image <paramref name="donor"/> in
    /// <paramref name="source"/> to columns from <paramref name="toX"/> of image <paramref name="image"/> in
    /// <paramref name="target"/>, in every channel and row of a batch with <paramref name="c"/> channels of
    /// <paramref name="h"/> x <paramref name="w"/>.
    /// </summary>
    public static void Copy(float[] source, long donor, long fromX, float[] target, long image, long toX, int width, long c, long h,
        long w)
    {
        for (long ch = 0; ch < c; ch++)
            for (long y = 0; y < h; y++)
                Array.Copy(source, ((donor * c + ch) * h + y) * w + fromX, target, ((image * c + ch) * h + y) * w + toX, width);
    }
}

using Lamda.Graphs;
using Lamda.Runtime;

namespace Lamda.Training;

/// <summary>
/// Seeded square crops of NCHW images, for distilling a fully convolutional model at a smaller size than the one it
/// runs at: a step costs about (crop / size)^2 of a full-size step, and the teacher labels the same crop.
/// </summary>
internal sealed class CropSampler(int side, int seed)
{
    readonly Random rng = new(seed);

    /// <summary>Side of the crops.</summary>
    public int Side => side;

    /// <summary>Whether inputs of this shape are cropped: 4-D, both spatial dims known and larger than the side.</summary>
    public static bool Applies(long[] shape, int side) => shape.Length == 4 && shape[2] > side && shape[3] > side;

    /// <summary>Rows <paramref name="items"/> of <paramref name="images"/>, each cut at its own seeded offset.</summary>
    public TensorData Gather(TensorData images, IReadOnlyList<int> items)
    {
        long c = images.Shape[1], h = images.Shape[2], w = images.Shape[3];
        var source = (float[])images.Values;
        var result = new float[items.Count * c * side * side];
        for (int i = 0; i < items.Count; i++)
        {
            int top = rng.Next((int)(h - side + 1)), left = rng.Next((int)(w - side + 1));
            for (long ch = 0; ch < c; ch++)
                for (int y = 0; y < side; y++)
                    Array.Copy(source, ((items[i] * c + ch) * h + top + y) * w + left, result, ((i * c + ch) * side + y) * side, side);
        }
        return new TensorData(DataTypes.Float, [items.Count, c, side, side], result);
    }

    /// <summary>The graph with its first input's height and width set to the crop side.</summary>
    public Graph AtCropSize(Graph graph)
    {
        var g = graph.Clone();
        var dims = g.Inputs[0].Type.Dims!;
        g.Inputs[0] = g.Inputs[0] with { Type = g.Inputs[0].Type.WithDims([dims[0], dims[1], new Dim(side), new Dim(side)]) };
        return g;
    }
}

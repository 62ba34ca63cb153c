using Lamda.Graphs;
using Lamda.Runtime;
using Lamda.Training;

namespace Lamda.Tests;

/// <summary>Distillation on seeded square crops: the crops are windows of the images, repeatable for a seed.</summary>
public class CropSamplerTests
{
    static TensorData Images(int n, int c, int h, int w) =>
        new(DataTypes.Float, [n, c, h, w], Enumerable.Range(0, n * c * h * w).Select(i => (float)i).ToArray());

    [Fact]
    public void Crops_are_windows_of_the_images_and_seeded()
    {
        var images = Images(3, 2, 9, 7);
        var a = new CropSampler(4, seed: 5).Gather(images, [2, 0]);
        var b = new CropSampler(4, seed: 5).Gather(images, [2, 0]);
        var c = new CropSampler(4, seed: 6);
        Assert.Equal([2, 2, 4, 4], a.Shape);
        Assert.Equal((float[])a.Values, (float[])b.Values);
        var draws = Enumerable.Range(0, 5).Select(_ => (float[])c.Gather(images, [2, 0]).Values);
        Assert.Contains(draws, d => !d.SequenceEqual((float[])a.Values));
        // Each crop is one window: consecutive pixels of a row, rows w apart, channels h*w apart, of its own image.
        var v = (float[])a.Values;
        for (int i = 0; i < 2; i++)
        {
            float origin = v[i * 32];
            int image = (int)origin / (2 * 9 * 7);
            Assert.Equal(i == 0 ? 2 : 0, image);
            for (int ch = 0; ch < 2; ch++)
                for (int y = 0; y < 4; y++)
                    for (int x = 0; x < 4; x++)
                        Assert.Equal(origin + ch * 63 + y * 7 + x, v[i * 32 + ch * 16 + y * 4 + x]);
        }
    }

    [Fact]
    public void Only_larger_images_are_cropped()
    {
        Assert.True(CropSampler.Applies([2, 3, 640, 640], 320));
        Assert.False(CropSampler.Applies([2, 3, 48, 192], 320));
        Assert.False(CropSampler.Applies([2, 10], 320));
    }

    [Fact]
    public void Crops_cap_the_pixels_of_a_step()
    {
        var options = new TrainOptions { BatchSize = 16, CropSize = 320 };
        Assert.Equal(4, options.BatchFor([19, 3, 640, 640]));       // 4 crops of 320x320
        Assert.Equal(16, options.BatchFor([100, 1, 28, 28]));        // not cropped: the batch asked for
        Assert.Equal(16, (options with { CropSize = 160 }).BatchFor([19, 3, 640, 640]));
        Assert.Equal(8, (options with { CropSize = 160, BatchSize = 8 }).BatchFor([19, 3, 640, 640]));
        Assert.Equal(1, (options with { CropBatchPixels = 10 }).BatchFor([19, 3, 640, 640]));
    }

    [Fact]
    public void A_fully_convolutional_model_trains_on_crops()
    {
        var rng = new Random(3);
        var inputs = new TensorData(DataTypes.Float, [4, 2, 6, 6], Enumerable.Range(0, 4 * 72).Select(_ => rng.NextSingle()).ToArray());
        var teacher = SigmoidLossTests.Head(seed: 1, scale: 1f);
        var student = SigmoidLossTests.Head(seed: 2, scale: 1f);
        var options = new TrainOptions { Steps = 3, BatchSize = 2, CropSize = 4, Seed = 1 };
        var (a, report) = Distillation.FineTune(teacher.Graph, teacher.Weights, student.Graph, student.Weights, null, inputs, null, options);
        var (b, _) = Distillation.FineTune(teacher.Graph, teacher.Weights, student.Graph, student.Weights, null, inputs, null, options);
        Assert.Equal(4, report.CropSide);
        Assert.Null(report.Note);
        Assert.Equal(3, report.Steps);
        // The phases cover the steps: none negative, together no more than the run.
        var p = report.Phases;
        Assert.True(p.Batch > TimeSpan.Zero && p.Gradient > TimeSpan.Zero && p.Update >= TimeSpan.Zero);
        Assert.True(p.Batch + p.Gradient + p.Update <= report.Elapsed);
        Assert.True(a.Tensors.All(kv => kv.Value.RawData.Equals(b.Tensors[kv.Key].RawData)));
        var (_, full) = Distillation.FineTune(teacher.Graph, teacher.Weights, student.Graph, student.Weights, null, inputs, null,
            options with { CropSize = null });
        Assert.Null(full.CropSide);
    }
}

using Lamda.Graphs;
using Lamda.Runtime;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using SixLabors.ImageSharp.Processing;

namespace Lamda.Data;

/// <summary>Reads PNG and JPEG files into one model-input tensor [N, C, H, W] (or [N, H, W, C]) with ImageSharp.</summary>
internal static class ImageFolder
{
    static readonly string[] Extensions = [".png", ".jpg", ".jpeg"];

    public static bool IsImage(string path) => Extensions.Contains(Path.GetExtension(path).ToLowerInvariant());

    /// <summary>The image files directly in <paramref name="dir"/>, in ordinal name order.</summary>
    public static List<string> Files(string dir) =>
        Directory.EnumerateFiles(dir).Where(IsImage).Order(StringComparer.Ordinal).ToList();

    /// <summary>The images, then one transformed copy of all of them per entry of <see cref="ImagePreprocessing.Augment"/>.</summary>
    public static TensorData LoadAugmented(IReadOnlyList<string> files, ImagePreprocessing spec, int height, int width)
    {
        var parts = new List<TensorData> { Load(files, spec, height, width) };
        parts.AddRange(spec.Augment.Select(a => Load(files, spec, height, width, a)));
        if (parts.Count == 1) return parts[0];
        return TensorData.Stack(parts);
    }

    /// <param name="transform">"rotate180" or "hflip", applied before resizing; null for none</param>
    /// <param name="files">the image files, in order</param>
    /// <param name="spec">how the images are preprocessed</param>
    /// <param name="height">the height the images are resized to</param>
    /// <param name="width">the width the images are resized to</param>
    public static TensorData Load(IReadOnlyList<string> files, ImagePreprocessing spec, int height, int width, string? transform = null)
    {
        int c = spec.ChannelCount;
        long per = (long)c * height * width;
        var values = new float[files.Count * per];
        for (int i = 0; i < files.Count; i++) Fill(files[i], spec, height, width, transform, values.AsSpan((int)(i * per), (int)per));
        long[] shape = spec.Layout == "nhwc" ? [files.Count, height, width, c] : [files.Count, c, height, width];
        return new TensorData(DataTypes.Float, shape, values);
    }

    static void Fill(string file, ImagePreprocessing spec, int height, int width, string? transform, Span<float> target)
    {
        using var image = Read(file);
        if (transform == "rotate180") image.Mutate(m => m.Rotate(RotateMode.Rotate180));
        else if (transform == "hflip") image.Mutate(m => m.Flip(FlipMode.Horizontal));
        int w = Fit(image, file, spec, height, width);
        int c = spec.ChannelCount;
        bool nhwc = spec.Layout == "nhwc";
        target.Fill(spec.PadValue);
        for (int y = 0; y < height; y++)
            for (int x = 0; x < w; x++)
            {
                var p = image[x, y];
                Span<float> pixel = spec.Channels switch
                {
                    "gray" => [(0.299f * p.R + 0.587f * p.G + 0.114f * p.B)],
                    "bgr" => [p.B, p.G, p.R],
                    _ => [p.R, p.G, p.B],
                };
                if (spec.Channels == "gray" && p.R == p.G && p.G == p.B) pixel[0] = p.R; // exact for grayscale files
                for (int k = 0; k < c; k++)
                {
                    float mean = spec.Mean[spec.Mean.Length == 1 ? 0 : k], std = spec.Std[spec.Std.Length == 1 ? 0 : k];
                    int at = nhwc ? (y * width + x) * c + k : (k * height + y) * width + x;
                    target[at] = (pixel[k] * spec.Scale - mean) / std;
                }
            }
    }

    static Image<Rgb24> Read(string file)
    {
        try { return Image.Load<Rgb24>(file); }
        catch (Exception e) when (e is UnknownImageFormatException or InvalidImageContentException or NotSupportedException or IOException)
        {
            throw new LamdaException(ErrorCodes.BadData, $"{file}: not a readable PNG or JPEG image ({e.Message}). Replace or remove it.",
                e);
        }
    }

    /// <summary>Resizes in place as the spec says; returns the width of the image content (the rest is padding).</summary>
    static int Fit(Image<Rgb24> image, string file, ImagePreprocessing spec, int height, int width)
    {
        switch (spec.Resize)
        {
            case ResizeMode.None:
                if (image.Height != height || image.Width != width)
                    throw new LamdaException(ErrorCodes.BadData,
                        $"{file}: image is {image.Width}x{image.Height}, the model input {width}x{height}; " +
                        "resize the images or set \"resize\" in preprocess.json.");
                return width;
            case ResizeMode.Height:
                int w = Math.Clamp((int)Math.Ceiling(image.Width * (double)height / image.Height), 1, width);
                if (image.Width != w || image.Height != height) image.Mutate(m => m.Resize(w, height));
                return w;
            default:
                if (image.Width != width || image.Height != height) image.Mutate(m => m.Resize(width, height));
                return width;
        }
    }
}

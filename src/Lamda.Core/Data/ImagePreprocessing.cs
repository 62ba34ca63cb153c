using System.Text.Json;
using System.Text.Json.Serialization;

namespace Lamda.Data;

/// <summary>How an image is fitted to the model input's height and width.</summary>
internal enum ResizeMode
{
    /// <summary>Scaled to exactly the input size (aspect ratio not kept).</summary>
    Stretch,
    /// <summary>Scaled to the input height keeping the aspect ratio, width capped at the input width, padded on the right.</summary>
    Height,
    /// <summary>Not resized: every image must already have the input size.</summary>
    None,
}

/// <summary>
/// Turns 8-bit images into model inputs: value = (pixel * Scale - Mean[c]) / Std[c] per channel c, in the channel
/// order and layout the model expects. Read from <c>preprocess.json</c> in a data folder; the names are documented in
/// docs/dataset-folders.md.
/// </summary>
internal sealed record ImagePreprocessing
{
    /// <summary>[height, width]; null takes the model input's (which must then be fixed).</summary>
    public int[]? Size { get; init; }
    public ResizeMode Resize { get; init; } = ResizeMode.Stretch;
    /// <summary>"rgb", "bgr" or "gray".</summary>
    public string Channels { get; init; } = "rgb";
    public float Scale { get; init; } = 1f / 255;
    public float[] Mean { get; init; } = [0f];
    public float[] Std { get; init; } = [1f];
    /// <summary>"nchw" or "nhwc".</summary>
    public string Layout { get; init; } = "nchw";
    /// <summary>Value of padded pixels (Height mode), after normalization.</summary>
    public float PadValue { get; init; }

    /// <summary>
    /// Extra calibration copies of every image: "rotate180", "hflip". Never applied to validation. The teacher labels
    /// the copies, so an orientation classifier can learn both classes from upright calibration images alone.
    /// </summary>
    public string[] Augment { get; init; } = [];

    public int ChannelCount => Channels == "gray" ? 1 : 3;

    static readonly JsonSerializerOptions Json = new()
    {
        PropertyNameCaseInsensitive = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase) },
    };

    public static ImagePreprocessing Load(string path)
    {
        ImagePreprocessing? spec;
        try { spec = JsonSerializer.Deserialize<ImagePreprocessing>(File.ReadAllText(path), Json); }
        catch (JsonException e)
        {
            throw new LamdaException(ErrorCodes.BadData,
                $"{path}: not a valid preprocessing spec ({e.Message}). See docs/dataset-folders.md.", e);
        }
        return (spec ?? new ImagePreprocessing()).Validated(path);
    }

    public ImagePreprocessing Validated(string where)
    {
        string? problem = null;
        if (Channels is not ("rgb" or "bgr" or "gray")) problem = $"channels \"{Channels}\" (use rgb, bgr or gray)";
        else if (Layout is not ("nchw" or "nhwc")) problem = $"layout \"{Layout}\" (use nchw or nhwc)";
        else if (Size is { } s && (s.Length != 2 || s.Any(d => d < 1))) problem = "size (give [height, width])";
        else if (Mean.Length is not 1 && Mean.Length != ChannelCount) problem = $"mean (give 1 or {ChannelCount} values)";
        else if (Std.Length is not 1 && Std.Length != ChannelCount || Std.Any(v
            => v == 0)) problem = $"std (give 1 or {ChannelCount} non-zero values)";
        else if (Augment.FirstOrDefault(a
            => a is not ("rotate180" or "hflip")) is { } unknown) problem = $"augment \"{unknown}\" (use rotate180 or hflip)";
        if (problem != null) throw new LamdaException(ErrorCodes.BadData, $"{where}: bad {problem}. See docs/dataset-folders.md.");
        return this;
    }
}

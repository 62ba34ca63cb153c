using Lamda.Adaptation;
using Lamda.Build;
using Lamda.Latency;

namespace Lamda.Build.Tests;

/// <summary>
/// The cache key covers everything that changes an adapted model: here, the data folder's tree and the training settings.
/// </summary>
public class CacheKeyTests : IDisposable
{
    readonly string dir = Directory.CreateTempSubdirectory("lamda-cachekey-").FullName;

    public void Dispose()
    {
        Directory.Delete(dir, recursive: true);
        GC.SuppressFinalize(this);
    }

    AdaptRequest Request(string data) => new()
    {
        ModelPath = Path.Combine(Lamda.Tests.Shared.RepoRoot, "samples", "models", "tinynet.onnx"),
        Latency = LatencyBudget.Parse("60%"),
        Device = "jetson-nano",
        DataDirectory = data,
    };

    [Fact]
    public void TheKeyChangesWithTheDataAndTheTrainingSettings()
    {
        var data = Directory.CreateDirectory(Path.Combine(dir, "data")).FullName;
        var calib = Directory.CreateDirectory(Path.Combine(data, "calib")).FullName;
        File.WriteAllBytes(Path.Combine(calib, "a.png"), [1, 2, 3]);
        var request = Request(data);
        var key = CacheKey.Compute(request);
        Assert.Equal(key, CacheKey.Compute(Request(data)));

        // An image in a subfolder changes, by content alone (same size).
        File.WriteAllBytes(Path.Combine(calib, "a.png"), [1, 2, 4]);
        File.SetLastWriteTimeUtc(Path.Combine(calib, "a.png"), DateTime.UtcNow.AddMinutes(1));
        var changedData = CacheKey.Compute(request);
        Assert.NotEqual(key, changedData);
        File.WriteAllBytes(Path.Combine(data, "preprocess.json"), "{}"u8.ToArray());
        Assert.NotEqual(changedData, CacheKey.Compute(request));

        var keys = new[]
        {
            CacheKey.Compute(request),
            CacheKey.Compute(request with { TrainTime = "3m" }),
            CacheKey.Compute(request with { TrainTime = "5m" }),
            CacheKey.Compute(request with { TrainSteps = 50 }),
            CacheKey.Compute(request with { Train = false }),
        };
        Assert.Equal(keys.Length, keys.Distinct().Count());
    }

    [Fact]
    public void TheTrainingSettingsReachTheTool()
    {
        var request = Request(dir) with { Train = false };
        Assert.Contains("--no-train", request.ToArguments());
        var timed = Request(dir) with { TrainTime = "3m", TrainSteps = 40 };
        var args = timed.ToArguments().ToList();
        Assert.Equal("3m", args[args.IndexOf("--train-time") + 1]);
        Assert.Equal("40", args[args.IndexOf("--train-steps") + 1]);
        Assert.DoesNotContain("--no-train", args);
    }
}

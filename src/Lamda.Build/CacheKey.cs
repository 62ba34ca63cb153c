using System.Security.Cryptography;
using System.Text;
using Lamda.Adaptation;
using Lamda.Latency;
using Microsoft.Extensions.Caching.Memory;

namespace Lamda.Build;

/// <summary>
/// The content address of an adapted model: everything that can change the result. File hashes are kept in a
/// memory cache keyed by path, size and time stamp, so repeated builds served by the same MSBuild node do not
/// hash unchanged files again.
/// </summary>
internal static class CacheKey
{
    // 3: the data folder's subfolders and the fine-tuning settings are part of the key.
    // 4: the fine-tuning defaults changed (600 steps at 2e-3, crops, the logit form of the sigmoid KL), and a key
    //    that says "default" must not find a model trained with the old ones.
    // 5: crops are batched by pixels (4 of 320x320 a step by default, not 16).
    // 6: with calibration data the search spreads the widths by each layer group's sensitivity; the default
    //    fine-tuning time is 4 minutes, and its batches of images are jittered.
    // 7: batches of images are mixed (strips of other images of the batch), the rate warms up over 20 steps and is
    //    judged on the first batch again, and host profiles are calibration revision 9: format 6 was written before
    //    them, and a default key must not find what the old training made.
    // 8: the default fine-tuning time is 8 minutes, a rate that makes the loss climb is halved, not quartered, a run
    //    that diverges after its first steps goes back to its best weights, the settled check allows 1.25 times the first
    //    batch's starting loss, and the widths' spreading power is chosen per model (0.75 or 0.5).
    // 9: the default fine-tuning budget is 1200 steps or 7 minutes, and host profiles are calibration revision 11.
    // 10: host profiles are calibration revision 12, and the milder spreading power is kept unless the stronger one's first
    //     answer agrees better by more than 2 points.
    // 11: batches of right-padded images have other images set in their padding (PaddingFill), and host profiles are
    //     calibration revision 13.
    // 12: without a time budget fine-tuning gets what remains of 10 minutes from the start of the run (not 7 minutes), and
    //     the depthwise and pointwise weight gradients are computed in another (exact) form.
    // 13: the KL on a Softmax output is taken at temperature 2 on the logits, a batch is trained as shards, and the search
    //     may keep a least share of every layer group (a third spreading); host profiles are calibration revision 14.
    // 14: a first measurement just outside the band is measured again before it is judged, and host profiles are calibration
    //     revision 15.
    // 15: the default fine-tuning budget is 2400 steps (or the rest of 10 minutes), and host profiles are calibration
    //     revision 16.
    public const string Format = "lamda-cache/15";
    static readonly MemoryCache FileHashes = new(new MemoryCacheOptions { SizeLimit = 4096 });

    public static string Compute(AdaptRequest r)
    {
        // A lock decides the architecture (no generator, no language model); its content is part of the key.
        var generator = r.FromLock != null ? "lock:" + HashFile(r.FromLock) : r.Generator;
        var llm = r.FromLock == null && r.LlmModel is { Length: > 0 } l ? HashFile(l) + " context " + (r.LlmContext ?? "default") : "-";
        var text = new StringBuilder()
            .AppendLine(Format)
            .AppendLine($"lamda {LamdaPaths.Version}")
            .AppendLine($"model {HashFile(r.ModelPath)}")
            .AppendLine($"latency {r.Latency}")
            .AppendLine($"device {DeviceIdentity(r.Device)}")
            .AppendLine($"generator {generator}")
            .AppendLine($"seed {r.Seed}")
            .AppendLine($"max-accuracy-drop {r.MaxAccuracyDrop}")
            .AppendLine($"data {(r.DataDirectory is { Length: > 0 } d ? HashDirectory(d) : "-")}")
            .AppendLine($"llm {llm}")
            .AppendLine($"input-shape {r.InputShape ?? "-"}")
            .AppendLine($"train {(r.Train ? "on" : "off")} time {r.TrainTime ?? "default"} steps {r.TrainSteps?.ToString() ?? "default"}");
        return Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString())), 0, 16).ToLowerInvariant();
    }

    /// <summary>
    /// A profile file by content; a built-in by name (profiles are versioned with Lamda); host by machine and calibration
    /// revision, so that a model adapted with an older calibration is not served (until revision 16 each revision bumped
    /// <see cref="Format"/> by hand, and revisions 17 and 18 did not).
    /// </summary>
    static string DeviceIdentity(string device)
    {
        if (File.Exists(device)) return "file " + HashFile(device);
        if (device == DeviceCatalog.Host) return $"host {ProfileBuilder.MachineDescription()} calibration {ProfileBuilder.Revision}";
        return "builtin " + device;
    }

    public static string HashFile(string path)
    {
        var info = new FileInfo(path);
        var key = $"{info.FullName}|{info.Length}|{info.LastWriteTimeUtc.Ticks}";
        if (FileHashes.TryGetValue(key, out string? hash) && hash != null) return hash;
        using var stream = File.OpenRead(path);
        hash = Convert.ToHexString(SHA256.HashData(stream)).ToLowerInvariant();
        FileHashes.Set(key, hash, new MemoryCacheEntryOptions { Size = 1 });
        return hash;
    }

    /// <summary>Every file under the folder (images sit in calib/, val/ and class subfolders), by relative path and content.</summary>
    static string HashDirectory(string dir) => !Directory.Exists(dir) ? "missing" : string.Join(";",
        Directory.GetFiles(dir, "*", SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(dir, f).Replace('\\', '/'))
            .OrderBy(f => f, StringComparer.Ordinal)
            .Select(f => f + "=" + HashFile(Path.Combine(dir, f))));
}

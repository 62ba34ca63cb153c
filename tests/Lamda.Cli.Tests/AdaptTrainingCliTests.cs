using System.Text.Json;
using Lamda.Tests;

namespace Lamda.Cli.Tests;

/// <summary>
/// Fine-tuning in the loop, through 'lamda adapt --data': a trained digit model on a predicted device, so that no
/// timing decides anything, with few training steps.
/// </summary>
public class AdaptTrainingCliTests : CliTestBase
{
    static string Trained(string file) => Path.Combine(Shared.Folder!, "trained", file);

    /// <summary>A data folder with the shared digit tensors: calibration and validation inputs, labels only when asked.</summary>
    string DataFolder(string name, bool labels)
    {
        var data = Directory.CreateDirectory(Path.Combine(dir, name)).FullName;
        File.Copy(Trained("calib_images.npy"), Path.Combine(data, "calib_images.npy"));
        File.Copy(Trained("val_images.npy"), Path.Combine(data, "val_images.npy"));
        if (labels) File.Copy(Trained("val_labels.npy"), Path.Combine(data, "val_labels.npy"));
        return data;
    }

    (int Code, string Out, string Err, JsonElement Report) Adapt(string data, string output, params string[] extra)
    {
        var report = output + ".json";
        var r = Lamda(["adapt", Shared.ModelPath("digits_cnn"), "--latency", "60%", "--device", "jetson-nano", "--data", data,
            "-o", output, "--report", report, .. extra]);
        Assert.True(r.Code == 0, r.Err);
        using var json = JsonDocument.Parse(File.ReadAllText(report));
        return (r.Code, r.Out, r.Err, json.RootElement.Clone());
    }

    [SharedFact]
    public void UnlabeledDataGivesFidelityAndFineTunesDeterministically()
    {
        var data = DataFolder("unlabeled", labels: false);
        var first = Path.Combine(dir, "a.onnx");
        var r = Adapt(data, first, "--train-steps", "40", "--train-time", "5m");
        var final = r.Report.GetProperty("final");
        Assert.False(final.TryGetProperty("accuracy", out var acc) && acc.ValueKind != JsonValueKind.Null);
        double fidelity = final.GetProperty("fidelity").GetDouble();
        Assert.InRange(fidelity, 0, 1);
        Assert.Equal(1.0, r.Report.GetProperty("base").GetProperty("fidelity").GetDouble());
        var training = r.Report.GetProperty("training");
        Assert.Equal(40, training.GetProperty("steps").GetInt32());
        // Held-out inputs (never trained on) decide: the tuned weights are kept only when they agree with the base at
        // least as well as the reconstructed ones, so the result is never less faithful than before training.
        double before = training.GetProperty("fidelityBefore").GetDouble(), after = training.GetProperty("fidelityAfter").GetDouble();
        Assert.Equal(after >= before, training.GetProperty("kept").GetBoolean());
        Assert.Equal(Math.Max(before, after), fidelity, 12);
        // Training ran: the weights moved (at 2e-3 this reconstructed digits_cnn's loss climbs from 0.011 to 3, so the rate
        // is lowered, and the held-out fidelity may then round to the same figure).
        Assert.NotEqual(training.GetProperty("firstLoss").GetDouble(), training.GetProperty("lastLoss").GetDouble());
        Assert.Contains("fidelity", r.Out);
        Assert.Contains("fine-tuned 40 steps", r.Out);
        Assert.Contains("fine-tuning [", r.Err);

        // Same seed, same data: the same bytes.
        var second = Path.Combine(dir, "b.onnx");
        Adapt(data, second, "--train-steps", "40", "--train-time", "5m");
        Assert.Equal(File.ReadAllBytes(first), File.ReadAllBytes(second));
    }

    /// <summary>
    /// 'lamda finetune --temperature' reaches the loss of a Softmax output (ppocr_cls: another temperature, other weights)
    /// and refuses nonsense, writing nothing.
    /// </summary>
    [SharedFact]
    public void FinetuneTakesATemperatureAndRefusesABadOne()
    {
        var data = Directory.CreateDirectory(Path.Combine(dir, "lines")).FullName;
        foreach (var png in Directory.GetFiles(Path.Combine(Shared.Folder!, "real", "lines-calib"), "*.png").Order().Take(12))
            File.Copy(png, Path.Combine(data, Path.GetFileName(png)));
        File.WriteAllText(Path.Combine(data, "preprocess.json"),
            """{ "size": [48, 192], "resize": "height", "channels": "bgr", "mean": [0.5], "std": [0.5] }""");
        var model = Path.Combine(Shared.Folder!, "real", "ppocr_cls.onnx");
        var adapted = Path.Combine(dir, "adapted.onnx");
        var a = Lamda("adapt", model, "--latency", "60%", "--device", "raspberry-pi-4", "--input-shape", "1,3,48,192", "--data", data,
            "--no-train", "-o", adapted);
        Assert.True(a.Code == 0, a.Err);
        string Finetune(string temperature)
        {
            var output = Path.Combine(dir, $"t{temperature}.onnx");
            var r = Lamda("finetune", model, adapted, "--data", data, "-o", output, "--steps", "3", "--batch", "4",
                "--temperature", temperature);
            Assert.True(r.Code == 0, r.Err);
            Assert.Contains("trained 3 steps", r.Out);
            return output;
        }
        Assert.NotEqual(File.ReadAllBytes(Finetune("1")), File.ReadAllBytes(Finetune("3")));
        var bad = Path.Combine(dir, "bad.onnx");
        var refused = Lamda("finetune", model, adapted, "--data", data, "-o", bad, "--temperature", "0");
        Assert.NotEqual(0, refused.Code);
        Assert.Contains("--temperature 0", refused.Err);
        Assert.False(File.Exists(bad));
    }

    [SharedFact]
    public void NoTrainSkipsFineTuningAndLabelsAreJudgedByAccuracy()
    {
        var data = DataFolder("labeled", labels: true);
        var r = Adapt(data, Path.Combine(dir, "n.onnx"), "--no-train", "--max-accuracy-drop", "50%");
        Assert.False(r.Report.TryGetProperty("training", out _));
        Assert.DoesNotContain("fine-tun", r.Err.Replace("no fine-tuning (--no-train)", ""));
        var final = r.Report.GetProperty("final");
        double accuracy = final.GetProperty("accuracy").GetDouble();
        double baseAccuracy = r.Report.GetProperty("base").GetProperty("accuracy").GetDouble();
        Assert.InRange(accuracy, 0, 1);
        Assert.Contains($"accuracy {baseAccuracy:P2} -> {accuracy:P2}", r.Out);
        Assert.Contains("judged on accuracy", r.Err);
    }

    [SharedFact]
    public void ATooLargeFidelityDropIsFedBackWithoutLabels()
    {
        var data = DataFolder("strict", labels: false);
        var output = Path.Combine(dir, "never.onnx");
        // No candidate at 60% agrees with the base on every validation input, so none is accepted.
        var r = Lamda("adapt", Shared.ModelPath("digits_cnn"), "--latency", "60%", "--device", "jetson-nano", "--data", data,
            "-o", output, "--max-accuracy-drop", "0%", "--train-steps", "2", "--max-iterations", "2");
        Assert.Equal(1, r.Code);
        Assert.Contains("LAMDA0", r.Err);
        Assert.Contains("fidelity drop", r.Err);
        Assert.False(File.Exists(output));
    }

    [SharedFact]
    public void ABadDataFolderIsRefusedBeforeAnyWork()
    {
        var bad = Directory.CreateDirectory(Path.Combine(dir, "bad")).FullName;
        File.WriteAllText(Path.Combine(bad, "calib_images.npy"), "not a tensor");
        var empty = Directory.CreateDirectory(Path.Combine(dir, "empty")).FullName;
        var output = Path.Combine(dir, "never.onnx");
        foreach (var data in new[] { bad, empty })
        {
            var r = Lamda("adapt", Shared.ModelPath("digits_cnn"), "--latency", "60%", "--device", "jetson-nano", "--data", data,
                "-o", output);
            Assert.Equal(1, r.Code);
            Assert.Contains("LAMDA015", r.Err);
            Assert.Contains(data, r.Err);
            Assert.DoesNotContain("base:", r.Err);
            Assert.False(File.Exists(output));
        }
    }

    [SharedFact]
    public void TrainingOptionsAreChecked()
    {
        var data = DataFolder("options", labels: false);
        var output = Path.Combine(dir, "never.onnx");
        foreach (var extra in new[] { new[] { "--no-train", "--train-steps", "5" }, ["--train-time", "soon"], ["--train-steps", "0"] })
        {
            var r = Lamda(["adapt", Shared.ModelPath("digits_cnn"), "--latency", "60%", "--device", "jetson-nano", "--data", data,
                "-o", output, .. extra]);
            Assert.Equal(1, r.Code);
            Assert.Contains("LAMDA006", r.Err);
            Assert.False(File.Exists(output));
        }
    }
}

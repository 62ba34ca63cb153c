using System.Globalization;
using System.Text.RegularExpressions;
using Google.Protobuf;
using Lamda.Data;
using Lamda.Evaluation;
using Lamda.Onnx;
using Lamda.Training;

namespace Lamda.Cli.Commands;

/// <summary>Fine-tunes an adapted model by distillation from its base model on the user's data.</summary>
internal sealed partial class FinetuneCommand : Command
{
    public override string Name => "finetune";
    public override string Summary => "fine-tune an adapted model by distillation from its base model on --data";
    public override string Usage => """
        Usage: lamda finetune BASE.onnx ADAPTED.onnx --data DIR -o OUT.onnx [--steps 300] [--train-time 3m]
                              [--lr 0.001] [--batch 16] [--seed 0] [--threads 1] [--crop 320] [--temperature 2]

        Trains ADAPTED (a model made by 'lamda adapt' from BASE) to agree with BASE on the calibration inputs of DIR
        (tensors or images, see docs/dataset-folders.md): KL divergence on probability outputs (of Softmax outputs
        softened to softmax(logits / T), --temperature, default 2; 1 compares them as they are), MSE on others, plus
        cross-entropy when DIR has labels. Adam with a cosine schedule; stops at --steps or --train-time. Prints the
        fidelity to BASE on the validation inputs before and after, and writes OUT atomically. Images larger than
        --crop in height and width are trained on seeded square crops of that side (default 320, 0 for the full size);
        fidelity is always measured at the full size. Without --batch, crops are batched by pixels: 4 crops of
        320x320 (16 of 160x160) a step, as many cheap steps learned more per second than fewer large ones.
        """;
    public override string[] ValueOptions =>
        ["--data", "-o", "--steps", "--train-time", "--lr", "--batch", "--seed", "--threads", "--crop", "--temperature"];

    public override int Run(Arguments args, TextWriter stdout, TextWriter stderr)
    {
        var basePath = args.Positional(0, "BASE.onnx");
        var adaptedPath = args.Positional(1, "ADAPTED.onnx");
        args.NoMorePositionals(2);
        var output = args.Required("-o");
        ModelSource.CheckNotInput(output, basePath, adaptedPath);
        var (teacher, teacherWeights) = ModelSource.LoadOnnx(basePath);
        var (student, studentWeights) = ModelSource.LoadOnnx(adaptedPath);
        var inputShape = student.Inputs[0].Type.Dims?.Select(d => d.IsKnown ? d.Value : -1).ToArray() ?? [];
        var data = DataFolder.Load(args.Required("--data"), inputShape);
        var options = Options(args);
        var labelled = data.CalibrationLabels != null ? ", labelled" : "";
        stderr.WriteLine($"data: {data.Calibration.Shape[0]} calibration inputs ({data.Split}){labelled}");
        var (tuned, report) = Distillation.FineTune(teacher, teacherWeights, student, studentWeights, null, data.Calibration,
            data.CalibrationLabels, options, new ProgressBar(stderr));
        stderr.WriteLine();
        var model = OnnxExporter.Export(student, tuned);
        if (data.Validation is { } val)
        {
            var baseBytes = OnnxExporter.Export(teacher, teacherWeights).ToByteArray();
            var before = Fidelity.Measure(baseBytes, OnnxExporter.Export(student, studentWeights).ToByteArray(), teacher, val);
            var after = Fidelity.Measure(baseBytes, model.ToByteArray(), teacher, val);
            for (int i = 0; i < before.Count; i++)
                stdout.WriteLine($"fidelity {before[i].Output} ({before[i].Kind}): {before[i].Agreement:P2} -> {after[i].Agreement:P2}");
        }
        var stop = report.StoppedByTime ? " (time budget)" : "";
        if (report.CropSide is { } side) stop += $" on {side}x{side} crops";
        if (report.Note != null) stderr.WriteLine(report.Note);
        stdout.WriteLine($"trained {report.Steps} steps in {report.Elapsed.TotalSeconds:F1} s{stop}, " +
            $"loss {report.FirstLoss:G4} -> {report.LastLoss:G4}");
        if (report.Skipped > 0) stdout.WriteLine($"skipped {report.Skipped} steps whose loss or gradient was not finite");
        stdout.WriteLine($"time per step: {report.Elapsed.TotalSeconds / Math.Max(1, report.Steps):F2} s ({report.Phases})");
        ModelFile.Save(model, output);
        return 0;
    }

    static TrainOptions Options(Arguments args)
    {
        int Int(string name, int fallback) => args.Value(name) is { } v
            ? int.TryParse(v, CultureInfo.InvariantCulture, out var n) && n > 0 ? n : throw Bad(name, v) : fallback;
        double Positive(string name, double fallback) => args.Value(name) is { } v
            ? double.TryParse(v, CultureInfo.InvariantCulture, out var x) && x > 0 && double.IsFinite(x) ? x : throw Bad(name, v)
            : fallback;
        var rate = Positive("--lr", 1e-3);
        return new TrainOptions
        {
            Steps = Int("--steps", 300), BatchSize = Int("--batch", 16),
            Seed = args.Value("--seed") is { } seed
                ? int.TryParse(seed, CultureInfo.InvariantCulture, out var sd) && sd >= 0 ? sd : throw Bad("--seed", seed)
                : 0,
            Threads = Int("--threads", 1),
            CropSize = args.Int("--crop", 320) is > 0 and var side ? side : null,
            // A batch asked for is honoured; by default crops are batched by pixels (4 of 320x320).
            CropBatchPixels = args.Value("--batch") != null ? int.MaxValue : new TrainOptions().CropBatchPixels,
            LearningRate = rate, TimeBudget = args.Value("--train-time") is { } t ? Duration(t) : null,
            Temperature = (float)Positive("--temperature", new TrainOptions().Temperature),
        };
    }

    static LamdaException Bad(string name, string value) =>
        new(ErrorCodes.BadArgument, $"{name} {value}: expected a positive number. Run 'lamda finetune --help'.");

    /// <summary>"90s", "3m", "1.5h", "500ms".</summary>
    public static TimeSpan Duration(string text)
    {
        var m = DurationPattern().Match(text.Trim());
        if (!m.Success || !double.TryParse(m.Groups[1].Value, CultureInfo.InvariantCulture, out var v) || v <= 0)
            throw new LamdaException(ErrorCodes.BadArgument, $"--train-time {text}: write a number with a unit: 90s, 3m, 1h.");
        return m.Groups[2].Value switch
        {
            "ms" => TimeSpan.FromMilliseconds(v),
            "s" => TimeSpan.FromSeconds(v),
            "m" or "min" => TimeSpan.FromMinutes(v),
            _ => TimeSpan.FromHours(v),
        };
    }

    [GeneratedRegex(@"^([0-9]+(?:\.[0-9]+)?)\s*(ms|s|min|m|h)$")]
    private static partial Regex DurationPattern();

    /// <summary>A one-line progress bar with the loss, redrawn on stderr.</summary>
    sealed class ProgressBar(TextWriter stderr) : IProgress<TrainProgress>
    {
        public void Report(TrainProgress p)
        {
            stderr.Write($"\r[{TrainingProgress.Bar(p.Done, 30)}] {TrainingProgress.Steps(p)} loss {p.Loss:G4} lr {p.LearningRate:G3}  ");
        }
    }
}

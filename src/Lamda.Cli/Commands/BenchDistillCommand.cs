using System.Diagnostics;
using System.Globalization;
using Google.Protobuf;
using Lamda.Adaptation;
using Lamda.Data;
using Lamda.Evaluation;
using Lamda.Graphs;
using Lamda.Onnx;
using Lamda.Runtime;
using Lamda.Training;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Processing;

namespace Lamda.Cli.Commands;

/// <summary>
/// Accuracy kept by fine-tuning: the trained digit models and the real text-direction classifier pruned to a width,
/// then L1 transfer alone, least-squares reconstruction (digits) and distillation from the base, on held-out data.
/// </summary>
internal sealed class BenchDistillCommand : Command
{
    public override string Name => "bench-distill";
    public override string Summary => "benchmark: accuracy of pruned models with L1 transfer, reconstruction and distillation";
    public override string Usage => """
        Usage: lamda bench-distill [--shared DIR] [--models digits_cnn,digits_resnet,ppocr_cls] [--width 0.6]
                                   [--steps 300] [--lr 0.001] [--batch 32] [--seed 0] [--threads 1]
                                   [--from-reconstruction] [--recalibrate] [--feature-weight 1] [--no-augment]

        Prunes each model to the width (uniform L1 channel selection), then measures accuracy on held-out data of:
        the pruned model with the base's most important weights (L1), least-squares reconstruction on the
        calibration inputs (digits only) and distillation from the base on the calibration inputs without labels.
        digits_*: calib_images / val_images, val_labels. ppocr_cls: lines-calib, and lines-val with every odd image
        rotated by 180 degrees (label 1, upright label 0). Also prints top-1 agreement with the base and wall times.
        --from-reconstruction starts distillation from the reconstructed weights (digits) instead of L1 transfer;
        --recalibrate re-estimates BatchNorm statistics on the calibration inputs first; --feature-weight (default 1)
        weighs the feature losses at kept channels against the output loss. ppocr_cls calibrates on lines-calib and
        turned-over copies of it (the teacher labels them); --no-augment uses the upright lines alone.
        """;
    public override string[] ValueOptions => ["--shared", "--models", "--width", "--steps", "--lr", "--batch", "--seed", "--threads",
        "--feature-weight"];
    public override string[] FlagOptions => ["--from-reconstruction", "--recalibrate", "--no-augment"];

    public override int Run(Arguments args, TextWriter stdout, TextWriter stderr)
    {
        args.NoMorePositionals(0);
        var shared = args.Value("--shared") ?? SharedFolder.Find() ?? throw new LamdaException(ErrorCodes.FileNotFound,
            "no shared folder found; pass --shared DIR.");
        double width = Number(args, "--width", 0.6);
        var options = new TrainOptions
        {
            Steps = (int)Number(args, "--steps", 300), LearningRate = Number(args, "--lr", 1e-3),
            BatchSize = (int)Number(args, "--batch", 32),
            Seed = (int)Number(args, "--seed", 0), Threads = (int)Number(args, "--threads", 1),
            FeatureWeight = (float)Number(args, "--feature-weight", 1),
        };
        var models = (args.Value("--models") ?? "digits_cnn,digits_resnet,ppocr_cls").Split(',');
        stdout.WriteLine($"{"model",-14} {"width",5} {"base",7} | {"L1",7} {"recon",7} {"distill",7} {"kept",6} {"agree",6} | " +
                         $"{"steps",5} {"train s",7} {"loss",15}");
        foreach (var name in models)
        {
            var bench = name.StartsWith("ppocr", StringComparison.Ordinal)
                ? TextLines(shared, !args.Flag("--no-augment"))
                : Digits(shared, name);
            bench = bench with { FromReconstruction = args.Flag("--from-reconstruction"), Recalibrate = args.Flag("--recalibrate") };
            stdout.WriteLine(bench.Run(name, width, options, stderr));
        }
        return 0;
    }

    static double Number(Arguments args, string name, double fallback) =>
        args.Value(name) is { } v ? double.Parse(v, CultureInfo.InvariantCulture) : fallback;

    static Benchmark Digits(string shared, string name)
    {
        var dir = Path.Combine(shared, "trained");
        var data = DataFolder.Load(dir, [-1, 1, 28, 28]);
        return new Benchmark(Path.Combine(dir, name + ".onnx"), data.Calibration, data.Validation!, data.ValidationLabels!,
            Reconstruct: true);
    }

    /// <summary>
    /// lines-calib as the classifier reads it (BGR, height 48, width up to 192, (x/255 - 0.5)/0.5); lines-val with
    /// odd lines turned over.
    /// </summary>
    static Benchmark TextLines(string shared, bool augment)
    {
        var real = Path.Combine(shared, "real");
        var spec = new ImagePreprocessing { Size = [48, 192], Resize = Lamda.Data.ResizeMode.Height, Channels = "bgr", Mean = [0.5f],
            Std = [0.5f], Scale = 1f / 255 };
        // Upright lines only: the turned-over copies let the teacher show the student the other class too.
        var calibSpec = augment ? spec with { Augment = ["rotate180"] } : spec;
        var calib = ImageFolder.LoadAugmented(ImageFolder.Files(Path.Combine(real, "lines-calib")), calibSpec, 48, 192);
        var temp = Directory.CreateTempSubdirectory("lamda-lines-val-");
        try
        {
            var files = ImageFolder.Files(Path.Combine(real, "lines-val"));
            var rotated = files.Select((f, i) =>
            {
                var target = Path.Combine(temp.FullName, Path.GetFileName(f));
                using var image = Image.Load(f);
                if (i % 2 == 1) image.Mutate(m => m.Rotate(RotateMode.Rotate180));
                image.SaveAsPng(target);
                return target;
            }).ToList();
            var val = ImageFolder.Load(rotated, spec, 48, 192);
            var labels = Enumerable.Range(0, files.Count).Select(i => (long)(i % 2)).ToArray();
            return new Benchmark(Path.Combine(real, "ppocr_cls.onnx"), calib, val, labels, Reconstruct: false);
        }
        finally { temp.Delete(recursive: true); }
    }

    sealed record Benchmark(string Model, TensorData Calibration, TensorData Validation, long[] Labels, bool Reconstruct)
    {
        /// <summary>Distil from the reconstructed weights rather than from L1 transfer alone.</summary>
        public bool FromReconstruction { get; init; }
        /// <summary>Re-estimate BatchNorm statistics on the calibration inputs before distilling.</summary>
        public bool Recalibrate { get; init; }

        public string Run(string name, double width, TrainOptions options, TextWriter log)
        {
            var (raw, weights) = ModelSource.LoadOnnx(Model);
            var graph = Normalizer.Normalize(raw, weights).Graph;
            double baseAcc = Accuracy(graph, weights);
            var analysis = ChannelAnalysis.Run(graph, weights);
            var kept = new Dictionary<string, int[]>();
            var (pruned, prunedWeights) = ChannelPruner.Apply(analysis, ChannelSelection.ScaleWidth(analysis, width), keptOutputs: kept);
            double l1 = Accuracy(pruned, prunedWeights);
            var reconstructed = Reconstruct ? Reconstruction.Apply(graph, weights, pruned, prunedWeights, kept, Calibration) : null;
            double recon = reconstructed != null ? Accuracy(pruned, reconstructed) : double.NaN;
            var clock = Stopwatch.StartNew();
            var progress = new Progress<TrainProgress>(p =>
            {
                if (p.Step % 50 == 0) log.WriteLine($"  {name} step {p.Step}/{p.TotalSteps} loss {p.Loss:G4}");
            });
            var start = FromReconstruction && reconstructed != null ? reconstructed : prunedWeights;
            if (Recalibrate) start = Reconstruction.RecalibrateBatchNorm(pruned, start, Calibration);
            var (tuned, report) = Distillation.FineTune(graph, weights, pruned, start, kept, Calibration, null, options, progress);
            double trainSeconds = clock.Elapsed.TotalSeconds;
            double distilled = Accuracy(pruned, tuned);
            var agreement = Fidelity.Measure(Bytes(graph, weights), Bytes(pruned, tuned), graph, Validation)[0].Agreement;
            var reconText = double.IsNaN(recon) ? "-" : recon.ToString("P1");
            return $"{name,-14} {width,5:F2} {baseAcc,7:P1} | {l1,7:P1} {reconText,7} {distilled,7:P1} " +
                   $"{distilled / baseAcc,6:P0} {agreement,6:P1} | {report.Steps,5} {trainSeconds,7:F1} " +
                   $"{report.FirstLoss,7:G3}>{report.LastLoss,-7:G3}";
        }

        static byte[] Bytes(Graph g, WeightStore w) => OnnxExporter.Export(g, w).ToByteArray();

        double Accuracy(Graph g, WeightStore w)
        {
            using var runner = new ModelRunner(Bytes(g, w));
            int correct = 0;
            long n = Validation.Shape[0];
            for (long start = 0; start < n; start += 50)
            {
                long b = Math.Min(50, n - start);
                var feeds = new Dictionary<string, TensorData> { [runner.InputNames[0]] = Validation.Rows(start, b) };
                var scores = (float[])runner.Run(feeds)[runner.OutputNames[0]].Values;
                int classes = scores.Length / (int)b;
                for (int i = 0; i < b; i++)
                    if (Enumerable.Range(0, classes).MaxBy(k => scores[i * classes + k]) == Labels[start + i]) correct++;
            }
            return correct / (double)n;
        }
    }
}

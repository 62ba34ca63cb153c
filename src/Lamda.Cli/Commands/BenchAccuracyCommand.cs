using Lamda.Adaptation;
using Lamda.Data;
using Lamda.Latency;
using Lamda.Onnx;

namespace Lamda.Cli.Commands;

/// <summary>The accuracy benchmark of issue 5: trained digit classifiers adapted to a fraction of their latency.</summary>
internal sealed class BenchAccuracyCommand : Command
{
    public override string Name => "bench-accuracy";
    public override string Summary => "benchmark: accuracy kept by adaptation of the trained digit models";
    public override string Usage => """
        Usage: lamda bench-accuracy [--trained DIR] [--target 0.5]

        For digits_cnn and digits_resnet in DIR (default: the shared trained models) adapts each to the fraction
        of its measured host latency twice: without data (uniform L1 channel selection, which is also the
        uniform L1 pruning baseline) and with --data (least-squares reconstruction on the calibration images).
        Prints base accuracy, accuracy of both and the share of base accuracy kept, on the validation images.
        """;
    public override string[] ValueOptions => ["--trained", "--target"];

    public override int Run(Arguments args, TextWriter stdout, TextWriter stderr)
    {
        args.NoMorePositionals(0);
        var shared = SharedFolder.Find();
        var dir = args.Value("--trained") ?? (shared != null ? Path.Combine(shared, "trained")
            : throw new LamdaException(ErrorCodes.FileNotFound, "no shared folder found; pass --trained DIR."));
        double fraction = double.Parse(args.Value("--target") ?? "0.5", System.Globalization.CultureInfo.InvariantCulture);
        var data = DataSet.Load(dir);
        var profile = HostProfiles.GetOrCreate(new StderrProgress(stderr));
        stdout.WriteLine($"{"model",-14} {"base ms",8} {"target",8} {"base acc",9} | {"L1 ms",7} {"L1 acc",8} {"kept",7} | "
            + $"{"+data ms",8} {"+data acc",9} {"kept",7}");
        foreach (var name in new[] { "digits_cnn", "digits_resnet" })
        {
            var path = Path.Combine(dir, name + ".onnx");
            var (graph, weights) = ModelSource.LoadOnnx(path);
            double baseMs = LatencyMeter.Measure(File.ReadAllBytes(path), graph, new MeasureOptions { Runs = 200 }).P50Ms;
            double baseAcc = data.Accuracy(File.ReadAllBytes(path));
            var options = new AdaptOptions { TargetMs = baseMs * fraction, Device = profile, MeasureOnHost = true };
            var plain = Adapter.Run(name, graph, weights, options);
            var withData = Adapter.Run(name, graph, weights, options with { Data = data });
            double plainAcc = data.Accuracy(Adapter.Bytes(plain.Model)), dataAcc = data.Accuracy(Adapter.Bytes(withData.Model));
            stdout.WriteLine($"{name,-14} {baseMs,8:F3} {options.TargetMs,8:F3} {baseAcc,9:P2} | "
                + $"{plain.Report.Final!.MeasuredMs,7:F3} {plainAcc,8:P2} {plainAcc / baseAcc,7:P1} | "
                + $"{withData.Report.Final!.MeasuredMs,8:F3} {dataAcc,9:P2} {dataAcc / baseAcc,7:P1}");
        }
        return 0;
    }
}

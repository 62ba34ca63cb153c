using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Lamda.Adaptation;
using Lamda.Cli.Bench;
using Lamda.Onnx;

namespace Lamda.Cli.Commands;

/// <summary>
/// The accuracy benchmark of issue 13: each model adapted on host to shares of its latency by <c>lamda adapt</c> itself,
/// with no data (L1 channel selection), with least-squares reconstruction (--data --no-train) and with distillation
/// (--data); every result measured afterwards on the validation inputs, written as CSV, JSON and an SVG plot.
/// </summary>
internal sealed class BenchAccuracyCommand : Command
{
    public override string Name => "bench-accuracy";
    public override string Summary => "benchmark: accuracy and fidelity kept at 70/50/30% of base latency, by method";
    public override string Usage => """
        Usage: lamda bench-accuracy -o OUT_DIR [--models digits_cnn,digits_resnet,ppocr_cls,ppocr_det,ppocr_rec]
                     [--heldout DIR] [--targets 0.7,0.5,0.3] [--methods l1,reconstruction,distillation]
                     [--train-time 60s] [--train-steps 300] [--max-iterations 6] [--rec-lines 100] [--shared DIR]
               lamda bench-accuracy -o OUT_DIR --combine DIR1,DIR2,...

        For every model, runs 'lamda adapt --device host --latency P%' for each share P of its latency and each method:
          l1              no data: channels chosen by L1 norm (the uniform L1 pruning baseline)
          reconstruction  --data --no-train: least-squares reconstruction of the pruned layers
          distillation    --data with fine-tuning (the loop's default; budgets from --train-time and --train-steps)
        then measures each result on the validation inputs: accuracy when they have labels, fidelity with the base
        always. Prints a table and writes OUT_DIR/accuracy.csv, accuracy.json and accuracy.svg (accuracy against
        latency, one panel per model, one line per method); the adapted models, reports and logs go to OUT_DIR/runs,
        the data folders made for the models to OUT_DIR/data.
        Models: digits_cnn and digits_resnet (shared/trained), ppocr_cls at 1x3x48x192 and ppocr_det at 1x3x320x320
        (shared/real), ppocr_rec at 1x3x48x320 (the held-out PP-OCRv4 recognizer in --heldout DIR; its accuracy is
        the share of the first --rec-lines lines of lines-val read right). Without --models: all of them, ppocr_rec
        only when --heldout is given. --max-iterations bounds each loop (on a loaded machine the band is hard to hit).
        --combine writes OUT_DIR's CSV, JSON and plot from the accuracy.json of earlier runs (e.g. run in parallel).
        """;
    public override string[] ValueOptions =>
        ["-o|--output", "--models", "--heldout", "--targets", "--methods", "--train-time", "--train-steps", "--rec-lines", "--shared",
        "--max-iterations", "--combine"];

    /// <summary>The methods, by option name, with their display name and the options they add to 'lamda adapt'.</summary>
    static readonly Dictionary<string, string> MethodNames = new()
    {
        ["l1"] = "L1 only", ["reconstruction"] = "reconstruction", ["distillation"] = "distillation",
    };

    public override int Run(Arguments args, TextWriter stdout, TextWriter stderr)
    {
        args.NoMorePositionals(0);
        var output = Path.GetFullPath(args.Required("--output"));
        if (args.Value("--combine") is { } combine) return Combine(output, List(combine)!, stdout);
        var shared = args.Value("--shared") ?? SharedFolder.Find()
            ?? throw new LamdaException(ErrorCodes.FileNotFound, "no shared folder found; pass --shared DIR (with trained/ and real/).");
        var heldout = args.Value("--heldout") is { } h ? Path.GetFullPath(h) : null;
        var models = List(args.Value("--models")) ?? AccuracyBenchCase.Known.Where(m => m != "ppocr_rec" || heldout != null).ToList();
        var targets = (List(args.Value("--targets")) ?? ["0.7", "0.5", "0.3"]).Select(Share).ToList();
        var methods = List(args.Value("--methods")) ?? [.. MethodNames.Keys];
        if (methods.FirstOrDefault(m => !MethodNames.ContainsKey(m)) is { } unknown)
            throw new LamdaException(ErrorCodes.BadArgument,
                $"unknown method '{unknown}'; use some of {string.Join(",", MethodNames.Keys)}.");
        var settings = new RunSettings(args.Value("--train-time") ?? "60s", args.Int("--train-steps", 300),
            args.Int("--max-iterations", 6));
        FinetuneCommand.Duration(settings.TrainTime);
        int recLines = args.Int("--rec-lines", 100);
        Directory.CreateDirectory(Path.Combine(output, "runs"));
        var cases = models.Select(m => AccuracyBenchCase.Make(m, shared, heldout, Path.Combine(output, "data"), recLines)).ToList();

        var rows = new List<AccuracyBenchRow>();
        stdout.WriteLine(AccuracyBenchRow.TableHeader);
        foreach (var bench in cases)
        {
            var data = AdaptData.Load(bench.DataDirectory, InputDims(bench), 0);
            var (baseGraph, _) = ModelSource.LoadOnnx(bench.ModelPath);
            var baseBytes = File.ReadAllBytes(bench.ModelPath);
            var measured = new List<AccuracyBenchRow>();
            foreach (var target in targets)
                foreach (var method in methods)
                {
                    var row = RunOne(bench, method, target, settings, output, stderr);
                    var model = Path.Combine(output, "runs", RunName(bench, method, target) + ".onnx");
                    if (row.Error == null) row = Measured(row, model, data, baseBytes, baseGraph);
                    measured.Add(row);
                    stdout.WriteLine(row.Line());
                    Save(output, [.. rows, BaseRow(bench, data, baseBytes, measured), .. measured]);
                }
            rows.AddRange([BaseRow(bench, data, baseBytes, measured), .. measured]);
            Save(output, rows);
        }
        stdout.WriteLine($"wrote {Path.Combine(output, "accuracy.csv")}, accuracy.json and accuracy.svg");
        return 0;
    }

    /// <summary>The fine-tuning budgets of the distillation runs.</summary>
    sealed record RunSettings(string TrainTime, int TrainSteps, int MaxIterations);

    /// <summary>The rows of earlier runs' accuracy.json files, in the order given, written as one result.</summary>
    static int Combine(string output, List<string> dirs, TextWriter stdout)
    {
        var rows = new List<AccuracyBenchRow>();
        foreach (var dir in dirs)
        {
            var path = Path.Combine(dir, "accuracy.json");
            if (!File.Exists(path))
                throw new LamdaException(ErrorCodes.FileNotFound, $"{path}: not found; give folders of bench-accuracy runs.");
            rows.AddRange(JsonSerializer.Deserialize<List<AccuracyBenchRow>>(File.ReadAllText(path), AccuracyBenchRow.Options) ?? []);
        }
        Directory.CreateDirectory(output);
        Save(output, rows);
        stdout.WriteLine(AccuracyBenchRow.TableHeader);
        foreach (var row in rows) stdout.WriteLine(row.Line());
        return 0;
    }

    static List<string>? List(string? value) =>
        value?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList();

    static double Share(string text) =>
        double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) && v > 0 && v < 1 ? v
            : throw new LamdaException(ErrorCodes.BadArgument,
                $"--targets: '{text}' is not a share of the base's latency between 0 and 1.");

    static long[] InputDims(AccuracyBenchCase bench) => bench.InputShape is { } s
        ? s.Split(',').Select(d => long.Parse(d, CultureInfo.InvariantCulture)).ToArray()
        : ModelSource.LoadOnnx(bench.ModelPath).Graph.Inputs[0].Type.Dims?.Select(d => d.IsKnown ? d.Value : -1).ToArray() ?? [];

    static string RunName(AccuracyBenchCase bench, string method, double target) =>
        $"{bench.Name}-{method}-{target * 100:F0}".Replace(' ', '_');

    /// <summary>One 'lamda adapt' run, in process, its log in runs/NAME.log; the latency figures come from its report.</summary>
    static AccuracyBenchRow RunOne(AccuracyBenchCase bench, string method, double target, RunSettings settings, string output,
        TextWriter stderr)
    {
        var name = RunName(bench, method, target);
        string runs = Path.Combine(output, "runs"), model = Path.Combine(runs, name + ".onnx"), report = Path.Combine(runs, name + ".json");
        var adapt = new List<string>
        {
            "adapt", bench.ModelPath, "--latency", (target * 100).ToString("0.##", CultureInfo.InvariantCulture) + "%", "--device", "host",
            "-o", model, "--report", report, "--max-iterations", Invariant(settings.MaxIterations),
        };
        if (bench.InputShape != null) adapt.AddRange([InputShapes.Option, bench.InputShape]);
        if (method != "l1") adapt.AddRange(["--data", bench.DataDirectory]);
        if (method == "reconstruction") adapt.Add("--no-train");
        if (method == "distillation")
            adapt.AddRange(["--train-time", settings.TrainTime, "--train-steps", Invariant(settings.TrainSteps)]);
        foreach (var stale in new[] { model, report }.Where(File.Exists)) File.Delete(stale);
        stderr.WriteLine($"bench-accuracy: {name}: lamda {string.Join(" ", adapt.Skip(1))}");
        using var log = new StreamWriter(Path.Combine(runs, name + ".log")) { AutoFlush = true };
        var clock = Stopwatch.StartNew();
        int code = Cli.Run([.. adapt], log, log);
        double wall = clock.Elapsed.TotalSeconds;
        log.Flush();
        var row = new AccuracyBenchRow(bench.Name, MethodNames[method], target, wall);
        if (code != 0 || !File.Exists(report))
            return row with { Error = LastError(Path.Combine(runs, name + ".log")) ?? $"lamda adapt exited with {code}" };
        using var json = JsonDocument.Parse(File.ReadAllText(report));
        var root = json.RootElement;
        double? Ms(string figures) => root.TryGetProperty(figures, out var f) && f.ValueKind == JsonValueKind.Object
            && f.TryGetProperty("measuredMs", out var m) && m.ValueKind == JsonValueKind.Number ? m.GetDouble() : null;
        int? steps = root.TryGetProperty("training", out var t) && t.TryGetProperty("steps", out var s) ? s.GetInt32() : null;
        return row with { BaseMs = Ms("base"), Ms = Ms("final"), TrainSteps = steps };
    }

    static string Invariant(int value) => value.ToString(CultureInfo.InvariantCulture);

    static string? LastError(string log) => File.ReadLines(log).LastOrDefault(l => l.Contains("error", StringComparison.Ordinal))?.Trim();

    /// <summary>Accuracy and fidelity of the adapted model, measured here rather than taken from the loop's report.</summary>
    /// <remarks>
    /// A model that fails at a batch of several inputs (a batch of 1 built into a reshape) is measured one input at a
    /// time, and the row says so: a user could not run it batched either.
    /// </remarks>
    static AccuracyBenchRow Measured(AccuracyBenchRow row, string model, AdaptData data, byte[] baseBytes, Graphs.Graph baseGraph)
    {
        var bytes = File.ReadAllBytes(model);
        try { return row with { Accuracy = data.Accuracy(bytes), Fidelity = data.Fidelity(baseBytes, bytes, baseGraph) }; }
        catch (LamdaException e) when (e.Code == ErrorCodes.RuntimeFailed)
        {
            return row with
            {
                Accuracy = data.Accuracy(bytes, batch: 1), Fidelity = data.Fidelity(baseBytes, bytes, baseGraph, batch: 1),
                Note = "runs only at batch 1: " + e.Message.Split('\n')[0][..Math.Min(160, e.Message.Length)],
            };
        }
    }

    static readonly Dictionary<string, double?> BaseAccuracies = [];

    static AccuracyBenchRow BaseRow(AccuracyBenchCase bench, AdaptData data, byte[] baseBytes, List<AccuracyBenchRow> runs)
    {
        if (!BaseAccuracies.TryGetValue(bench.Name, out var accuracy)) BaseAccuracies[bench.Name] = accuracy = data.Accuracy(baseBytes);
        var baseMs = runs.Select(r => r.BaseMs).Where(m => m != null).Order().ToList();
        return new AccuracyBenchRow(bench.Name, "base", 1, BaseMs: baseMs.Count > 0 ? baseMs[baseMs.Count / 2] : null,
            Accuracy: accuracy, Fidelity: 1);
    }

    /// <summary>Writes the CSV, the JSON and the plot of the rows so far (after every run, so a long run can be watched).</summary>
    static void Save(string output, List<AccuracyBenchRow> rows)
    {
        AtomicFile.WriteText(Path.Combine(output, "accuracy.csv"), AccuracyBenchRow.Csv(rows));
        AtomicFile.WriteText(Path.Combine(output, "accuracy.json"), AccuracyBenchRow.Json(rows));
        var svg = AccuracyPlot.Svg("Accuracy kept against latency (host, ONNX Runtime CPU)", Panels(rows));
        AtomicFile.WriteText(Path.Combine(output, "accuracy.svg"), svg);
    }

    /// <summary>One panel per model; every method's line starts at the base (latency 1, its accuracy).</summary>
    public static List<PlotPanel> Panels(IReadOnlyList<AccuracyBenchRow> rows) => rows.GroupBy(r => r.Model).Select(model =>
    {
        var baseRow = model.FirstOrDefault(r => r.Method == "base");
        bool labels = model.Any(r => r.Accuracy != null);
        var series = model.Where(r => r.Method != "base").GroupBy(r => r.Method).Select(method => new PlotSeries(method.Key,
            [.. (baseRow?.Score is { } b ? [(1.0, b)] : Array.Empty<(double, double)>()),
             .. method.Where(r => r.Reached != null && r.Score != null).Select(r => (r.Reached!.Value, r.Score!.Value))])).ToList();
        return new PlotPanel(model.Key, labels ? "accuracy" : "fidelity with base", series);
    }).ToList();
}

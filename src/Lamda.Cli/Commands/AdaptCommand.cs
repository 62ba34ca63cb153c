using System.Text.Json;
using System.Text.Json.Serialization;
using Lamda.Adaptation;
using Lamda.Data;
using Lamda.Latency;
using Lamda.Llm;
using Lamda.Onnx;
using Lamda.Training;

namespace Lamda.Cli.Commands;

internal sealed class AdaptCommand : Command
{
    public override string Name => "adapt";
    public override string Summary => "adapt a model to a latency budget on a device (the closed loop)";
    public override string Usage => """
        Usage: lamda adapt MODEL.onnx --latency 5ms|50% --device host|NAME|PROFILE.json -o OUT.onnx
                     [--input-shape 1,3,640,640] [--report R.json] [--data DIR] [--max-accuracy-drop 2%] [--seed N]
                     [--no-train | --train-time T --train-steps N]
                     [--generator search|llm --llm-model M.gguf [--llm-context N] [--llm-attempts N]]
                     [--max-iterations N] [--write-lock FILE.lamda | --from-lock FILE.lamda] [--messages FILE.jsonl]

        Generates architectures from MODEL (search generator by default), validates each (syntax and interface,
        task, requirements), feeds the diagnostics back and regenerates until every constraint holds: latency at
        most the budget and within 5% of it, and with --data a drop of at most --max-accuracy-drop (of accuracy
        when the data has labels, of fidelity with the base otherwise). With --data the candidate that meets the
        budget is fine-tuned by distillation from MODEL on the calibration inputs before it is judged.
        On 'host' every candidate is measured with ONNX Runtime; on other devices the calibrated predictor is the
        metric. OUT.onnx keeps the base model's most important weights and records the budget, device, achieved
        latency and base model in its metadata (keys lamda.*); it is written atomically, only on success.
          --latency T        budget: 5ms, 500us, 0.02s, or 50% of the base model's latency on the device
          --input-shape S    the size the budget holds at, for a model with dynamic input dims (required then):
                             1,3,640,640 for the one input, or x=1,3,640,640 y=1,4; OUT.onnx keeps the dynamic dims
          --data DIR         a data folder (docs/dataset-folders.md): tensors (calib_images, val_images, val_labels)
                             or images with preprocess.json; labels optional. Fidelity with MODEL is measured on
                             the validation inputs, accuracy when they have labels
          --no-train         no fine-tuning (least-squares reconstruction only)
          --train-time T     fine-tuning time budget: 90s, 7m, 1h (default: what remains of 10 minutes from the start
                             of the run, less 30s for the final measurement; at least 1m)
          --train-steps N    fine-tuning step budget (default 2400); training stops at the first budget reached
          --report R.json    every iteration: hash, diff size, predicted/measured latency, accuracy, diagnostics
          --generator llm    a language model writes the architectures (grammar-constrained LamdaText); after
                             --llm-attempts answers (default 3) that fail validation, the search generator
                             takes over and the report says so
          --llm-model M      the GGUF model for --generator llm (llama.cpp format, run on the CPU)
          --llm-context N    context tokens (default: the model's, at most 8192); long models are sliced to fit
          --write-lock F     also write the chosen architecture as LamdaText (for review; replay with --from-lock)
          --from-lock F      no search: rebuild the architecture in F (validated, weights transferred from MODEL)
          --messages F       also append warnings and errors with their codes to F, one JSON object a line
        """;
    public override string[] ValueOptions =>
    [
        "--latency", "--device", "-o|--output", "--report", "--data", "--max-accuracy-drop", "--generator", "--seed", "--max-iterations",
        "--write-lock", "--from-lock", "--llm-model", "--llm-context", "--llm-attempts", InputShapes.Option, "--messages",
        "--train-time", "--train-steps",
    ];
    public override string[] FlagOptions => ["--no-train"];

    /// <summary>
    /// The fine-tuning budgets when none are given. The steps end the classifiers' training (25-160 s) and ppocr_det's at
    /// 640x640 where a step is fast: its text-mask IoU rose from 0.893-0.905 at 600 steps to 0.905-0.921 at 1200 (seeds 0-2),
    /// and on an AMD EPYC (Zen 5), where 1200 steps took 230 s of the 462 s its time budget allowed, from 0.910 and 0.905 to
    /// 0.939 and 0.923 at 2400 (seeds 0 and 1, runs of 9.3-9.5 minutes).
    /// The time ends the PP-OCRv4 recognizer's, so that its whole run stays under 10 minutes: without --train-time training
    /// gets what remains of <see cref="DefaultRunTime"/> from the start of the run, less <see cref="AfterTraining"/> for the
    /// final measurement and report. A fixed 7 minutes did the same on the AMD EPYC the recognizer was tuned on; on a 2-core
    /// Intel Xeon that runs it 1.9 times slower its search took 2.4 minutes and the run 9.4, while every step it could
    /// have added counted (the same architecture read 81-84% of lines after 7 minutes, 88.3% after 14).
    /// </summary>
    const int DefaultTrainSteps = 2400;
    static readonly TimeSpan DefaultRunTime = TimeSpan.FromMinutes(10), AfterTraining = TimeSpan.FromSeconds(30);

    static readonly JsonSerializerOptions ReportJson = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase) },
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    public override int Run(Arguments args, TextWriter stdout, TextWriter stderr)
    {
        var messages = args.Value("--messages");
        try
        {
            return Adapt(args, stdout, stderr, messages);
        }
        catch (LamdaException e)
        {
            ToolMessage.Append(messages, ToolMessage.Error, e.Code, e.Message);
            throw;
        }
    }

    /// <summary>The request the options make; the build task makes the same one from item metadata.</summary>
    static AdaptRequest Request(Arguments args)
    {
        var path = args.Positional(0, "an ONNX model");
        args.NoMorePositionals(1);
        var request = new AdaptRequest
        {
            ModelPath = path,
            Latency = LatencyBudget.Parse(args.Required("--latency")),
            Device = args.Required("--device"),
            Generator = args.Value("--generator") ?? "search",
            Seed = args.Int("--seed", 0),
            MaxAccuracyDrop = args.Value("--max-accuracy-drop"),
            DataDirectory = args.Value("--data"),
            LlmModel = args.Value("--llm-model"),
            LlmContext = args.Value("--llm-context"),
            InputShape = args.Value(InputShapes.Option),
            FromLock = args.Value("--from-lock"),
            Train = !args.Flag("--no-train"),
            TrainTime = args.Value("--train-time"),
            TrainSteps = args.Value("--train-steps") != null ? args.Int("--train-steps", DefaultTrainSteps) : null,
        };
        if (!request.Train && (request.TrainTime != null || request.TrainSteps != null))
            throw new LamdaException(ErrorCodes.BadArgument,
                "--no-train turns fine-tuning off; it takes no --train-time or --train-steps.");
        if (request.TrainSteps == 0)
            throw new LamdaException(ErrorCodes.BadArgument, "--train-steps 0: give a positive number of steps, or --no-train.");
        if (request.TrainTime is { } time) FinetuneCommand.Duration(time);
        if (request.Generator is not ("search" or "llm"))
            throw new LamdaException(ErrorCodes.BadArgument,
                $"unknown generator '{request.Generator}'; use --generator search (the default) or --generator llm --llm-model M.gguf.");
        if (request.Generator == "llm" && request.LlmModel == null)
            throw new LamdaException(ErrorCodes.BadArgument,
                "--generator llm needs --llm-model PATH.gguf (a llama.cpp GGUF model; see README, 'The LLM generator').");
        if (request.Generator != "llm" && request.LlmModel != null)
            throw new LamdaException(ErrorCodes.BadArgument, "--llm-model is used only with --generator llm.");
        if (request.FromLock != null && args.Value("--write-lock") != null)
            throw new LamdaException(ErrorCodes.BadArgument, "use either --from-lock or --write-lock, not both.");
        if (request.FromLock != null && request.Generator == "llm")
            throw new LamdaException(ErrorCodes.BadArgument, "--from-lock replays a locked architecture; it takes no --generator llm.");
        return request;
    }

    static int Adapt(Arguments args, TextWriter stdout, TextWriter stderr, string? messages)
    {
        var started = DateTime.UtcNow;
        var request = Request(args);
        var path = request.ModelPath;
        var output = args.Required("--output");
        var writeLock = args.Value("--write-lock");
        ModelSource.CheckNotInput(output, path, args.Value("--report"));
        if (writeLock != null) ModelSource.CheckNotInput(writeLock, path, output);
        var (baseGraph, weights) = ModelSource.LoadOnnx(path);
        // Pinned outside the loop: prediction, measurement and reconstruction all run at the size the budget is for.
        var graph = request.InputShape is { } shape ? InputShapes.Parse(shape).Pin(baseGraph, path) : baseGraph;
        InputShapes.RequireStatic(graph, path);
        // Read before any work, so that a bad data folder fails in a second and not after the search.
        var data = request.DataDirectory is { } dir ? AdaptData.Load(dir, InputDims(graph), request.Seed) : null;
        if (data != null) stderr.WriteLine(DescribeData(data, request));
        // Checked before the device: calibrating the host first would make a hopeless model wait a minute.
        Runtime.ResourceLimits.CheckGraph(graph, weights, path);
        var progress = new StderrProgress(stderr);
        var profile = DeviceCatalog.Resolve(request.Device, () => HostProfiles.GetOrCreate(progress));
        if (profile.UncalibratedWarning is { } warning)
        {
            stderr.WriteLine("warning: " + warning);
            ToolMessage.Append(messages, ToolMessage.Warning, "LAMDA050", warning);
        }
        double? maxDrop = request.MaxAccuracyDrop is { } drop ? LatencyBudget.ParseFraction(drop, "--max-accuracy-drop") : null;
        if (maxDrop != null && data == null)
            throw new LamdaException(ErrorCodes.BadArgument, "--max-accuracy-drop needs --data DIR with validation inputs.");

        var lockText = request.FromLock is not { } fromLock ? null
            : File.Exists(fromLock) ? File.ReadAllText(fromLock)
            : throw new LamdaException(ErrorCodes.FileNotFound, $"{fromLock}: lock file not found.");
        // Loaded before the loop so that a bad GGUF fails fast, and disposed after it.
        using var llm = request.LlmModel is { } llmPath ? LoadLanguageModel(llmPath, args, stderr) : null;
        var options = Options(request, args, profile, data, maxDrop, lockText, llm) with
        {
            Training = request.Train && data?.Calibration != null ? Training(request, started) : null,
            TrainProgress = new TrainingProgress(stderr),
            BatchIsFree = baseGraph.Inputs[0].Type.Dims is { Length: > 0 } dims && (!dims[0].IsKnown || dims[0].Param != null),
        };
        var result = Adapter.Run(path, graph, weights, options, progress);
        InputShapes.RestoreInterface(result.Model, baseGraph);
        Provenance(request, profile, result).Stamp(result.Model);
        ModelFile.Save(result.Model, output);
        if (writeLock != null) AtomicFile.WriteText(writeLock, result.Text);
        if (args.Value("--report") is { } reportPath)
            AtomicFile.WriteText(reportPath, JsonSerializer.Serialize(result.Report, ReportJson) + "\n");
        // The uncalibrated device was reported above, with its own code: the report's copy is not repeated.
        foreach (var w in result.Report.Warnings.Where(w => w != profile.UncalibratedWarning))
        {
            stderr.WriteLine($"warning: {w}");
            // A model that cannot be fine-tuned says so with the training's own code, which names the operator.
            var code = w.Contains($"({ErrorCodes.NoGradient})") ? ErrorCodes.NoGradient : "LAMDA054";
            ToolMessage.Append(messages, ToolMessage.Warning, code, w);
        }
        stdout.WriteLine(SummaryLine(result.Report, request, output));
        return 0;
    }

    static AdaptOptions Options(AdaptRequest request, Arguments args, DeviceProfile profile, AdaptData? data, double? maxDrop,
        string? lockText, LlamaLanguageModel? llm)
    {
        int attempts = Math.Max(1, args.Int("--llm-attempts", 3));
        int seed = request.Seed;
        return new AdaptOptions
        {
            TargetMs = request.Latency.Ms ?? 0,
            TargetFraction = request.Latency.Fraction,
            Device = profile,
            MeasureOnHost = request.Device == DeviceCatalog.Host,
            Data = data,
            MaxAccuracyDrop = maxDrop,
            Seed = seed,
            MaxIterations = Math.Max(1, args.Int("--max-iterations", 12)),
            Generator = lockText != null ? (_, _, _, _) => new LockedGenerator(lockText, request.FromLock!)
                : llm != null ? (g, _, transfer, predictor) =>
                    new LlmGenerator(g, transfer, predictor, llm, new LlmOptions { Seed = seed, MaxAttempts = attempts })
                : null,
        };
    }

    static ModelProvenance Provenance(AdaptRequest request, DeviceProfile profile, AdaptationResult result)
    {
        var report = result.Report;
        var final = report.Final!;
        return new ModelProvenance
        {
            Version = LamdaPaths.Version,
            Device = profile.Name,
            DeviceProfileHash = ModelProvenance.Sha256(profile.ToJson()),
            Budget = request.Latency.ToString(),
            BudgetMs = report.TargetMs,
            AchievedMs = final.MeasuredMs ?? final.PredictedMs,
            AchievedKind = final.MeasuredMs != null ? "measured" : "predicted",
            BaseMs = report.Base.MeasuredMs ?? report.Base.PredictedMs,
            BaseModelHash = ModelProvenance.Sha256(File.ReadAllBytes(request.ModelPath)),
            Generator = report.Generator,
            Seed = report.Seed,
            InputShape = request.InputShape,
            Accuracy = final.Accuracy,
            BaseAccuracy = final.Accuracy != null ? report.Base.Accuracy : null,
            Fidelity = final.Fidelity,
        };
    }

    static string SummaryLine(AdaptationReport report, AdaptRequest request, string output)
    {
        string Fig(Figures x) => x.MeasuredMs is { } m ? $"{m:F3} ms measured" : $"{x.PredictedMs:F3} ms predicted";
        var b = report.Base;
        var f = report.Final!;
        var accuracy = f.Accuracy is { } a ? $", accuracy {b.Accuracy:P2} -> {a:P2}" : "";
        if (f.Fidelity is { } fidelity) accuracy += $", fidelity {fidelity:P2}";
        if (report.Training is { Skipped: null } t)
            accuracy += $", fine-tuned {t.Steps} steps" + (t.Kept ? "" : " (not kept: less faithful)");
        var target = request.Latency.Fraction != null ? $"{request.Latency} of base = {report.TargetMs:F3} ms" : $"{report.TargetMs:F3} ms";
        var iterations = $"{report.Iterations.Count} iteration(s)";
        return $"{report.Device}: base {Fig(b)} -> {Fig(f)} (target {target}, {iterations}{accuracy}); wrote {output}";
    }

    static long[] InputDims(Lamda.Graphs.Graph graph) =>
        graph.Inputs[0].Type.Dims?.Select(d => d.IsKnown ? d.Value : -1).ToArray() ?? [];

    static string DescribeData(AdaptData data, AdaptRequest request)
    {
        var calibration = data.Calibration is { } c ? $"{c.Shape[0]} calibration" : "no calibration";
        var judged = data.HasLabels ? "accuracy (labels)" : "fidelity with the base (no labels)";
        var training = !request.Train ? "no fine-tuning (--no-train)"
            : data.Calibration == null ? "no fine-tuning (no calibration inputs)" : "fine-tuning by distillation";
        return $"data: {calibration}, {data.Validation.Shape[0]} validation inputs ({data.Split}); judged on {judged}; {training}";
    }

    static TrainOptions Training(AdaptRequest request, DateTime started) => new()
    {
        Steps = request.TrainSteps ?? DefaultTrainSteps,
        TimeBudget = request.TrainTime is { } t ? FinetuneCommand.Duration(t) : null,
        FinishBy = request.TrainTime == null ? started + DefaultRunTime - AfterTraining : null,
        Seed = request.Seed,
        // Measured best by bench-distill on ppocr_cls (docs/benchmarks.md): the output loss weighs twice the features,
        // and 2e-3 beat 1e-3 (93.0% against 91.0% at 200 steps, 95.0% against 93.0% at 600) and 3e-3 (89.7%).
        FeatureWeight = 0.5f,
        LearningRate = 2e-3,
        // Without it the held-out recognizer learned its 160 calibration lines by heart (100% of their positions, 95.4% of
        // held-out ones, 67.7% of lines read); with it 96.7% and 76.7% in the same time.
        Jitter = true,
        // Strips of other lines pasted in: on one architecture and 7 minutes the recognizer read 78.0% of lines without, 89.0%
        // with (StripMix.Probability).
        Mix = true,
        // Half of the recognizer's 48x320 calibration pixels were padding. Other lines set in it, two architectures read
        // 82.3% and 84.0% of lines-val against 81.3% and 80.0% in the same 7 minutes, the same seeds (PaddingFill).
        Fill = true,
    };

    static LlamaLanguageModel LoadLanguageModel(string path, Arguments args, TextWriter stderr)
    {
        int? context = args.Value("--llm-context") != null ? args.Int("--llm-context", 0) : null;
        stderr.WriteLine($"loading LLM {path}...");
        var model = new LlamaLanguageModel(path, context);
        stderr.WriteLine($"LLM {model.Name}: context {model.ContextSize} tokens");
        return model;
    }
}

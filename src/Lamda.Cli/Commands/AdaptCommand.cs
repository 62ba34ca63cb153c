using System.Text.Json;
using System.Text.Json.Serialization;
using Lamda.Adaptation;
using Lamda.Data;
using Lamda.Latency;
using Lamda.Llm;
using Lamda.Onnx;

namespace Lamda.Cli.Commands;

public sealed class AdaptCommand : Command
{
    public override string Name => "adapt";
    public override string Summary => "adapt a model to a latency budget on a device (the closed loop)";
    public override string Usage => """
        Usage: lamda adapt MODEL.onnx --latency 5ms --device host|NAME|PROFILE.json -o OUT.onnx
                     [--report R.json] [--data DIR] [--max-accuracy-drop 2%] [--seed N]
                     [--generator search|llm --llm-model M.gguf [--llm-context N] [--llm-attempts N]]
                     [--max-iterations N] [--write-lock FILE.lamda | --from-lock FILE.lamda]

        Generates architectures from MODEL (search generator by default), validates each (syntax and interface,
        task, requirements), feeds the diagnostics back and regenerates until every constraint holds: latency at
        most the budget and within 5% of it, and with --data an accuracy drop of at most --max-accuracy-drop.
        On 'host' every candidate is measured with ONNX Runtime; on other devices the calibrated predictor is the
        metric. OUT.onnx keeps the base model's most important weights; it is written atomically, only on success.
          --latency T        budget: 5ms, 500us, 0.02s
          --data DIR         val_images + val_labels (.npy or .pb) to measure accuracy
          --report R.json    every iteration: hash, diff size, predicted/measured latency, accuracy, diagnostics
          --generator llm    a language model writes the architectures (grammar-constrained LamdaText); after
                             --llm-attempts answers (default 3) that fail validation, the search generator
                             takes over and the report says so
          --llm-model M      the GGUF model for --generator llm (llama.cpp format, run on the CPU)
          --llm-context N    context tokens (default: the model's, at most 8192); long models are sliced to fit
          --write-lock F     also write the chosen architecture as LamdaText (for review; replay with --from-lock)
          --from-lock F      no search: rebuild the architecture in F (validated, weights transferred from MODEL)
        """;
    public override string[] ValueOptions => ["--latency", "--device", "-o|--output", "--report", "--data", "--max-accuracy-drop", "--generator", "--seed", "--max-iterations", "--write-lock", "--from-lock", "--llm-model", "--llm-context", "--llm-attempts"];

    static readonly JsonSerializerOptions ReportJson = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase) },
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    public override int Run(Arguments args, TextWriter stdout, TextWriter stderr)
    {
        var path = args.Positional(0, "an ONNX model");
        args.NoMorePositionals(1);
        var target = LatencyBudget.ParseMs(args.Required("--latency"));
        var deviceName = args.Required("--device");
        var output = args.Required("--output");
        ModelSource.CheckNotInput(output, path, args.Value("--report"));
        var generatorName = args.Value("--generator") ?? "search";
        if (generatorName is not ("search" or "llm"))
            throw new LamdaException(ErrorCodes.BadArgument, $"unknown generator '{generatorName}'; use --generator search (the default) or --generator llm --llm-model M.gguf.");
        var llmPath = args.Value("--llm-model");
        if (generatorName == "llm" && llmPath == null)
            throw new LamdaException(ErrorCodes.BadArgument, "--generator llm needs --llm-model PATH.gguf (a llama.cpp GGUF model; see README, 'The LLM generator').");
        if (generatorName != "llm" && llmPath != null)
            throw new LamdaException(ErrorCodes.BadArgument, "--llm-model is used only with --generator llm.");
        var progress = new StderrProgress(stderr);
        var profile = DeviceCatalog.Resolve(deviceName, () => HostProfiles.GetOrCreate(progress));
        if (!profile.Calibrated) stderr.WriteLine($"warning: device '{profile.Name}' uses an uncalibrated estimate from public specs; run 'lamda device-profile' on the device for real figures.");
        var data = args.Value("--data") is { } dir ? DataSet.Load(dir) : null;
        double? maxDrop = args.Value("--max-accuracy-drop") is { } drop ? LatencyBudget.ParseFraction(drop, "--max-accuracy-drop") : null;
        if (maxDrop != null && data == null) throw new LamdaException(ErrorCodes.BadArgument, "--max-accuracy-drop needs --data DIR with validation images and labels.");

        var (graph, weights) = ModelSource.LoadOnnx(path);
        Lamda.Runtime.ResourceLimits.CheckGraph(graph, weights, path);
        var fromLock = args.Value("--from-lock");
        var writeLock = args.Value("--write-lock");
        if (fromLock != null && writeLock != null) throw new LamdaException(ErrorCodes.BadArgument, "use either --from-lock or --write-lock, not both.");
        if (writeLock != null) ModelSource.CheckNotInput(writeLock, path, output);
        var lockText = fromLock == null ? null
            : File.Exists(fromLock) ? File.ReadAllText(fromLock)
            : throw new LamdaException(ErrorCodes.FileNotFound, $"{fromLock}: lock file not found.");
        if (lockText != null && generatorName == "llm") throw new LamdaException(ErrorCodes.BadArgument, "--from-lock replays a locked architecture; it takes no --generator llm.");
        int seed = args.Int("--seed", 0);
        // Loaded before the loop so that a bad GGUF fails fast, and disposed after it.
        using var llm = llmPath == null ? null : LoadLanguageModel(llmPath, args, stderr);
        int attempts = Math.Max(1, args.Int("--llm-attempts", 3));
        var options = new AdaptOptions
        {
            TargetMs = target,
            Device = profile,
            MeasureOnHost = deviceName == DeviceCatalog.Host,
            Data = data,
            MaxAccuracyDrop = maxDrop,
            Seed = seed,
            MaxIterations = Math.Max(1, args.Int("--max-iterations", 12)),
            Generator = lockText != null ? (_, _, _, _) => new LockedGenerator(lockText, fromLock!)
                : llm != null ? (g, _, transfer, predictor) => new LlmGenerator(g, transfer, predictor, llm, new LlmOptions { Seed = seed, MaxAttempts = attempts })
                : null,
        };
        var result = Adapter.Run(path, graph, weights, options, progress);
        ModelFile.Save(result.Model, output);
        if (writeLock != null) AtomicFile.WriteText(writeLock, result.Text);
        if (args.Value("--report") is { } reportPath)
            AtomicFile.WriteText(reportPath, JsonSerializer.Serialize(result.Report, ReportJson) + "\n");
        foreach (var w in result.Report.Warnings) stderr.WriteLine($"warning: {w}");
        var b = result.Report.Base;
        var f = result.Report.Final!;
        string Fig(Figures x) => x.MeasuredMs is { } m ? $"{m:F3} ms measured" : $"{x.PredictedMs:F3} ms predicted";
        var accuracy = f.Accuracy is { } a ? $", accuracy {b.Accuracy:P2} -> {a:P2}" : "";
        stdout.WriteLine($"{profile.Name}: base {Fig(b)} -> {Fig(f)} (target {target:F3} ms, {result.Report.Iterations.Count} iteration(s){accuracy}); wrote {output}");
        return 0;
    }

    static LlamaLanguageModel LoadLanguageModel(string path, Arguments args, TextWriter stderr)
    {
        int? context = args.Value("--llm-context") != null ? args.Int("--llm-context", 0) : null;
        stderr.WriteLine($"loading LLM {path}...");
        var model = new LlamaLanguageModel(path, context);
        stderr.WriteLine($"LLM {model.Name}: context {model.ContextSize} tokens");
        return model;
    }
}

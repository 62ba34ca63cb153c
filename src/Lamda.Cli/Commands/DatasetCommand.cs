using Lamda.Latency;
using Lamda.Llm;
using Lamda.Onnx;

namespace Lamda.Cli.Commands;

internal sealed class DatasetCommand : Command
{
    public override string Name => "dataset";
    public override string Summary => "write fine-tuning data (JSONL chat pairs) from variants of real models";
    public override string Usage => """
        Usage: lamda dataset --models DIR --device host|NAME|PROFILE.json --variants N -o train.jsonl
                             [--seed N] [--emit-models DIR]

        For every .onnx file in DIR, makes N width variants with Lamda's graph surgery and writes one JSONL line
        per variant: {"messages":[system, user, assistant], "lamda":{...}}. The user turn is the LLM generator's
        question (device, target latency = the variant's latency, task, base architecture in LamdaText); the
        assistant turn is the variant's LamdaText. Labels are measured with ONNX Runtime for 'host' (as
        'lamda measure' does) and predicted otherwise (as 'lamda predict' does). Schema: docs/dataset.md.
          --emit-models DIR   also write each variant as ONNX (named in "lamda.file") to check its label
        """;
    public override string[] ValueOptions => ["--models", "--device", "--variants", "-o|--output", "--seed", "--emit-models"];

    public override int Run(Arguments args, TextWriter stdout, TextWriter stderr)
    {
        args.NoMorePositionals(0);
        var dir = args.Required("--models");
        var deviceName = args.Required("--device");
        var output = args.Required("--output");
        int variants = args.Int("--variants", 8);
        if (variants < 1) throw new LamdaException(ErrorCodes.BadArgument, "--variants must be at least 1.");
        if (!Directory.Exists(dir)) throw new LamdaException(ErrorCodes.FileNotFound, $"{dir}: --models folder not found.");
        var models = Directory.GetFiles(dir, "*.onnx").Order(StringComparer.Ordinal).ToList();
        if (models.Count == 0) throw new LamdaException(ErrorCodes.FileNotFound, $"{dir}: no .onnx models in the --models folder.");
        var progress = new StderrProgress(stderr);
        var profile = DeviceCatalog.Resolve(deviceName, () => HostProfiles.GetOrCreate(progress));
        var options = new TrainingSetOptions
        {
            Device = profile,
            Measure = deviceName == DeviceCatalog.Host,
            VariantsPerModel = variants,
            Seed = args.Int("--seed", 0),
            ModelsOutput = args.Value("--emit-models"),
        };
        int lines = 0;
        AtomicFile.Write(output, stream =>
        {
            using var writer = new StreamWriter(stream, new System.Text.UTF8Encoding(false), leaveOpen: true) { NewLine = "\n" };
            foreach (var model in models)
                foreach (var example in TrainingSet.Build(model, options, progress))
                {
                    writer.WriteLine(example.ToJsonLine());
                    lines++;
                }
        });
        stdout.WriteLine($"wrote {lines} examples from {models.Count} model(s) to {output} (labels " +
            $"{(options.Measure ? "measured on host" : $"predicted for {profile.Name}")})");
        return 0;
    }
}

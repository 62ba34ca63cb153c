using Lamda.Cli;
using Lamda.Cli.Commands;

return Cli.Run(args, Console.Out, Console.Error);

namespace Lamda.Cli
{
    /// <summary>
    /// Entry point of the <c>lamda</c> tool. Exit codes: 0 success, 1 user error (one line naming the
    /// input and what to do, never a stack trace), 2 internal error (a bug). With LAMDA_DEBUG=1 both also print
    /// the stack trace.
    /// </summary>
    internal static class Cli
    {
        public static readonly IReadOnlyList<Command> Commands =
        [
            new AdaptCommand(), new InspectCommand(), new SerializeCommand(), new DeserializeCommand(), new NormalizeCommand(),
            new SliceCommand(), new MeasureCommand(), new DevicesCommand(), new DeviceProfileCommand(), new PredictCommand(),
            new DatasetCommand(), new BenchCommand(), new BenchPredictorCommand(), new BenchAdaptCommand(), new BenchLoadCommand(),
            new BenchAccuracyCommand(), new BenchFuzzCommand(), new BenchDistillCommand(), new FinetuneCommand(), new BenchModelsCommand(),
            new EvaluateCommand(),
        ];

        public static int Run(string[] args, TextWriter stdout, TextWriter stderr)
        {
            if (args.Length == 0 || args[0] is "-h" or "--help" or "help")
            {
                PrintHelp(stdout);
                return args.Length == 0 ? 1 : 0;
            }
            if (args[0] == "--version")
            {
                stdout.WriteLine(typeof(Cli).Assembly.GetName().Version?.ToString(3));
                return 0;
            }
            var command = Commands.FirstOrDefault(c => c.Name == args[0]);
            if (command == null)
            {
                stderr.WriteLine($"lamda: unknown command '{args[0]}'. Commands: {string.Join(", ", Commands.Select(c => c.Name))}.");
                return 1;
            }
            var rest = args[1..];
            if (rest.Contains("--help") || rest.Contains("-h"))
            {
                stdout.WriteLine(command.Usage);
                return 0;
            }
            try
            {
                var parsed = Arguments.Parse(command.Name, rest, command.ValueOptions, command.FlagOptions);
                return command.Run(parsed, stdout, stderr);
            }
            catch (LamdaException e)
            {
                stderr.WriteLine($"lamda {command.Name}: error {e.Code}: {e.Message}");
                if (Environment.GetEnvironmentVariable("LAMDA_DEBUG") == "1") stderr.WriteLine(e.StackTrace);
                return 1;
            }
            catch (Exception e)
            {
                stderr.WriteLine($"lamda {command.Name}: internal error: {e.GetType().Name}: {e.Message}. This is a bug in Lamda; please " +
                    "report it with the input that caused it.");
                if (Environment.GetEnvironmentVariable("LAMDA_DEBUG") == "1") stderr.WriteLine(e);
                return 2;
            }
        }

        static void PrintHelp(TextWriter w)
        {
            w.WriteLine("lamda: adapts ONNX models to an edge device's latency budget (LAMDA).");
            w.WriteLine();
            w.WriteLine("Usage: lamda <command> [options]   (lamda <command> --help for details)");
            w.WriteLine();
            foreach (var c in Commands) w.WriteLine($"  {c.Name,-12} {c.Summary}");
        }
    }
}

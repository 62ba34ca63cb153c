using Lamda.Tests;

namespace Lamda.Cli.Tests;

/// <summary>Runs the real <c>lamda</c> entry point in-process, with a temporary folder for files.</summary>
public abstract class CliTestBase : IDisposable
{
    protected readonly string dir = Directory.CreateTempSubdirectory("lamda-cli-").FullName;

    public void Dispose()
    {
        Directory.Delete(dir, recursive: true);
        GC.SuppressFinalize(this);
    }

    protected static (int Code, string Out, string Err) Lamda(params string[] args)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        int code = Cli.Run(args, o, e);
        return (code, o.ToString(), e.ToString());
    }

    /// <summary>What 'lamda predict MODEL --device DEVICE --json' prints as latencyMs (4 decimals).</summary>
    protected static double PredictMs(string model, string device) =>
        System.Text.Json.JsonDocument.Parse(Lamda("predict", model, "--device", device, "--json").Out).RootElement.GetProperty("latencyMs").GetDouble();

    /// <summary>The sample model shipped in the repository.</summary>
    protected static string TinyNet => Path.Combine(Shared.RepoRoot, "samples", "models", "tinynet.onnx");
}

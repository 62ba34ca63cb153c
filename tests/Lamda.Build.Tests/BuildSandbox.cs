using System.Diagnostics;
using System.Security.Cryptography;
using Lamda.Tests;

namespace Lamda.Build.Tests;

/// <summary>
/// Real builds of small LamdaModel projects, with the task and the tool from this repository's output, and a
/// folder (project, cache) per test. Shared by the build, fault-injection and where-Lamda-writes tests.
/// </summary>
public abstract class BuildSandbox : IDisposable
{
    protected readonly string root = Directory.CreateTempSubdirectory("lamda-build-").FullName;
    protected string Cache => Path.Combine(root, "cache");
    /// <summary>The per-user cache the tool would fall back to; it must stay untouched (and out of ~/.cache).</summary>
    protected string UserCache => Path.Combine(root, "user-cache");
    protected const string Item = """<LamdaModel Include="models/tinynet.onnx" Latency="0.6ms" Device="jetson-nano" />""";

    public virtual void Dispose()
    {
        Directory.Delete(root, recursive: true);
        GC.SuppressFinalize(this);
    }

    static string Configuration =>
        AppContext.BaseDirectory.Contains($"{Path.DirectorySeparatorChar}Release{Path.DirectorySeparatorChar}") ? "Release" : "Debug";
    static string TaskAssembly => Path.Combine(Shared.RepoRoot, "src", "Lamda.Build", "bin", Configuration, "net10.0", "Lamda.Build.dll");
    protected static string Tool => Path.Combine(Shared.RepoRoot, "src", "Lamda.Cli", "bin", Configuration, "net10.0", "lamda.dll");
    static string BuildAssets => Path.Combine(Shared.RepoRoot, "build");

    /// <summary>
    /// Writes a console project named <paramref name="name"/> with the given LamdaModel item, the sample model in
    /// models/, and <paramref name="cache"/> (default: this test's) as its cache.
    /// </summary>
    protected string Project(string name, string item = Item, string? cache = null)
    {
        var dir = Path.Combine(root, name);
        Directory.CreateDirectory(Path.Combine(dir, "models"));
        var sample = Path.Combine(Shared.RepoRoot, "samples", "models", "tinynet.onnx");
        File.Copy(sample, Path.Combine(dir, "models", "tinynet.onnx"), overwrite: true);
        File.WriteAllText(Path.Combine(dir, name + ".csproj"), $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <Import Project="{BuildAssets}/Lamda.Build.props" />
              <PropertyGroup>
                <OutputType>Exe</OutputType>
                <TargetFramework>net10.0</TargetFramework>
                <RootNamespace>Counter</RootNamespace>
                <LamdaTasksAssembly>{TaskAssembly}</LamdaTasksAssembly>
                <LamdaToolPath>{Tool}</LamdaToolPath>
                <LamdaCacheDirectory>{cache ?? Cache}</LamdaCacheDirectory>
              </PropertyGroup>
              <ItemGroup>
                {item}
              </ItemGroup>
              <Import Project="{BuildAssets}/Lamda.Build.targets" />
            </Project>
            """);
        File.WriteAllText(Path.Combine(dir, "Program.cs"), "System.Console.WriteLine(typeof(object).Assembly.GetName().Name);\n");
        return Path.Combine(dir, name + ".csproj");
    }

    protected Dictionary<string, string> Environment => new() { ["LAMDA_CACHE_DIR"] = UserCache };

    protected (int Code, string Log) Build(string project, params string[] extra) =>
        ChildProcess.Run(Path.GetDirectoryName(project)!, Environment, "dotnet", ["build", project, "-v:n", "-nodeReuse:false", .. extra]);

    protected Process StartBuild(string project)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = Path.GetDirectoryName(project)!, RedirectStandardOutput = true, RedirectStandardError = true,
        };
        foreach (var a in new[] { "build", project, "-v:n", "-nodeReuse:false" }) start.ArgumentList.Add(a);
        // As ChildProcess does: the test host's MSBuild settings must not leak into the child build.
        var msbuild = start.Environment.Keys.Where(k => k.StartsWith("MSBuild", StringComparison.OrdinalIgnoreCase) || k == "MSBUILD_EXE_PATH");
        foreach (var key in msbuild.ToList())
            start.Environment.Remove(key);
        foreach (var (k, v) in Environment) start.Environment[k] = v;
        var p = Process.Start(start)!;
        p.OutputDataReceived += (_, _) => { };
        p.ErrorDataReceived += (_, _) => { };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        return p;
    }

    protected static string AdaptedModel(string project) =>
        Path.Combine(Path.GetDirectoryName(project)!, "obj", "Debug", "net10.0", "lamda", "tinynet.jetson-nano.onnx");

    /// <summary>Every file under <paramref name="dir"/> with its SHA-256, by path relative to it.</summary>
    protected static Dictionary<string, string> Snapshot(string dir) =>
        Directory.Exists(dir)
            ? Directory.EnumerateFiles(dir, "*", SearchOption.AllDirectories)
                .ToDictionary(f => Path.GetRelativePath(dir, f), f => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(f))))
            : [];

    /// <summary>Paths added, removed or changed between two snapshots.</summary>
    protected static List<string> Changed(Dictionary<string, string> before, Dictionary<string, string> after) =>
        before.Keys.Union(after.Keys).Where(k => before.GetValueOrDefault(k) != after.GetValueOrDefault(k))
            .Order(StringComparer.Ordinal).ToList();

    /// <summary>The user's own files of a project: everything but obj/ and bin/.</summary>
    protected static Dictionary<string, string> UserFiles(string project) =>
        Snapshot(Path.GetDirectoryName(project)!)
            .Where(kv => !kv.Key.StartsWith("obj/", StringComparison.Ordinal) && !kv.Key.StartsWith("bin/", StringComparison.Ordinal))
            .ToDictionary();

    /// <summary>A running process whose command line contains every fragment (the lamda tool of this test's build).</summary>
    protected static int? FindProcess(params string[] fragments)
    {
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out int pid)) continue;
            string cmdline;
            try { cmdline = File.ReadAllText(Path.Combine(dir, "cmdline")).Replace('\0', ' '); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { continue; }
            if (fragments.All(cmdline.Contains)) return pid;
        }
        return null;
    }
}

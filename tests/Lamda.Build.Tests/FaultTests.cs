using System.Diagnostics;
using System.Security.Cryptography;
using Lamda.Tests;

namespace Lamda.Build.Tests;

/// <summary>
/// Real builds of small LamdaModel projects, with the task and the tool from this repository's output, and a
/// folder (project, cache) per test. Shared by the fault-injection tests.
/// </summary>
public abstract class BuildSandbox : IDisposable
{
    protected readonly string root = Directory.CreateTempSubdirectory("lamda-fault-").FullName;
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

/// <summary>Facts that need root (mounting a small or read-only tmpfs); skipped with a reason otherwise.</summary>
public sealed class RootFactAttribute : FactAttribute
{
    public RootFactAttribute()
    {
        if (!OperatingSystem.IsLinux()) Skip = "needs Linux mounts (tmpfs)";
        else if (System.Environment.UserName != "root") Skip = "needs root to mount a small or read-only tmpfs; CI runs as root";
    }
}

/// <summary>
/// Faults during builds: the tool killed with SIGKILL at two points, a read-only and a full cache, a stale lock
/// file from a dead process. After each, the user's files are untouched and the next build is correct.
/// </summary>
public sealed class FaultTests : BuildSandbox
{
    readonly List<string> mounts = [];

    public override void Dispose()
    {
        foreach (var m in mounts) ChildProcess.Run(root, [], "umount", m);
        base.Dispose();
    }

    /// <summary>
    /// Starts a build and SIGKILLs the lamda tool once <paramref name="when"/> holds (polled every 5 ms).
    /// Returns false when the tool finished before the moment came.
    /// </summary>
    bool BuildAndKillTool(string project, Func<bool> when)
    {
        using var build = StartBuild(project);
        bool killed = false;
        while (!build.HasExited && !killed)
        {
            if (FindProcess(Tool, Cache) is { } pid && when())
            {
                try { Process.GetProcessById(pid).Kill(); killed = true; }
                catch (Exception e) when (e is ArgumentException or InvalidOperationException) { } // it exited first
            }
            Thread.Sleep(5);
        }
        build.WaitForExit();
        return killed && build.ExitCode != 0;
    }

    [Fact]
    public void ToolKilledDuringSynthesisOrItsCacheWriteLeavesNoTornEntryAndTheNextBuildMakesTheSameModel()
    {
        var reference = Project("reference", cache: Path.Combine(root, "reference-cache"));
        var r = Build(reference);
        Assert.True(r.Code == 0, r.Log);
        var expected = File.ReadAllBytes(AdaptedModel(reference));

        var project = Project("app");
        var tmp = Path.Combine(Cache, "tmp");
        var moments = new (string Name, Func<bool> When)[]
        {
            ("synthesis", () => true),                                                               // as soon as the tool runs
            ("cache write", () => Directory.Exists(tmp) && Directory.EnumerateFiles(tmp).Any()),     // its output is being written
        };
        foreach (var (name, when) in moments)
        {
            bool killed = false;
            for (int attempt = 0; attempt < 5 && !killed; attempt++) killed = BuildAndKillTool(project, when);
            Assert.True(killed, $"the tool was never caught during {name}");
            var models = Path.Combine(Cache, "models");
            Assert.False(Directory.Exists(models) && Directory.EnumerateFiles(models, "*.json").Any(),
                $"a cache entry exists after the tool was killed during {name}");

            var next = Build(project);
            Assert.True(next.Code == 0, next.Log);
            Assert.Contains("Lamda: adapting", next.Log);
            Assert.Equal(expected, File.ReadAllBytes(AdaptedModel(project)));
            Assert.Empty(Directory.GetFiles(tmp));
            // Back to a cold cache and a clean project for the next moment.
            Directory.Delete(Path.Combine(Cache, "models"), recursive: true);
            Directory.Delete(Path.Combine(Path.GetDirectoryName(project)!, "obj"), recursive: true);
        }
    }

    [Fact]
    public void TornEntriesLeftByAKilledStoreAreRebuiltToTheSameModel()
    {
        var project = Project("app");
        var first = Build(project);
        Assert.True(first.Code == 0, first.Log);
        var expected = File.ReadAllBytes(AdaptedModel(project));
        var models = Path.Combine(Cache, "models");
        var entry = Directory.GetFiles(models, "*.json").Single();
        var model = Path.ChangeExtension(entry, ".onnx");
        var key = Path.GetFileNameWithoutExtension(entry);
        // The states a SIGKILL inside Store can leave: the model moved but its entry never written, a half
        // written temporary of the entry, and a partial tool output in tmp/.
        File.Delete(entry);
        File.WriteAllBytes(model, File.ReadAllBytes(model)[..1000]);
        File.WriteAllText(Path.Combine(models, $".{key}.json.1.0.tmp"), "{\"Sha");
        File.WriteAllBytes(Path.Combine(Cache, "tmp", $"{key}.99999.0.onnx"), expected[..500]);
        Directory.Delete(Path.Combine(Path.GetDirectoryName(project)!, "obj"), recursive: true);

        var next = Build(project);
        Assert.True(next.Code == 0, next.Log);
        Assert.Contains("Lamda: adapting", next.Log);
        Assert.Equal(expected, File.ReadAllBytes(AdaptedModel(project)));
        Assert.Equal(expected, File.ReadAllBytes(model));
        Assert.Empty(Directory.GetFiles(Path.Combine(Cache, "tmp")));
    }

    [Fact]
    public void AStaleLockFromADeadProcessDoesNotBlockTheNextBuild()
    {
        var project = Project("app");
        var first = Build(project);
        Assert.True(first.Code == 0, first.Log);
        var entry = Directory.GetFiles(Path.Combine(Cache, "models"), "*.json").Single();
        var lockFile = Path.Combine(Cache, "locks", Path.GetFileNameWithoutExtension(entry) + ".lock");
        Assert.True(File.Exists(lockFile));
        // A process takes the lock as a build does (flock, what FileShare.None is on Unix) and dies by SIGKILL.
        // The shell opens the file, flock(1) locks that open file, and the shell becomes 'sleep' holding it.
        using (var holder = Process.Start("sh", ["-c", "exec 9>>\"$0\"; flock 9; exec sleep 600", lockFile]))
        {
            var deadline = DateTime.UtcNow.AddSeconds(20);
            while (ChildProcess.Run(root, [], "flock", "-n", lockFile, "true").Code == 0 && DateTime.UtcNow < deadline) Thread.Sleep(50);
            try { Assert.NotEqual(0, ChildProcess.Run(root, [], "flock", "-n", lockFile, "true").Code); } // really held
            finally
            {
                holder.Kill();
                holder.WaitForExit();
            }
        }
        Assert.Equal(0, ChildProcess.Run(root, [], "flock", "-n", lockFile, "true").Code); // the dead holder's lock is gone, its file stays
        Assert.True(File.Exists(lockFile));
        Directory.Delete(Path.Combine(Cache, "models"), recursive: true);
        Directory.Delete(Path.Combine(Path.GetDirectoryName(project)!, "obj"), recursive: true);

        var next = Build(project);
        Assert.True(next.Code == 0, next.Log);
        Assert.Contains("Lamda: adapting", next.Log);
    }

    void Mount(string dir, string options)
    {
        Directory.CreateDirectory(dir);
        var (code, log) = ChildProcess.Run(root, [], "mount", "-t", "tmpfs", "-o", options, "tmpfs", dir);
        Assert.True(code == 0, log);
        mounts.Add(dir);
    }

    [RootFact]
    public void AReadOnlyCacheIsACodedErrorAndTheUsersFilesAreUntouched()
    {
        Mount(Cache, "ro,size=1m");
        var project = Project("app");
        var before = UserFiles(project);
        var r = Build(project);
        Assert.NotEqual(0, r.Code);
        Assert.Contains("error LAMDA007", r.Log);
        Assert.Contains(Cache, r.Log);
        Assert.DoesNotContain("MSB4018", r.Log); // the task did not crash
        Assert.Empty(Changed(before, UserFiles(project)));
    }

    [RootFact]
    public void AFullDiskIsACodedErrorAndTheUsersFilesAreUntouched()
    {
        Mount(Cache, "size=12k"); // room for the lock and folders, not for the adapted model (tens of KB)
        var project = Project("app");
        var before = UserFiles(project);
        var r = Build(project);
        Assert.NotEqual(0, r.Code);
        Assert.Contains("error LAMDA007", r.Log);
        Assert.DoesNotContain("MSB4018", r.Log);
        Assert.Empty(Changed(before, UserFiles(project)));
        Assert.False(File.Exists(AdaptedModel(project)));
    }
}

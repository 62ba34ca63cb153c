using System.Diagnostics;
using System.Security.Cryptography;
using Lamda.Tests;

namespace Lamda.Build.Tests;

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

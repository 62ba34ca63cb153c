namespace Lamda.Build.Tests;

/// <summary>
/// A full adaptation and build with the whole file tree compared before and after: Lamda writes only into obj/,
/// the build output (bin/), the lock file when Lock="true" asks for it, and the cache it is given.
/// </summary>
public sealed class WhereLamdaWritesTests : BuildSandbox
{
    [Fact]
    public void ABuildChangesNothingOutsideObjTheOutputTheLockFileAndTheCache()
    {
        var project = Project("app", """<LamdaModel Include="models/tinynet.onnx" Latency="0.6ms" Device="jetson-nano" Lock="true" />""");
        var restore = ChildProcess.Run(root, Environment, "dotnet", "restore", project, "-nodeReuse:false");
        Assert.True(restore.Code == 0, restore.Log);
        var before = Snapshot(root);

        var r = Build(project);
        Assert.True(r.Code == 0, r.Log);
        var after = Snapshot(root);

        var lockFile = Path.Combine("app", "models", "tinynet.jetson-nano.lamda");
        bool Allowed(string path) =>
            path.StartsWith("app/obj/", StringComparison.Ordinal) || path.StartsWith("app/bin/", StringComparison.Ordinal) ||
            path == lockFile || path.StartsWith("cache/", StringComparison.Ordinal);
        var changed = Changed(before, after);
        Assert.DoesNotContain(changed, p => !Allowed(p));
        Assert.Contains(lockFile, changed);
        Assert.Contains(changed, p => p.StartsWith("cache/models/", StringComparison.Ordinal));
        Assert.False(Directory.Exists(UserCache), "the tool wrote into the per-user cache during a build with its own cache");
        // Nothing half-written is left behind anywhere.
        Assert.DoesNotContain(after.Keys, p => p.EndsWith(".tmp", StringComparison.Ordinal));
        Assert.Empty(Directory.GetFiles(System.IO.Path.Combine(Cache, "tmp")));

        // The next build replays the lock file (a cache entry of its own) and never rewrites it or any user file.
        var again = Build(project);
        Assert.True(again.Code == 0, again.Log);
        var replayed = Changed(after, Snapshot(root));
        Assert.DoesNotContain(replayed, p => !Allowed(p) || p == lockFile);
    }

    [Fact]
    public void EightProjectsInOneParallelBuildSynthesizeOncePerKeyWithIdenticalOutputs()
    {
        // Two distinct keys (two budgets), four projects each, all sharing one cache.
        var projects = Enumerable.Range(0, 8).Select(i => Project($"p{i}",
            $"""<LamdaModel Include="models/tinynet.onnx" Latency="{(i % 2 == 0 ? "0.6ms" : "0.8ms")}" Device="jetson-nano" />"""))
            .ToList();
        var traversal = System.IO.Path.Combine(root, "all.proj");
        File.WriteAllText(traversal, $"""
            <Project>
              <ItemGroup>{string.Concat(projects.Select(p => $"<ProjectReference Include=\"{p}\" />"))}</ItemGroup>
              <Target Name="Build">
                <MSBuild Projects="@(ProjectReference)" Targets="Restore" Properties="_Restore=1" />
                <MSBuild Projects="@(ProjectReference)" BuildInParallel="true" />
              </Target>
            </Project>
            """);
        var r = ChildProcess.Run(root, Environment, "dotnet", "build", traversal, "-m:8", "-v:n", "-nodeReuse:false");
        Assert.True(r.Code == 0, r.Log);
        var lines = r.Log.Split('\n');
        Assert.Equal(2, lines.Count(l => l.Contains("Lamda: adapting")));
        // The task's detail line ("...: cache hit KEY"), not the one-line summary that ends in "; cache hit".
        Assert.Equal(6, lines.Count(l => l.Contains(": cache hit ")));
        Assert.Equal(6, lines.Count(l => l.TrimEnd().EndsWith("; cache hit", StringComparison.Ordinal)));
        Assert.Equal(2, Directory.GetFiles(System.IO.Path.Combine(Cache, "models"), "*.onnx").Length);
        Assert.Empty(Directory.GetFiles(System.IO.Path.Combine(Cache, "tmp")));
        Assert.Empty(Directory.EnumerateFiles(root, "*.tmp", SearchOption.AllDirectories));
        foreach (var group in projects.Select((p, i) => (p, i)).GroupBy(x => x.i % 2))
        {
            var outputs = group.Select(x => File.ReadAllBytes(AdaptedModel(x.p))).ToList();
            Assert.All(outputs, o => Assert.Equal(outputs[0], o));
        }
        Assert.NotEqual(File.ReadAllBytes(AdaptedModel(projects[0])), File.ReadAllBytes(AdaptedModel(projects[1])));
    }
}

using System.Diagnostics;
using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;
using Lamda.Runtime;
using Lamda.Tests;

namespace Lamda.Build.Tests;

/// <summary>
/// Real <c>dotnet build</c> runs of small projects that use LamdaModel items, with the task and the tool from
/// this repository's build output. Each test has its own folder and cache.
/// </summary>
public class BuildTests : BuildSandbox
{
    static (int Code, string Log) Dotnet(string workingDirectory, params string[] args) => ChildProcess.Run(workingDirectory, [], "dotnet", args);

    internal static Dictionary<string, byte[]> EmbeddedResources(string assembly)
    {
        using var stream = File.OpenRead(assembly);
        using var pe = new PEReader(stream);
        var md = pe.GetMetadataReader();
        var result = new Dictionary<string, byte[]>();
        var resources = pe.GetSectionData(pe.PEHeaders.CorHeader!.ResourcesDirectory.RelativeVirtualAddress);
        foreach (var handle in md.ManifestResources)
        {
            var r = md.GetManifestResource(handle);
            var reader = resources.GetReader((int)r.Offset, resources.Length - (int)r.Offset);
            int length = reader.ReadInt32();
            result[md.GetString(r.Name)] = reader.ReadBytes(length);
        }
        return result;
    }

    [Fact]
    public void BuildEmbedsTheAdaptedModelAndRebuildsOnlyWhenNeeded()
    {
        var project = Project("app", """<LamdaModel Include="models/tinynet.onnx" Latency="0.6ms" Device="jetson-nano" />""");
        var dir = Path.GetDirectoryName(project)!;
        var first = Build(project);
        Assert.True(first.Code == 0, first.Log);
        Assert.Contains("Lamda: adapting models/tinynet.onnx to 0.6ms on jetson-nano", first.Log);
        Assert.Contains("warning LAMDA050", first.Log);

        var output = Path.Combine(dir, "obj", "Debug", "net10.0", "lamda", "tinynet.jetson-nano.onnx");
        var embedded = EmbeddedResources(Path.Combine(dir, "bin", "Debug", "net10.0", "app.dll"));
        Assert.Equal(File.ReadAllBytes(output), embedded["Counter.tinynet.onnx"]);
        // The embedded model is the adapted one: it runs, keeps the interface, and is smaller than the base.
        using (var runner = new ModelRunner(embedded["Counter.tinynet.onnx"]))
        {
            var result = runner.Run(new Dictionary<string, TensorData> { ["input"] = new(1, [1, 3, 32, 32], new float[3 * 32 * 32]) });
            Assert.Equal(new long[] { 1, 10 }, result["output"].Shape);
        }
        Assert.True(embedded["Counter.tinynet.onnx"].Length < new FileInfo(Path.Combine(dir, "models", "tinynet.onnx")).Length);

        var second = Build(project);
        Assert.True(second.Code == 0, second.Log);
        Assert.Contains("Skipping target \"_LamdaAdaptModels\" because all output files are up-to-date", second.Log);
        Assert.DoesNotContain("Lamda: adapting", second.Log);

        File.WriteAllText(project, File.ReadAllText(project).Replace("Latency=\"0.6ms\"", "Latency=\"0.8ms\""));
        var third = Build(project);
        Assert.True(third.Code == 0, third.Log);
        Assert.Contains("Lamda: adapting models/tinynet.onnx to 0.8ms", third.Log);

        Assert.Equal(0, Dotnet(dir, "clean", project, "-nodeReuse:false").Code);
        Assert.False(File.Exists(output));
        var afterClean = Build(project);
        Assert.Contains("cache hit", afterClean.Log);
        Assert.DoesNotContain("Lamda: adapting", afterClean.Log);
    }

    /// <summary>The <c>lamda.*</c> metadata of a model as an app sees it: through ONNX Runtime's model metadata.</summary>
    internal static Dictionary<string, string> LamdaMetadata(byte[] model)
    {
        using var session = new Microsoft.ML.OnnxRuntime.InferenceSession(model);
        return session.ModelMetadata.CustomMetadataMap.Where(kv => kv.Key.StartsWith("lamda.", StringComparison.Ordinal))
            .ToDictionary(kv => kv.Key, kv => kv.Value);
    }

    /// <summary>The summary line the task logs for an item at the default verbosity.</summary>
    internal static string SummaryOf(string log, string item) =>
        log.Split('\n').Single(l => l.Contains($"Lamda: {item} on ", StringComparison.Ordinal) && l.Contains("; cache ", StringComparison.Ordinal));

    /// <summary>
    /// A project's own device profile (jetson-nano's figures, named "dev") in dev.json and a data folder of 8 images
    /// with labels, as the consumer tests use them.
    /// </summary>
    internal static (string ProfilePath, Latency.DeviceProfile Profile, string Labels) WriteDeviceAndData(string dir)
    {
        var profilePath = Path.Combine(dir, "dev.json");
        var profile = Latency.DeviceCatalog.BuiltIn.Single(p => p.Name == "jetson-nano") with { Name = "dev" };
        profile.Save(profilePath);
        var labels = Path.Combine(dir, "data", "val_labels.npy");
        Npy.WriteImages(Path.Combine(dir, "data", "val_images.npy"), count: 8, seed: 1);
        Npy.WriteLabels(labels, [1, 2, 3, 4, 5, 6, 7, 8]);
        return (profilePath, profile, labels);
    }

    [Fact]
    public void DeviceProfileAndDataFilesAreInputsAndTheModelRecordsItsProvenance()
    {
        var project = Project("consumer", """<LamdaModel Include="models/tinynet.onnx" Latency="0.6ms" Device="dev.json" Data="data" />""");
        var dir = Path.GetDirectoryName(project)!;
        var (profilePath, profile, labels) = WriteDeviceAndData(dir);

        // The default verbosity: one summary line with the achieved latency; the tool's warning with its code.
        var first = Dotnet(dir, "build", project, "-nodeReuse:false");
        Assert.True(first.Code == 0, first.Log);
        var summary = SummaryOf(first.Log, "models/tinynet.onnx");
        Assert.Matches(@"on dev: budget 0\.600 ms, achieved 0\.\d{3} ms predicted \(base \d+\.\d{3} ms\)", summary);
        Assert.EndsWith("cache miss", summary.TrimEnd());
        var warning = first.Log.Split('\n').First(l => l.Contains("warning LAMDA050"));
        Assert.Contains("consumer.csproj", warning);
        Assert.Contains("LamdaModel 'models/tinynet.onnx'", warning);

        var embedded = EmbeddedResources(Path.Combine(dir, "bin", "Debug", "net10.0", "consumer.dll"))["Counter.tinynet.onnx"];
        var meta = LamdaMetadata(embedded);
        Assert.Equal("dev", meta["lamda.device"]);
        Assert.Equal("0.6ms", meta["lamda.budget"]);
        Assert.Equal("predicted", meta["lamda.achieved_kind"]);
        Assert.Equal(Onnx.ModelProvenance.Sha256(File.ReadAllBytes(Path.Combine(dir, "models", "tinynet.onnx"))), meta["lamda.base_model_sha256"]);
        Assert.Equal(Onnx.ModelProvenance.Sha256(Latency.DeviceProfile.Load(profilePath).ToJson()), meta["lamda.device_profile_sha256"]);
        Assert.True(double.Parse(meta["lamda.achieved_ms"], System.Globalization.CultureInfo.InvariantCulture) <= 0.6);
        Assert.True(meta.ContainsKey("lamda.accuracy") && meta.ContainsKey("lamda.version") && meta.ContainsKey("lamda.seed"));

        Assert.Contains("Skipping target \"_LamdaAdaptModels\" because all output files are up-to-date", Build(project).Log);

        // Recalibrating the device changes the profile's content, not the project: the model is adapted again.
        (profile with { Description = profile.Description + " (recalibrated)" }).Save(profilePath);
        var recalibrated = Build(project);
        Assert.True(recalibrated.Code == 0, recalibrated.Log);
        Assert.Contains("Lamda: adapting models/tinynet.onnx", recalibrated.Log);
        Assert.NotEqual(meta["lamda.device_profile_sha256"], LamdaMetadata(File.ReadAllBytes(OutputOf(dir, "dev")))["lamda.device_profile_sha256"]);

        Npy.WriteLabels(labels, [0, 0, 0, 0, 1, 1, 1, 1]);
        var relabelled = Build(project);
        Assert.True(relabelled.Code == 0, relabelled.Log);
        Assert.Contains("Lamda: adapting models/tinynet.onnx", relabelled.Log);
    }

    static string OutputOf(string dir, string deviceTag, string model = "tinynet") =>
        Path.Combine(dir, "obj", "Debug", "net10.0", "lamda", $"{model}.{deviceTag}.onnx");

    [Fact]
    public void LamdaDevicePropertyAdaptsEveryItemForThatDevice()
    {
        var project = Project("matrix", """
            <LamdaModel Include="models/tinynet.onnx" Latency="0.6ms" />
            <LamdaModel Include="models/second.onnx" Latency="70%" LogicalName="second.onnx" />
            """);
        var dir = Path.GetDirectoryName(project)!;
        File.Copy(Path.Combine(dir, "models", "tinynet.onnx"), Path.Combine(dir, "models", "second.onnx"));
        var r = Dotnet(dir, "build", project, "-nodeReuse:false", "-p:LamdaDevice=raspberry-pi-4");
        Assert.True(r.Code == 0, r.Log);
        foreach (var model in new[] { "tinynet", "second" })
        {
            var meta = LamdaMetadata(File.ReadAllBytes(OutputOf(dir, "raspberry-pi-4", model)));
            Assert.Equal("raspberry-pi-4", meta["lamda.device"]);
            Assert.Contains("on raspberry-pi-4: budget", SummaryOf(r.Log, $"models/{model}.onnx"));
        }
        // The relative budget is reported in both forms.
        Assert.Matches(@"budget 70% of base = \d+\.\d{3} ms", SummaryOf(r.Log, "models/second.onnx"));
        Assert.Empty(Directory.GetFiles(Path.GetDirectoryName(OutputOf(dir, "host"))!, "*.host.onnx"));
    }

    /// <summary>Processes whose command line contains <paramref name="marker"/> (Linux: /proc).</summary>
    static List<int> ProcessesWith(string marker) => Directory.GetDirectories("/proc")
        .Select(d => int.TryParse(Path.GetFileName(d), out var pid) ? pid : -1).Where(pid => pid > 0)
        .Where(pid => { try { return File.ReadAllText($"/proc/{pid}/cmdline").Contains(marker, StringComparison.Ordinal); } catch (IOException) { return false; } catch (UnauthorizedAccessException) { return false; } })
        .ToList();

    [Fact]
    public void CancellingTheBuildStopsTheToolAndLogsItsCommandLine()
    {
        if (!OperatingSystem.IsLinux()) return; // sends SIGINT and reads /proc
        // On host the tool first profiles this machine (a fresh LAMDA_CACHE_DIR): long enough to be cancelled mid-way.
        var project = Project("cancel", """<LamdaModel Include="models/tinynet.onnx" Latency="0.2ms" Device="host" />""");
        var dir = Path.GetDirectoryName(project)!;
        // Through coreutils' timeout (no time limit), which passes SIGINT on: a test run started in the background by a shell
        // without job control inherits SIGINT ignored, and so did the build, which then ran to the end with exit code 0.
        var start = new ProcessStartInfo("timeout") { WorkingDirectory = dir, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { "0", "dotnet", "build", project, "-v:n", "-nodeReuse:false" }) start.ArgumentList.Add(a);
        foreach (var key in start.Environment.Keys.Where(k => k.StartsWith("MSBuild", StringComparison.OrdinalIgnoreCase)).ToList()) start.Environment.Remove(key);
        start.Environment["LAMDA_CACHE_DIR"] = Path.Combine(root, "user-cache");
        using var build = Process.Start(start)!;
        var log = new System.Text.StringBuilder();
        var commandLogged = new ManualResetEventSlim();
        void Collect(string? line)
        {
            if (line == null) return;
            lock (log) log.AppendLine(line);
            if (line.Contains("lamda.dll adapt", StringComparison.Ordinal)) commandLogged.Set();
        }
        build.OutputDataReceived += (_, e) => Collect(e.Data);
        build.ErrorDataReceived += (_, e) => Collect(e.Data);
        build.BeginOutputReadLine();
        build.BeginErrorReadLine();
        var output = Path.Combine(Cache, "tmp");
        Assert.True(commandLogged.Wait(TimeSpan.FromMinutes(5)), log.ToString()); // the command line, at normal verbosity
        // The command line is logged just before the tool starts.
        Assert.True(SpinWait.SpinUntil(() => ProcessesWith(output).Count > 0, TimeSpan.FromMinutes(1)), log.ToString());

        Assert.Equal(0, Process.Start("kill", ["-INT", build.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]).WaitForExitAndCode());
        Assert.True(build.WaitForExit(TimeSpan.FromMinutes(2)), "the build did not stop after Ctrl+C");
        Assert.NotEqual(0, build.ExitCode);
        Assert.Empty(ProcessesWith(output)); // the tool was killed with the build
        Assert.False(File.Exists(OutputOf(dir, "host")));
    }

    [Fact]
    public void LockFileIsWrittenThenReplayedWithoutSearch()
    {
        var project = Project("locked", """<LamdaModel Include="models/tinynet.onnx" Latency="0.6ms" Device="jetson-nano" Lock="true" />""");
        var dir = Path.GetDirectoryName(project)!;
        var lockFile = Path.Combine(dir, "models", "tinynet.jetson-nano.lamda");
        var first = Build(project);
        Assert.True(first.Code == 0, first.Log);
        Assert.True(File.Exists(lockFile));
        var text = File.ReadAllText(lockFile);
        Assert.StartsWith("lamdatext 1", text);
        var output = Path.Combine(dir, "obj", "Debug", "net10.0", "lamda", "tinynet.jetson-nano.onnx");
        var adapted = File.ReadAllBytes(output);

        // A reviewer narrows the Concat branches in the lock (consistently along every edge); the build replays it.
        var edited = string.Join('\n', text.Split('\n').Select(l =>
            l.StartsWith("n11 ", StringComparison.Ordinal) || l.StartsWith("n13 ", StringComparison.Ordinal) ? System.Text.RegularExpressions.Regex.Replace(l, @"ch=(\d+):\d+", "ch=$1:8")
            : l.StartsWith("n12 ", StringComparison.Ordinal) || l.StartsWith("n14 ", StringComparison.Ordinal) ? System.Text.RegularExpressions.Regex.Replace(l, @"ch=\d+:\d+", "ch=8:8")
            : l.StartsWith("n15 ", StringComparison.Ordinal) ? System.Text.RegularExpressions.Regex.Replace(l, @"ch=\d+:\d+", "ch=8:16")
            : l.StartsWith("n16 ", StringComparison.Ordinal) ? System.Text.RegularExpressions.Regex.Replace(l, @"ch=\d+:", "ch=16:")
            : l));
        File.WriteAllText(lockFile, edited);
        var replay = Build(project);
        Assert.True(replay.Code == 0, replay.Log);
        Assert.Contains("(lock)", replay.Log);
        Assert.DoesNotContain("(search)", replay.Log);
        Assert.Equal(edited, File.ReadAllText(lockFile)); // never overwritten
        Assert.NotEqual(adapted, File.ReadAllBytes(output));
    }

    [Fact]
    public void SampleAppBuildsWithItsAdaptedModelAndRuns()
    {
        var sample = Path.Combine(Shared.RepoRoot, "samples", "FrameCounter");
        var run = Dotnet(sample, "run", "-nodeReuse:false", "-p:LamdaCacheDirectory=" + Cache, "--", "20");
        Assert.True(run.Code == 0, run.Log);
        Assert.Contains("model FrameCounter.classifier.onnx", run.Log);
        // The app reads the provenance through ONNX Runtime's model metadata.
        Assert.Contains("lamda.device = jetson-nano", run.Log);
        Assert.Contains("lamda.budget = 0.6ms", run.Log);
        Assert.Matches(@"lamda\.achieved_ms = \d", run.Log);
        Assert.True(System.Text.RegularExpressions.Regex.IsMatch(run.Log, @"\d+ frames, median latency \d+\.\d+ ms"), run.Log);
    }

    [Fact]
    public void BadItemsAreErrorsWithCodesNamingProjectAndItem()
    {
        const string Model = "models/tinynet.onnx";
        foreach (var (name, item, code, says) in new[]
                 {
                     ("missing", """<LamdaModel Include="models/missing.onnx" Latency="1ms" Device="jetson-nano" />""", "LAMDA001", "missing.onnx"),
                     ("device", """<LamdaModel Include="models/tinynet.onnx" Latency="1ms" Device="jetson-nanoo" />""", "LAMDA009", "jetson-nanoo"),
                     ("latency", """<LamdaModel Include="models/tinynet.onnx" Latency="fast" Device="jetson-nano" />""", "LAMDA011", "fast"),
                     ("budget", """<LamdaModel Include="models/tinynet.onnx" Latency="0.0001ms" Device="jetson-nano" />""", "LAMDA012", Model),
                     ("nogguf", """<LamdaModel Include="models/tinynet.onnx" Latency="0.6ms" Device="jetson-nano" Generator="llm" />""", "LAMDA006", "needs LlmModel"),
                     ("nofile", """<LamdaModel Include="models/tinynet.onnx" Latency="0.6ms" Device="jetson-nano" Generator="llm" LlmModel="models/none.gguf" />""", "LAMDA001", "none.gguf"),
                     ("onnx", """<LamdaModel Include="models/tinynet.onnx" Latency="0.6ms" Device="jetson-nano" Generator="llm" LlmModel="models/tinynet.onnx" />""", "LAMDA016", "not a GGUF file"),
                     ("gpt", """<LamdaModel Include="models/tinynet.onnx" Latency="0.6ms" Device="jetson-nano" Generator="gpt" />""", "LAMDA006", "unknown Generator 'gpt'"),
                 })
        {
            var project = Project("bad" + name, item);
            var r = Build(project);
            Assert.NotEqual(0, r.Code);
            var line = r.Log.Split('\n').First(l => l.Contains("error " + code));
            Assert.Contains(Path.GetFileName(project), line);
            Assert.Contains("LamdaModel 'models/", line);
            Assert.Contains(says, line);
        }
    }

    [Fact]
    public void LlmItemsRunTheLanguageModelAndReportTheFallback()
    {
        var project = Project("llm", """<LamdaModel Include="models/tinynet.onnx" Latency="0.6ms" Device="jetson-nano" Generator="llm" LlmModel="models/tiny.gguf" />""");
        var dir = Path.GetDirectoryName(project)!;
        Lamda.Llm.Tests.TinyGguf.Write(Path.Combine(dir, "models", "tiny.gguf"), contextLength: 16384);
        var first = Build(project);
        Assert.True(first.Code == 0, first.Log);
        // The tool's progress reaches the build log at normal verbosity: LLM answers, then the search takes over.
        Assert.Contains("Lamda: iteration 1 (llm)", first.Log);
        Assert.Contains("(search (fallback))", first.Log);
        var output = Path.Combine(dir, "obj", "Debug", "net10.0", "lamda", "tinynet.jetson-nano.onnx");
        using (var runner = new ModelRunner(File.ReadAllBytes(output)))
            Assert.Equal(new long[] { 1, 10 }, runner.Run(new Dictionary<string, TensorData> { ["input"] = new(1, [1, 3, 32, 32], new float[3 * 32 * 32]) })["output"].Shape);

        // Another language model file is another cache entry; the same one is a hit.
        Assert.Contains("Skipping target \"_LamdaAdaptModels\"", Build(project).Log);
        Lamda.Llm.Tests.TinyGguf.Write(Path.Combine(dir, "models", "tiny.gguf"), seed: 8, contextLength: 16384);
        var changed = Build(project);
        Assert.True(changed.Code == 0, changed.Log);
        Assert.Contains("Lamda: adapting models/tinynet.onnx", changed.Log);
    }

    [Fact]
    public void CorruptCacheEntryIsDiscardedWithAWarningAndRebuilt()
    {
        var project = Project("corrupt", """<LamdaModel Include="models/tinynet.onnx" Latency="0.6ms" Device="jetson-nano" />""");
        Assert.Equal(0, Build(project).Code);
        var entry = Directory.GetFiles(Path.Combine(Cache, "models"), "*.onnx").Single();
        File.WriteAllBytes(entry, File.ReadAllBytes(entry)[..100]); // truncated
        Assert.Equal(0, Dotnet(Path.GetDirectoryName(project)!, "clean", project, "-nodeReuse:false").Code);
        var r = Build(project);
        Assert.True(r.Code == 0, r.Log);
        Assert.Contains("warning LAMDA051", r.Log);
        Assert.Contains("Lamda: adapting", r.Log);
        Assert.True(new FileInfo(entry).Length > 100);
    }

    [Fact]
    public void ParallelBuildsSharingACacheSynthesizeOnce()
    {
        var projects = Enumerable.Range(1, 3).Select(i => Project($"p{i}", """<LamdaModel Include="models/tinynet.onnx" Latency="0.6ms" Device="jetson-nano" />""")).ToList();
        var traversal = Path.Combine(root, "all.proj");
        File.WriteAllText(traversal, $"""
            <Project>
              <ItemGroup>{string.Concat(projects.Select(p => $"<ProjectReference Include=\"{p}\" />"))}</ItemGroup>
              <Target Name="Build"><MSBuild Projects="@(ProjectReference)" Targets="Restore" Properties="_Restore=1" /><MSBuild Projects="@(ProjectReference)" BuildInParallel="true" /></Target>
            </Project>
            """);
        var r = Dotnet(root, "build", traversal, "-m:3", "-v:n", "-nodeReuse:false");
        Assert.True(r.Code == 0, r.Log);
        Assert.Equal(1, r.Log.Split('\n').Count(l => l.Contains("Lamda: adapting")));
        Assert.Equal(2, r.Log.Split('\n').Count(l => l.Contains(": cache hit ")));
        // The summary lines say the same: one miss, two hits.
        Assert.Equal(1, r.Log.Split('\n').Count(l => l.TrimEnd().EndsWith("; cache miss", StringComparison.Ordinal)));
        Assert.Equal(2, r.Log.Split('\n').Count(l => l.TrimEnd().EndsWith("; cache hit", StringComparison.Ordinal)));
        Assert.Single(Directory.GetFiles(Path.Combine(Cache, "models"), "*.onnx"));
        Assert.Empty(Directory.GetFiles(Path.Combine(Cache, "tmp")));
        var outputs = projects.Select(p => File.ReadAllBytes(Path.Combine(Path.GetDirectoryName(p)!, "obj", "Debug", "net10.0", "lamda", "tinynet.jetson-nano.onnx"))).ToList();
        Assert.All(outputs, o => Assert.Equal(outputs[0], o));
    }
}

/// <summary>The real user path: pack both packages, consume them from a local folder in a fresh project.</summary>
public class PackageTests : IDisposable
{
    readonly string root = Directory.CreateTempSubdirectory("lamda-pack-").FullName;

    public void Dispose() => Directory.Delete(root, recursive: true);

    static (int Code, string Log) Run(string workingDirectory, Dictionary<string, string> env, string file, params string[] args) =>
        ChildProcess.Run(workingDirectory, env, file, args);

    /// <summary>What a clean clone has for building the packages: src/ without build outputs, build/ and the root props.</summary>
    static string CopySources(string target)
    {
        foreach (var file in new[] { "Directory.Build.props", "Directory.Packages.props", "global.json" })
            File.Copy(Path.Combine(Shared.RepoRoot, file), Path.Combine(Directory.CreateDirectory(target).FullName, file));
        foreach (var folder in new[] { "src", "build" })
        {
            var from = Path.Combine(Shared.RepoRoot, folder);
            foreach (var file in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
            {
                var relative = Path.GetRelativePath(from, file);
                if (relative.Split(Path.DirectorySeparatorChar).Any(part => part is "bin" or "obj")) continue;
                var to = Path.Combine(target, folder, relative);
                Directory.CreateDirectory(Path.GetDirectoryName(to)!);
                File.Copy(file, to);
            }
        }
        return target;
    }

    [Fact]
    public void PackedPackagesWorkInAFreshProject()
    {
        var feed = Path.Combine(root, "feed");
        // An isolated package folder: a stale extraction of the same version can never be used.
        var env = new Dictionary<string, string> { ["NUGET_PACKAGES"] = Path.Combine(root, "packages"), ["LAMDA_CACHE_DIR"] = Path.Combine(root, "cache") };
        // Packed from a copy of the sources: a restore with another package folder must not rewrite the
        // repository's obj/project.assets.json (it would point at this test's folder once it is deleted).
        var sources = CopySources(Path.Combine(root, "src-copy"));
        foreach (var project in new[] { "src/Lamda.Build", "src/Lamda.Cli" })
        {
            var pack = Run(sources, env, "dotnet", "pack", project, "-c", "Release", "-o", feed, "-nodeReuse:false");
            Assert.True(pack.Code == 0, pack.Log);
        }
        long size = new FileInfo(Path.Combine(feed, "Lamda.Build.0.1.0.nupkg")).Length;
        Assert.True(size < 80 << 20, $"the build package should carry desktop natives only ({size >> 20} MB)");

        var app = Path.Combine(root, "app");
        Directory.CreateDirectory(Path.Combine(app, "models"));
        File.Copy(Path.Combine(Shared.RepoRoot, "samples", "models", "tinynet.onnx"), Path.Combine(app, "models", "tinynet.onnx"));
        File.WriteAllText(Path.Combine(app, "nuget.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration><packageSources><add key="lamda-local" value="{feed}" /></packageSources></configuration>
            """);
        File.WriteAllText(Path.Combine(app, "App.csproj"), """
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup><OutputType>Exe</OutputType><TargetFramework>net10.0</TargetFramework><RootNamespace>Fresh</RootNamespace></PropertyGroup>
              <ItemGroup>
                <PackageReference Include="Lamda.Build" Version="0.1.0" PrivateAssets="all" />
                <LamdaModel Include="models/tinynet.onnx" Latency="0.6ms" Device="dev.json" Data="data" />
              </ItemGroup>
            </Project>
            """);
        // A device profile and a data folder of the project's own: both are inputs of the packed targets too.
        var (profilePath, profile, labels) = BuildTests.WriteDeviceAndData(app);
        File.WriteAllText(Path.Combine(app, "Program.cs"), """
            using var s = typeof(Program).Assembly.GetManifestResourceStream("Fresh.tinynet.onnx")!;
            System.Console.WriteLine($"embedded {s.Length} bytes");
            """);
        // The default verbosity names the model and its achieved latency.
        var build = Run(app, env, "dotnet", "build", "-nodeReuse:false");
        Assert.True(build.Code == 0, build.Log);
        Assert.Matches(@"on dev: budget 0\.600 ms, achieved 0\.\d{3} ms predicted", BuildTests.SummaryOf(build.Log, "models/tinynet.onnx"));
        var run = Run(app, env, "dotnet", "run", "--no-build");
        Assert.True(run.Code == 0, run.Log);
        Assert.Matches(@"embedded \d+ bytes", run.Log);
        var embedded = BuildTests.EmbeddedResources(Path.Combine(app, "bin", "Debug", "net10.0", "App.dll"))["Fresh.tinynet.onnx"];
        var meta = BuildTests.LamdaMetadata(embedded);
        Assert.Equal("dev", meta["lamda.device"]);
        Assert.Equal(Onnx.ModelProvenance.Sha256(Latency.DeviceProfile.Load(profilePath).ToJson()), meta["lamda.device_profile_sha256"]);

        // Nothing changed: the adapt target is skipped. A recalibrated profile or a changed data file adapts again.
        Func<(int Code, string Log)> again = () => Run(app, env, "dotnet", "build", "-nodeReuse:false", "-v:n");
        Assert.Contains("Skipping target \"_LamdaAdaptModels\" because all output files are up-to-date", again().Log);
        (profile with { Description = profile.Description + " (recalibrated)" }).Save(profilePath);
        var recalibrated = again();
        Assert.True(recalibrated.Code == 0, recalibrated.Log);
        Assert.Contains("Lamda: adapting models/tinynet.onnx", recalibrated.Log);
        Npy.WriteLabels(labels, [0, 0, 0, 0, 1, 1, 1, 1]);
        var relabelled = again();
        Assert.True(relabelled.Code == 0, relabelled.Log);
        Assert.Contains("Lamda: adapting models/tinynet.onnx", relabelled.Log);

        // The tool package installs and runs.
        var tools = Path.Combine(root, "tools");
        var install = Run(root, env, "dotnet", "tool", "install", "Lamda.Tool", "--tool-path", tools, "--add-source", feed, "--version", "0.1.0");
        Assert.True(install.Code == 0, install.Log);
        var version = Run(root, env, Path.Combine(tools, "lamda"), "--version");
        Assert.Equal(0, version.Code);
        Assert.Contains("0.1.0", version.Log);
    }
}

static class ProcessExtensions
{
    public static int WaitForExitAndCode(this Process p)
    {
        p.WaitForExit();
        return p.ExitCode;
    }
}

/// <summary>Writes the .npy files of a data folder (numpy format 1.0, little endian).</summary>
static class Npy
{
    public static void WriteImages(string path, int count, int seed)
    {
        var rng = new Random(seed);
        var values = Enumerable.Range(0, count * 3 * 32 * 32).Select(_ => rng.NextSingle()).ToArray();
        Write(path, "<f4", $"({count}, 3, 32, 32)", values.SelectMany(BitConverter.GetBytes).ToArray());
    }

    public static void WriteLabels(string path, long[] labels) =>
        Write(path, "<i8", $"({labels.Length},)", labels.SelectMany(BitConverter.GetBytes).ToArray());

    static void Write(string path, string type, string shape, byte[] data)
    {
        var header = $"{{'descr': '{type}', 'fortran_order': False, 'shape': {shape}, }}";
        header = header.PadRight(((10 + header.Length + 1 + 63) / 64 * 64) - 10 - 1) + "\n";
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        using var file = File.Create(path);
        file.Write([0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 1, 0]);
        file.Write(BitConverter.GetBytes((ushort)header.Length));
        file.Write(System.Text.Encoding.ASCII.GetBytes(header));
        file.Write(data);
    }
}

/// <summary>Runs a command and returns its exit code with stdout and stderr.</summary>
static class ChildProcess
{
    public static (int Code, string Log) Run(string workingDirectory, Dictionary<string, string> env, string file, params string[] args)
    {
        var start = new ProcessStartInfo(file) { WorkingDirectory = workingDirectory, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) start.ArgumentList.Add(a);
        // The test host's MSBuild settings must not leak into the child build.
        foreach (var key in start.Environment.Keys.Where(k => k.StartsWith("MSBuild", StringComparison.OrdinalIgnoreCase) || k == "MSBUILD_EXE_PATH").ToList())
            start.Environment.Remove(key);
        foreach (var (k, v) in env) start.Environment[k] = v;
        using var p = Process.Start(start)!;
        var output = p.StandardOutput.ReadToEndAsync();
        var error = p.StandardError.ReadToEndAsync();
        p.WaitForExit();
        return (p.ExitCode, output.Result + error.Result);
    }
}

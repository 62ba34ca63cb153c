using System.Text;
using Google.Protobuf;
using Lamda.Data;
using Lamda.Fuzzing;
using Lamda.Graphs;
using Lamda.Latency;
using Lamda.Llm;
using Lamda.Onnx;
using Lamda.Runtime;
using Lamda.Text;
using Onnx;

namespace Lamda.Cli.Commands;

internal sealed class BenchFuzzCommand : Command
{
    public override string Name => "bench-fuzz";
    public override string Summary => "fuzz every reader with N mutated inputs; counts per reader and outcome";
    public override string Usage => """
        Usage: lamda bench-fuzz N [--seed S] [--timeout SECONDS]

        Mutates valid inputs (truncation, flipped bits, junk, edited numbers, ids and operators) and feeds them to
        the ONNX importer, the LamdaText reader (realized against the base weights), the device profile reader,
        the .npy and .pb tensor readers and the GGUF header reader, in turn. Every case must end in success or
        a coded error; any other exception, or a case over the timeout (default 10 s), is a bug: the command
        prints its seed and index (reproduce with the same --seed) and exits 1.
        """;
    public override string[] ValueOptions => ["--seed", "--timeout"];

    public override int Run(Arguments args, TextWriter stdout, TextWriter stderr)
    {
        var countText = args.Positional(0, "the number of cases");
        args.NoMorePositionals(1);
        if (!int.TryParse(countText, out int count) || count < 1)
            throw new LamdaException(ErrorCodes.BadArgument,
                $"'{countText}' is not a number of cases; write for example 'lamda bench-fuzz 10000'.");
        int seed = args.Int("--seed", 1);
        var timeout = TimeSpan.FromSeconds(Math.Max(1, args.Int("--timeout", 10)));
        var work = Directory.CreateTempSubdirectory("lamda-fuzz-").FullName;
        try
        {
            var report = new Fuzzer(FuzzTargets.All(), work, timeout).Run(count, seed, new StderrProgress(stderr));
            Print(report, seed, stdout);
            return report.Bugs.Count == 0 ? 0 : 1;
        }
        finally { Directory.Delete(work, recursive: true); }
    }

    static void Print(FuzzReport report, int seed, TextWriter w)
    {
        w.WriteLine($"{"reader",-10} {"accepted",9} {"refused",9} {"uncoded",8} {"hangs",6}  codes");
        foreach (var (name, c) in report.Counts.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            var codes = report.Codes.TryGetValue(name, out var k) ? string.Join(", ", k.Select(kv => $"{kv.Key} {kv.Value}")) : "";
            w.WriteLine($"{name,-10} {c.GetValueOrDefault(FuzzOutcome.Accepted),9} {c.GetValueOrDefault(FuzzOutcome.Refused),9} " +
                        $"{c.GetValueOrDefault(FuzzOutcome.Uncoded),8} {c.GetValueOrDefault(FuzzOutcome.Hang),6}  {codes}");
        }
        w.WriteLine($"{report.Total} cases in {report.Elapsed.TotalSeconds:0.0} s " +
                    $"(slowest case {report.Slowest.TotalMilliseconds:0} ms), " +
                    $"{report.Bugs.Count} bugs (seed {seed})");
        foreach (var b in report.Bugs.Take(20)) w.WriteLine($"  bug: {b.Target} case {b.Index} (--seed {seed}): {b.Outcome}: {b.Detail}");
    }
}

/// <summary>The readers the fuzzer feeds, each with a small valid seed input made in memory (no files needed).</summary>
internal static class FuzzTargets
{
    public static IReadOnlyList<FuzzTarget> All()
    {
        var tiny = SampleModels.TinyNet();
        var onnx = ModelFile.ToBytes(OnnxExporter.Export(tiny.Graph, tiny.Weights));
        var (graph, weights) = OnnxImporter.Import(ModelFile.Parse(onnx, "tinynet.onnx"), "tinynet.onnx");
        var text = LamdaTextWriter.Write(graph);
        var profile = DeviceCatalog.BuiltIn[0];
        return
        [
            new("onnx", ".onnx", onnx, false, path => ReadOnnx(path)),
            new("lamdatext", ".lamda", Encoding.UTF8.GetBytes(text), true,
                path => TextRealizer.Realize(File.ReadAllText(path), path, weights)),
            new("profile", ".json", Encoding.UTF8.GetBytes(profile.ToJson()), true,
                path => new LatencyPredictor(DeviceProfile.Load(path)).Predict(graph, weights)),
            new("npy", ".npy", Npy([2, 1, 4, 4]), false, path => TensorFile.Read(path)),
            new("pb", ".pb", Proto([2, 1, 4, 4]), false, path => TensorFile.Read(path)),
            new("gguf", ".gguf", GgufHeader(), false, path => GgufFile.Read(path)),
        ];
    }

    /// <summary>What the CLI does with a model before running it: import, serialize, check its sizes.</summary>
    static void ReadOnnx(string path)
    {
        var (g, w) = OnnxImporter.Import(ModelFile.Load(path), path);
        LamdaTextWriter.Write(g);
        ResourceLimits.CheckGraph(g, w, path);
    }

    static byte[] Npy(long[] shape)
    {
        var header = $"{{'descr': '<f4', 'fortran_order': False, 'shape': ({string.Join(", ", shape)}), }}";
        header = header.PadRight(118) + "\n";
        var data = Enumerable.Range(0, (int)shape.Aggregate(1L, (a, b) => a * b)).Select(i => i * 0.25f).ToArray();
        using var m = new MemoryStream();
        m.Write([0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 1, 0]);
        m.Write(BitConverter.GetBytes((ushort)header.Length));
        m.Write(Encoding.ASCII.GetBytes(header));
        foreach (var f in data) m.Write(BitConverter.GetBytes(f));
        return m.ToArray();
    }

    static byte[] Proto(long[] shape)
    {
        var t = new TensorProto { DataType = DataTypes.Float, Name = "val_images" };
        t.Dims.AddRange(shape);
        t.FloatData.AddRange(Enumerable.Range(0, (int)shape.Aggregate(1L, (a, b) => a * b)).Select(i => i * 0.5f));
        return t.ToByteArray();
    }

    /// <summary>The header of a llama GGUF: architecture, context length, a 16-token vocabulary and a chat template; no tensors.</summary>
    static byte[] GgufHeader()
    {
        using var m = new MemoryStream();
        using var w = new BinaryWriter(m, Encoding.UTF8);
        void Str(string s) { var b = Encoding.UTF8.GetBytes(s); w.Write((ulong)b.Length); w.Write(b); }
        w.Write(0x46554747u); w.Write(3u); w.Write(0UL); w.Write(4UL);
        Str("general.architecture"); w.Write(8u); Str("llama");
        Str("llama.context_length"); w.Write(4u); w.Write(4096u);
        Str("tokenizer.ggml.tokens"); w.Write(9u); w.Write(8u); w.Write(16UL);
        for (int i = 0; i < 16; i++) Str($"tok{i}");
        Str("tokenizer.chat_template"); w.Write(8u); Str("{{ messages }}");
        w.Flush();
        return m.ToArray();
    }
}

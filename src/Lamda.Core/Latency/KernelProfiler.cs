using System.Text.Json;
using Lamda.Graphs;
using Lamda.Onnx;
using Onnx;
using Lamda.Runtime;

namespace Lamda.Latency;

/// <summary>What each kernel of a network costs inside that network.</summary>
/// <param name="Raw">
/// every kernel ONNX Runtime timed: the sum of its nodes' medians (ms, with the profiler's cost; each node's lowest over the
/// sessions), its nodes
/// </param>
/// <param name="OtherRawMs">time in nodes of no kernel of Lamda's (layout reorders the runtime inserts), with the profiler's cost</param>
/// <param name="OtherNodes">how many such nodes</param>
/// <param name="RunMs">the whole network measured without the profiler (the faster median of two short passes)</param>
/// <param name="ProfilerNodeMs">what profiling is taken to add to each node's timing</param>
/// <param name="Unmatched">the nodes of no kernel, as "name (op)" with their median ms (for `lamda predict --profile-nodes`)</param>
internal sealed record KernelProfile(IReadOnlyList<(Kernel Kernel, double Ms, int Nodes)> Raw, double OtherRawMs, int OtherNodes,
    double RunMs, double ProfilerNodeMs, IReadOnlyList<(string Node, double Ms)>? Unmatched = null)
{
    /// <summary>Time in the layout reorders ORT inserts (ReorderInput, ReorderOutput), with the profiler's cost: part of
    /// <see cref="OtherRawMs"/>.</summary>
    public double ReorderRawMs { get; init; }

    /// <summary>How many reorders were timed.</summary>
    public int ReorderNodes { get; init; }

    /// <summary>Time in the layout reorders, less the profiler's cost.</summary>
    public double ReorderMs => Less(ReorderRawMs, ReorderNodes);

    /// <summary>Each kernel's time in context, less the profiler's cost per node (never below a quarter of the raw time).</summary>
    public IReadOnlyList<(Kernel Kernel, double Ms)> Kernels => Raw.Select(k => (k.Kernel, Less(k.Ms, k.Nodes))).ToList();

    /// <summary>Time in nodes of no kernel of Lamda's, less the profiler's cost.</summary>
    public double OtherMs => Less(OtherRawMs, OtherNodes);

    /// <summary>
    /// This network's own estimate of the profiler's cost per node: the gap between the profiled total and the
    /// unprofiled run, spread over the nodes. It can be negative (the unprofiled run was the slower one).
    /// </summary>
    public double GapPerNodeMs
    {
        get
        {
            int nodes = Raw.Sum(k => k.Nodes) + OtherNodes;
            return nodes == 0 ? 0 : (Raw.Sum(k => k.Ms) + OtherRawMs - RunMs) / nodes;
        }
    }

    double Less(double t, int n) => Math.Max(t - ProfilerNodeMs * n, 0.25 * t);

    /// <summary>Every timing multiplied by <paramref name="factor"/>: the profile on another yardstick of the machine's speed.</summary>
    public KernelProfile Scaled(double factor) => this with
    {
        Raw = Raw.Select(k => (k.Kernel, k.Ms * factor, k.Nodes)).ToList(),
        OtherRawMs = OtherRawMs * factor,
        ReorderRawMs = ReorderRawMs * factor,
        RunMs = RunMs * factor,
        ProfilerNodeMs = ProfilerNodeMs * factor,
        Unmatched = Unmatched?.Select(u => (u.Node, u.Ms * factor)).ToList(),
    };

    /// <summary>
    /// The profiler's cost per node for a machine: the median of many networks' own estimates. One network's gap
    /// is a difference of two short measurements, which wandered from 0 to 52 us per node between networks of
    /// one calibration (a per-node cost of 0 left the profiler's 1-2 us in every small kernel).
    /// </summary>
    public static double MachineProfilerCost(IReadOnlyList<KernelProfile> profiles) =>
        profiles.Count == 0 ? 0 : Math.Max(0, InterleavedRounds.MedianOf(profiles.Select(p => p.GapPerNodeMs).ToArray()));
}

/// <summary>
/// Kernel latencies in context, from ONNX Runtime's own profiler: a kernel measured alone pays layout
/// conversions and cold caches that it does not pay between its neighbours in a network (docs/latency.md), so
/// the predictor is calibrated on kernels timed inside whole networks. Profiled nodes are matched to Lamda's
/// kernels by name: ORT names a node it rewrites after the output value of the node it replaces.
/// </summary>
internal static class KernelProfiler
{
    /// <summary>
    /// Profiles a network in <paramref name="sessions"/> sessions of <paramref name="runs"/> runs each and keeps each
    /// node's lowest median. A session's timings move together by several percent (where its allocations landed, a
    /// spell of outside load the reference beside it missed): three profiles of the same 120 calibration networks put
    /// RegNet's grouped convolutions 6-18% under their time with the same fit. The lower of two sessions' medians took the
    /// held-out families' kernel sums from 31-34 of 36 within 10% to 35 (three profiles each; twenty-second session,
    /// offline refits).
    /// </summary>
    public static KernelProfile Profile(Graph graph, WeightStore weights, int threads = 1, int runs = 20, int warmup = 5,
        int sessions = 1)
    {
        using var held = MachineLock.Acquire();
        var model = OnnxExporter.Export(graph, weights);
        var bytes = ModelFile.ToBytes(model); // profiled, then run again without the profiler
        var kernels = BlockedLayout.Mark(KernelExtractor.Extract(graph, weights), RuntimeLayout.Granularity);
        var kernelOf = KernelOfName(model, kernels);

        var lowest = new Dictionary<string, double>(StringComparer.Ordinal);
        List<(string Node, string Op, double Ms)>? unmatched = null;
        for (int s = 0; s < Math.Max(1, sessions); s++)
        {
            var byKernel = SessionMedians(bytes, graph, threads, runs, warmup).ToLookup(m => Match(m.Node, kernelOf) != null);
            KeepLowest(lowest, byKernel[true].Select(m => (m.Node, m.Ms)));
            unmatched = QuieterSession(unmatched, byKernel[false].ToList());
        }
        unmatched ??= [];

        var ms = new double[kernels.Count];
        var nodes = new int[kernels.Count];
        foreach (var (name, median) in lowest)
        {
            int k = Match(name, kernelOf)!.Value;
            ms[k] += median;
            nodes[k]++;
        }
        var reorders = unmatched.Where(u => u.Op is "ReorderInput" or "ReorderOutput").ToList();

        // Profiling costs each node about a microsecond, which is most of a small kernel's time: the gap between
        // the profiled total and the same network run without the profiler, spread over the nodes, is taken off
        // (ProfileBuilder replaces this network's own estimate by the median over all of them).
        var quick = new MeasureOptions { Threads = threads, Warmup = 3, Runs = 10, MinSeconds = 0.03 };
        double runMs = Math.Min(LatencyMeter.Measure(bytes, graph, quick).P50Ms, LatencyMeter.Measure(bytes, graph, quick).P50Ms);
        var raw = Enumerable.Range(0, kernels.Count).Where(k => nodes[k] > 0).Select(k => (kernels[k], ms[k], nodes[k])).ToList();
        var profile = new KernelProfile(raw, unmatched.Sum(u => u.Ms), unmatched.Count, runMs, 0,
            unmatched.Select(u => ($"{u.Node} ({u.Op})", u.Ms)).ToList())
        {
            ReorderRawMs = reorders.Sum(r => r.Ms),
            ReorderNodes = reorders.Count,
        };
        return profile with { ProfilerNodeMs = Math.Max(0, profile.GapPerNodeMs) };
    }

    /// <summary>
    /// Of the nodes of no kernel of Lamda's, the session with the lower total: ORT names the nodes it inserts by a counter
    /// that runs on from one session to the next (ReorderOutput_token_193), so a name is not the same node in two sessions,
    /// and a node-by-node minimum took LR-ASPP's last reorder (0.3 ms) at the time of a small one in the other session.
    /// </summary>
    internal static List<(string Node, string Op, double Ms)> QuieterSession(List<(string Node, string Op, double Ms)>? kept,
        List<(string Node, string Op, double Ms)> session) =>
        kept == null || session.Sum(n => n.Ms) < kept.Sum(n => n.Ms) ? session : kept;

    /// <summary>
    /// Each node's lowest median so far, with one more session's medians (a node one session missed is kept); for the nodes of
    /// Lamda's kernels, whose names (Lamda's node ids) are the same in every session.
    /// </summary>
    internal static void KeepLowest(Dictionary<string, double> lowest, IEnumerable<(string Node, double Ms)> session)
    {
        foreach (var (name, ms) in session) lowest[name] = lowest.TryGetValue(name, out var seen) ? Math.Min(seen, ms) : ms;
    }

    /// <summary>One profiling session: each node's operator and median (ms) over the steady runs after warm-up.</summary>
    static List<(string Node, string Op, double Ms)> SessionMedians(byte[] bytes, Graph graph, int threads, int runs, int warmup)
    {
        var folder = Directory.CreateTempSubdirectory("lamda-profile-").FullName;
        try
        {
            string file;
            using (var runner =
                new ModelRunner(bytes, new RunnerOptions { IntraOpThreads = threads, ProfilePrefix = Path.Combine(folder, "ort") }))
            {
                using var run = runner.Prepare(TensorData.RandomInputs(graph));
                for (int i = 0; i < warmup + runs; i++) run.Run();
                file = runner.EndProfiling();
            }
            var (durations, names) = ReadNodeTimes(file);
            File.Delete(file); // in the folder below unless the runtime chose otherwise
            var steady = SteadyRuns(durations, warmup);
            var medians = new List<(string, string, double)>();
            foreach (var (name, times) in durations)
            {
                // The profiler reports microseconds; the median over the steady runs, in ms.
                var kept = steady.Where(r => r < times.Count).Select(r => times[r]).ToList();
                if (kept.Count > 0) medians.Add((name, names.GetValueOrDefault(name, ""), LatencyStats.From(kept, threads).P50Ms / 1000.0));
            }
            return medians;
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    // Names ORT may report for a node: the node's own name (its Lamda id) or one of its output values.
    static Dictionary<string, int> KernelOfName(ModelProto model, IReadOnlyList<Kernel> kernels)
    {
        var kernelOf = new Dictionary<string, int>(StringComparer.Ordinal);
        var byId = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int k = 0; k < kernels.Count; k++)
            foreach (var n in kernels[k].Nodes) byId[n.Id] = k;
        foreach (var p in model.Graph.Node)
            if (byId.TryGetValue(p.Name, out var k))
            {
                kernelOf[p.Name] = k;
                foreach (var o in p.Output) kernelOf.TryAdd(o, k);
            }
        return kernelOf;
    }

    /// <summary>
    /// Runs after warm-up that were not slowed down from outside: on a shared machine a burst of other work can
    /// double every node's time for tens of milliseconds, enough to move a median over a few runs. A run is kept
    /// when its total is within 10% of the fastest run's (node i's k-th time belongs to run k).
    /// </summary>
    internal static List<int> SteadyRuns(Dictionary<string, List<double>> durations, int warmup)
    {
        int runs = durations.Count == 0 ? 0 : durations.Values.Min(t => t.Count);
        var totals = Enumerable.Range(0, runs).Select(r => durations.Values.Sum(t => t[r])).ToArray();
        int skip = Math.Min(warmup, Math.Max(0, runs - 1));
        var timed = Enumerable.Range(skip, runs - skip).ToList();
        if (timed.Count == 0) return timed;
        double fastest = timed.Min(r => totals[r]);
        return timed.Where(r => totals[r] <= 1.10 * fastest).ToList();
    }

    /// <summary>
    /// The kernel a profiled node belongs to: by its name, without the suffixes ORT's rewrites add ("_nchwc",
    /// "/QuickGeluFusion/" for a fused SiLU).
    /// </summary>
    internal static int? Match(string name, Dictionary<string, int> kernelOf)
    {
        for (var key = name; ;)
        {
            if (kernelOf.TryGetValue(key, out var k)) return k;
            int cut = Math.Max(key.LastIndexOf('_'), key.LastIndexOf('/'));
            if (cut <= 0) return null;
            key = key[..cut];
        }
    }

    /// <summary>
    /// Per node name, the durations (microseconds) of its runs, in order, and its operator, from ORT's Chrome-trace JSON.
    /// </summary>
    static (Dictionary<string, List<double>> Times, Dictionary<string, string> Ops) ReadNodeTimes(string file)
    {
        const string Suffix = "_kernel_time";
        var result = new Dictionary<string, List<double>>(StringComparer.Ordinal);
        var ops = new Dictionary<string, string>(StringComparer.Ordinal);
        using var doc = JsonDocument.Parse(File.ReadAllBytes(file));
        foreach (var e in doc.RootElement.EnumerateArray())
        {
            if (!e.TryGetProperty("cat", out var cat) || cat.GetString() != "Node") continue;
            var name = e.GetProperty("name").GetString()!;
            if (!name.EndsWith(Suffix, StringComparison.Ordinal)) continue;
            name = name[..^Suffix.Length];
            if (!result.TryGetValue(name, out var list)) result[name] = list = [];
            list.Add(e.GetProperty("dur").GetDouble());
            if (e.TryGetProperty("args", out var a) && a.TryGetProperty("op_name", out var op)) ops[name] = op.GetString() ?? "";
        }
        return (result, ops);
    }
}

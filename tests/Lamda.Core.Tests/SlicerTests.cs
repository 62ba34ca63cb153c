using Lamda.Graphs;
using Lamda.Slicing;
using Lamda.Text;

namespace Lamda.Tests;

public class SlicerTests
{
    /// <summary>Exhaustive search over all 2^(N-1) boundary sets: the reference the DP must match.</summary>
    static int BruteForce(int[] tokens, int[] severed, int max)
    {
        int n = tokens.Length, best = int.MaxValue;
        for (int mask = 0; mask < 1 << (n - 1); mask++)
        {
            int cost = 0, run = 0;
            bool ok = true;
            for (int i = 0; i < n && ok; i++)
            {
                run += tokens[i];
                if (run > max) ok = false;
                if (i < n - 1 && (mask >> i & 1) == 1) { cost += severed[i]; run = 0; }
            }
            if (ok) best = Math.Min(best, cost);
        }
        return best;
    }

    /// <summary>A random DAG in topological order: each node reads 1-3 earlier nodes (skip connections included).</summary>
    static Graph RandomDag(Random rng, int n)
    {
        var text = new System.Text.StringBuilder("lamdatext 1\nmodel ir=8 opset=13\ninput %in0 \"x\" f32[1,4]\n");
        text.Append($"output %{n - 1} \"y\" f32[1,4]\n");
        for (int i = 0; i < n; i++)
        {
            var ins = i == 0 ? ["%in0"] : Enumerable.Range(0, rng.Next(1, 4)).Select(_ => "%" + rng.Next(0, i)).Distinct().ToList();
            var op = ins.Count == 1 ? "Relu" : "Sum";
            text.Append($"n{i} {op}({string.Join(", ", ins)}) -> %{i} ch=4:4{(rng.Next(3) == 0 ? " note=\"" + new string('x', rng.Next(40)) + "\"" : "")}\n");
        }
        return LamdaTextReader.Read(text.ToString());
    }

    [Fact]
    public void DynamicProgrammeMatchesBruteForceOnRandomDags()
    {
        var rng = new Random(12345);
        for (int trial = 0; trial < 300; trial++)
        {
            int n = rng.Next(1, 13);
            var g = RandomDag(rng, n);
            var tokens = g.Nodes.Select(x => EstimatingTokenCounter.Instance.Count(LamdaTextWriter.NodeLine(x) + "\n")).ToArray();
            int max = tokens.Max() + rng.Next(0, tokens.Sum());
            var plan = Slicer.Plan(g, max, EstimatingTokenCounter.Instance);
            var severed = Slicer.SeveredAt(g);
            Assert.Equal(BruteForce(tokens, severed, max), plan.SeveredEdges);
            AssertValid(plan, tokens, severed, max);
        }
    }

    [Fact]
    public void SeveredCountsEdgesCrossingEachBoundary()
    {
        // n0 -> n1 -> n2, plus a skip n0 -> n2: the cut after n0 severs 1 edge (%0, read by n1 and n2);
        // the cut after n1 severs 2 (%0 skip and %1).
        var g = LamdaTextReader.Read("lamdatext 1\nmodel ir=8 opset=13\ninput %in0 \"x\" f32[1]\noutput %2 \"y\" f32[1]\n" +
            "n0 Relu(%in0) -> %0 ch=?:?\nn1 Relu(%0) -> %1 ch=?:?\nn2 Add(%0, %1) -> %2 ch=?:?\n");
        Assert.Equal([1, 2], Slicer.SeveredAt(g));
    }

    [Fact]
    public void NodeLargerThanLimitIsAClearError()
    {
        var e = Assert.Throws<LamdaException>(() => Slicer.Plan([3, 50, 2], [1, 1], 10));
        Assert.Equal(ErrorCodes.SliceTooLarge, e.Code);
        Assert.Contains("50 tokens", e.Message);
        Assert.Contains("at least 50", e.Message);
    }

    [SharedFact]
    public void GooglenetSlicesAreOptimal()
    {
        var (_, graph, _) = Shared.Load("googlenet");
        var plan = Slicer.Plan(graph, 2048, EstimatingTokenCounter.Instance);
        var tokens = graph.Nodes.Select(x => EstimatingTokenCounter.Instance.Count(LamdaTextWriter.NodeLine(x) + "\n")).ToArray();
        var severed = Slicer.SeveredAt(graph);
        AssertValid(plan, tokens, severed, 2048);
        Assert.Equal(SliceReference.ShortestPathOptimum(tokens, severed, 2048), plan.SeveredEdges);
        Assert.True(plan.Slices.Count > 1);
    }

    internal static void AssertValid(SlicePlan plan, int[] tokens, int[] severed, int max)
    {
        Assert.Equal(0, plan.Slices[0].FirstNode);
        Assert.Equal(tokens.Length - 1, plan.Slices[^1].LastNode);
        int cost = 0;
        for (int s = 0; s < plan.Slices.Count; s++)
        {
            var slice = plan.Slices[s];
            if (s > 0) { Assert.Equal(plan.Slices[s - 1].LastNode + 1, slice.FirstNode); cost += severed[slice.FirstNode - 1]; }
            Assert.Equal(tokens[slice.FirstNode..(slice.LastNode + 1)].Sum(), slice.Tokens);
            Assert.InRange(slice.Tokens, 1, max);
        }
        Assert.Equal(cost, plan.SeveredEdges);
        Assert.Equal(tokens.Sum(), plan.TotalTokens);
    }
}

public class TokenCounterTests
{
    [Theory]
    [InlineData("", 0)]
    [InlineData("Conv", 1)]          // 4 letters
    [InlineData("Concat", 2)]        // 6 letters -> 2
    [InlineData("%12", 3)]           // '%' + 2 digits
    [InlineData("n3 Relu(%2) -> %3 ch=24:24\n", 19)]
    public void EstimateFollowsTheDocumentedRule(string text, int expected)
    {
        // n,3 | Relu | ( % 2 ) | - > | % 3 | ch = 2 4 : 2 4 | \n  -> 2+1+4+2+2+1+1+5+1 = 19
        Assert.Equal(expected, EstimatingTokenCounter.Instance.Count(text));
    }
}

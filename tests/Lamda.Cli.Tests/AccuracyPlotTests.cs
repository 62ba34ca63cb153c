using System.Xml.Linq;
using Lamda.Cli.Bench;
using Lamda.Cli.Commands;

namespace Lamda.Cli.Tests;

/// <summary>The benchmark's SVG plot: well-formed XML, one panel per model, one polyline per method in each.</summary>
public sealed class AccuracyPlotTests
{
    static AccuracyBenchRow Row(string model, string method, double target, double? ms, double? accuracy, double fidelity) =>
        new(model, method, target, WallSeconds: 1, BaseMs: method == "base" ? null : 2.0, Ms: ms, Accuracy: accuracy,
            Fidelity: fidelity);

    static readonly List<AccuracyBenchRow> Rows =
    [
        Row("digits & <cnn>", "base", 1, null, 0.986, 1),
        Row("digits & <cnn>", "L1 only", 0.5, 0.95, 0.10, 0.1),
        Row("digits & <cnn>", "reconstruction", 0.5, 0.97, 0.97, 0.98),
        Row("digits & <cnn>", "distillation", 0.5, 0.96, 0.98, 0.99),
        Row("digits & <cnn>", "distillation", 0.3, 0.58, 0.90, 0.91),
        Row("det", "base", 1, null, null, 1),
        Row("det", "L1 only", 0.5, 0.9, null, 0.4),
        Row("det", "distillation", 0.5, 0.9, null, 0.93),
        Row("det", "reconstruction", 0.3, null, null, 0) with { Error = "LAMDA012 budget not reachable" },
    ];

    [Fact]
    public void TheSvgIsWellFormedWithOnePolylinePerMethodAndPanel()
    {
        var svg = XDocument.Parse(AccuracyPlot.Svg("accuracy & latency", BenchAccuracyCommand.Panels(Rows)));
        XNamespace ns = "http://www.w3.org/2000/svg";
        Assert.Equal(ns + "svg", svg.Root!.Name);
        var panels = svg.Root.Elements(ns + "g").ToList();
        Assert.Equal(2, panels.Count);
        var first = panels[0].Elements(ns + "polyline").Select(p => (string)p.Attribute("data-method")!).ToList();
        Assert.Equal(["L1 only", "reconstruction", "distillation"], first);
        // det: the failed run adds no point, but its method still has a line from the base.
        Assert.Equal(3, panels[1].Elements(ns + "polyline").Count());
        Assert.Contains(svg.Descendants(ns + "text"), t => t.Value == "digits & <cnn>");
        Assert.Contains(svg.Descendants(ns + "text"), t => t.Value == "fidelity with base");
    }

    [Fact]
    public void EveryLineStartsAtTheBaseAndFollowsLatencyOrder()
    {
        var distillation = BenchAccuracyCommand.Panels(Rows)[0].Series.Single(s => s.Method == "distillation");
        Assert.Equal([(1.0, 0.986), (0.48, 0.98), (0.29, 0.90)], distillation.Points);
        var svg = XDocument.Parse(AccuracyPlot.Svg("t", BenchAccuracyCommand.Panels(Rows)));
        var points = svg.Descendants().First(e => e.Name.LocalName == "polyline" && (string?)e.Attribute("data-method") == "distillation")
            .Attribute("points")!.Value.Split(' ')
            .Select(p => double.Parse(p.Split(',')[0], System.Globalization.CultureInfo.InvariantCulture)).ToList();
        Assert.Equal(points.Order(), points);
    }

    [Fact]
    public void TheCsvHasOneLinePerRowAndQuotesErrors()
    {
        var lines = AccuracyBenchRow.Csv(Rows).TrimEnd('\n').Split('\n');
        Assert.Equal(Rows.Count + 1, lines.Length);
        Assert.StartsWith("model,method,target", lines[0]);
        Assert.EndsWith(",\"LAMDA012 budget not reachable\",", lines[^1]);
    }

    [Fact]
    public void TheJsonThatCombineReadsGivesBackTheSameRows()
    {
        var json = AccuracyBenchRow.Json(Rows);
        var read = System.Text.Json.JsonSerializer.Deserialize<List<AccuracyBenchRow>>(json, AccuracyBenchRow.Options);
        Assert.Equal(Rows, read);
    }
}

using System.Globalization;
using System.Security;
using System.Text;

namespace Lamda.Cli.Bench;

/// <summary>One line of a panel: a method's points, (latency as a share of the base's, accuracy in [0, 1]).</summary>
internal sealed record PlotSeries(string Method, IReadOnlyList<(double X, double Y)> Points);

/// <summary>One model's panel: its title, what the y axis measures, and a line per method.</summary>
internal sealed record PlotPanel(string Title, string YLabel, IReadOnlyList<PlotSeries> Series);

/// <summary>
/// Writes accuracy against latency as SVG by hand (no plotting dependency): one panel per model side by side, one
/// polyline with markers per method, the same colour per method in every panel, and one legend.
/// </summary>
internal static class AccuracyPlot
{
    const int PanelWidth = 260, PanelHeight = 220, Left = 52, Top = 34, Right = 14, Bottom = 46, LegendHeight = 28;
    static readonly string[] Colors = ["#1b6ca8", "#d1495b", "#2e933c", "#edae49", "#6b4c9a", "#555555"];
    // Dashes and marker sizes differ too, so that methods with the same results stay visible on top of each other.
    static readonly string[] Dashes = ["none", "7,4", "2,3"];
    static readonly double[] Markers = [4.5, 3.5, 2.5];
    const int MinWidth = 640;

    /// <summary>The SVG document of <paramref name="panels"/>, x from 0 to 1 (share of base latency), y from 0 to 100%.</summary>
    /// <param name="title">the heading above the panels</param>
    /// <param name="panels">one per model</param>
    public static string Svg(string title, IReadOnlyList<PlotPanel> panels)
    {
        var methods = panels.SelectMany(p => p.Series.Select(s => s.Method)).Distinct().ToList();
        int width = Math.Max(MinWidth, panels.Count * PanelWidth), height = PanelHeight + LegendHeight + 24;
        var svg = new StringBuilder();
        svg.Append(Invariant($"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" "))
            .Append(Invariant($"viewBox=\"0 0 {width} {height}\" font-family=\"DejaVu Sans, Arial, sans-serif\" font-size=\"11\">\n"))
            .Append(Invariant($"<rect width=\"{width}\" height=\"{height}\" fill=\"white\"/>\n"))
            .Append(Invariant($"<text x=\"{width / 2}\" y=\"16\" text-anchor=\"middle\" font-size=\"13\" font-weight=\"bold\">"))
            .Append(Escape(title)).Append("</text>\n");
        int margin = (width - panels.Count * PanelWidth) / 2;
        for (int i = 0; i < panels.Count; i++) Panel(svg, panels[i], margin + i * PanelWidth, 8, methods);
        Legend(svg, methods, PanelHeight + 30);
        return svg.Append("</svg>\n").ToString();
    }

    static void Panel(StringBuilder svg, PlotPanel panel, int x0, int y0, List<string> methods)
    {
        int plotW = PanelWidth - Left - Right, plotH = PanelHeight - Top - Bottom + 20;
        double X(double v) => x0 + Left + Math.Clamp(v, 0, 1) * plotW;
        double Y(double v) => y0 + Top + (1 - Math.Clamp(v, 0, 1)) * plotH;
        svg.Append(Invariant($"<g class=\"panel\"><text x=\"{x0 + Left + plotW / 2}\" y=\"{y0 + Top - 10}\" text-anchor=\"middle\" "))
            .Append("font-weight=\"bold\">").Append(Escape(panel.Title)).Append("</text>\n");
        for (int t = 0; t <= 4; t++)
        {
            double v = t / 4.0;
            svg.Append(Invariant($"<line x1=\"{X(0):F1}\" y1=\"{Y(v):F1}\" x2=\"{X(1):F1}\" y2=\"{Y(v):F1}\" stroke=\"#e3e3e3\"/>"))
                .Append(Invariant($"<text x=\"{X(0) - 4:F1}\" y=\"{Y(v) + 4:F1}\" text-anchor=\"end\">{v * 100:F0}%</text>\n"))
                .Append(Invariant($"<line x1=\"{X(v):F1}\" y1=\"{Y(0):F1}\" x2=\"{X(v):F1}\" y2=\"{Y(1):F1}\" stroke=\"#e3e3e3\"/>"))
                .Append(Invariant($"<text x=\"{X(v):F1}\" y=\"{Y(0) + 14:F1}\" text-anchor=\"middle\">{v:0.##}</text>\n"));
        }
        svg.Append(Invariant($"<rect x=\"{X(0):F1}\" y=\"{Y(1):F1}\" width=\"{plotW}\" height=\"{plotH}\" "))
            .Append("fill=\"none\" stroke=\"#444\"/>\n")
            .Append(Invariant($"<text x=\"{X(0.5):F1}\" y=\"{Y(0) + 30:F1}\" text-anchor=\"middle\">latency / base latency</text>\n"))
            .Append(Invariant($"<text transform=\"translate({x0 + 12},{Y(0.5):F1}) rotate(-90)\" text-anchor=\"middle\">"))
            .Append(Escape(panel.YLabel)).Append("</text>\n");
        foreach (var series in panel.Series)
        {
            int m = methods.IndexOf(series.Method);
            var color = Colors[m % Colors.Length];
            var points = series.Points.OrderBy(p => p.X).ToList();
            svg.Append("<polyline data-method=\"").Append(Escape(series.Method)).Append("\" fill=\"none\" stroke=\"").Append(color)
                .Append("\" stroke-width=\"2\" stroke-dasharray=\"").Append(Dashes[m % Dashes.Length]).Append("\" points=\"")
                .Append(string.Join(" ", points.Select(p => Invariant($"{X(p.X):F1},{Y(p.Y):F1}")))).Append("\"/>\n");
            foreach (var p in points)
                svg.Append(Invariant($"<circle cx=\"{X(p.X):F1}\" cy=\"{Y(p.Y):F1}\" r=\"{Markers[m % Markers.Length]}\" "))
                    .Append(Invariant($"fill=\"{color}\"/>"));
            svg.Append('\n');
        }
        svg.Append("</g>\n");
    }

    static void Legend(StringBuilder svg, List<string> methods, int y)
    {
        int x = Left;
        foreach (var (method, i) in methods.Select((m, i) => (m, i)))
        {
            var color = Colors[i % Colors.Length];
            svg.Append(Invariant($"<line x1=\"{x}\" y1=\"{y}\" x2=\"{x + 24}\" y2=\"{y}\" stroke=\"{color}\" stroke-width=\"2\" "))
                .Append(Invariant($"stroke-dasharray=\"{Dashes[i % Dashes.Length]}\"/>"))
                .Append(Invariant($"<circle cx=\"{x + 12}\" cy=\"{y}\" r=\"{Markers[i % Markers.Length]}\" fill=\"{color}\"/>"))
                .Append(Invariant($"<text x=\"{x + 30}\" y=\"{y + 4}\">")).Append(Escape(method)).Append("</text>\n");
            x += 40 + 7 * method.Length;
        }
    }

    static string Invariant(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);

    static string Escape(string text) => SecurityElement.Escape(text) ?? "";
}

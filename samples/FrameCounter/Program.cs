using System.Diagnostics;
using Microsoft.ML.OnnxRuntime;

// Classifies a stream of camera-sized frames with the model Lamda adapted at build time, counts the frames per
// class, and reports the latency it achieves on this machine.
const string Resource = "FrameCounter.classifier.onnx";
int frames = args.Length > 0 && int.TryParse(args[0], out var n) ? n : 200;

byte[] model;
using (var stream = typeof(Program).Assembly.GetManifestResourceStream(Resource)
    ?? throw new InvalidOperationException($"embedded model {Resource} not found; was the app built with Lamda?"))
using (var buffer = new MemoryStream())
{
    stream.CopyTo(buffer);
    model = buffer.ToArray();
}

using var options = new SessionOptions { IntraOpNumThreads = 1, ExecutionMode = ExecutionMode.ORT_SEQUENTIAL };
using var session = new InferenceSession(model, options);
// What the model says about itself: the budget, device and base Lamda adapted it for (metadata keys lamda.*).
foreach (var (key, value) in session.ModelMetadata.CustomMetadataMap.Where(kv => kv.Key.StartsWith("lamda.")).OrderBy(kv => kv.Key))
    Console.WriteLine($"{key} = {value}");
var input = session.InputMetadata.First();
var shape = input.Value.Dimensions.Select(d => d < 0 ? 1L : d).ToArray();
var pixels = new float[shape.Aggregate(1L, (a, b) => a * b)];
var random = new Random(42);
var counts = new Dictionary<int, int>();
var latencies = new List<double>();
for (int f = 0; f < frames; f++)
{
    for (int i = 0; i < pixels.Length; i++) pixels[i] = random.NextSingle(); // a synthetic frame
    using var value = OrtValue.CreateTensorValueFromMemory(pixels, shape);
    var start = Stopwatch.GetTimestamp();
    using var outputs = session.Run(new RunOptions(), [input.Key], [value], session.OutputNames);
    latencies.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
    var logits = outputs[0].GetTensorDataAsSpan<float>();
    int best = 0;
    for (int k = 1; k < logits.Length; k++) if (logits[k] > logits[best]) best = k;
    counts[best] = counts.GetValueOrDefault(best) + 1;
}
latencies.Sort();
Console.WriteLine($"model {Resource}: {model.Length / 1024.0:F1} KB, input [{string.Join(",", shape)}]");
Console.WriteLine($"{frames} frames, median latency {latencies[latencies.Count / 2]:F3} ms, p90 {latencies[(int)(latencies.Count * 0.9)]:F3} ms");
Console.WriteLine("frames per class: " + string.Join(", ", counts.OrderBy(kv => kv.Key).Select(kv => $"{kv.Key}={kv.Value}")));

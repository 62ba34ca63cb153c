using Google.Protobuf;
using Lamda.Graphs;
using Lamda.Onnx;
using Lamda.Runtime;
using Onnx;

namespace Lamda.Training;

/// <summary>
/// The fine-tuning objective of a student (an adapted model) against its teacher (the base model): the student's
/// ONNX model with the loss appended, its trainable weights, and the targets of a batch, which the teacher computes
/// on the fly (outputs, and the kept channels of a few pruned layers) with one-hot labels where there are labels.
/// </summary>
internal sealed class DistillationObjective : IDisposable
{
    const int MaxFeatures = 4;
    readonly ModelRunner teacher;
    readonly List<(LossTerm Term, string TeacherOutput, int[]? Channels)> fromTeacher = [];
    readonly LossTerm? labelTerm;
    readonly Dictionary<string, string> constantOrigins;

    DistillationObjective(ModelRunner teacher, ModelProto model, string loss, string dataInput, List<string> trainable,
        List<(LossTerm, string, int[]?)> fromTeacher, LossTerm? labelTerm, Dictionary<string, string> constantOrigins)
    {
        this.teacher = teacher;
        Model = model;
        Loss = loss;
        DataInput = dataInput;
        Trainable = trainable;
        this.fromTeacher = fromTeacher;
        this.labelTerm = labelTerm;
        this.constantOrigins = constantOrigins;
    }

    /// <summary>The student with the loss; trainable weights are initializers holding their starting values.</summary>
    public ModelProto Model { get; }
    public string Loss { get; }
    public string DataInput { get; }
    public IReadOnlyList<string> Trainable { get; }
    public IEnumerable<LossTerm> Terms => fromTeacher.Select(f => f.Term).Concat(labelTerm is { } l ? [l] : []);

    /// <param name="kept">base output channels kept per narrowed node id (WeightTransfer.Apply's keptOutputs);
    /// feature losses at up to four of them</param>
    /// <param name="teacher">the base graph it learns from</param>
    /// <param name="teacherWeights">the base model's weights (left unchanged)</param>
    /// <param name="student">the adapted graph being trained</param>
    /// <param name="studentWeights">the adapted model's starting weights (copied, never changed)</param>
    /// <param name="labels">class labels of the calibration inputs, when there are any</param>
    /// <param name="options">steps, time budget, learning rate, batch size, seed</param>
    /// <param name="sample">a calibration batch that fixes the tensor shapes</param>
    public static DistillationObjective Create(Graph teacher, WeightStore teacherWeights, Graph student, WeightStore studentWeights,
        IReadOnlyDictionary<string, int[]>? kept, bool labels, TrainOptions options, TensorData sample)
    {
        var features = FeatureNodes(student, kept);
        var teacherGraph = WithOutputs(teacher, features.Select(f => f.Edge));
        var studentGraph = WithOutputs(student, features.Select(f => f.Edge));
        var runner = new ModelRunner(OnnxExporter.Export(teacherGraph, teacherWeights).ToByteArray(),
            new RunnerOptions { IntraOpThreads = options.Threads }, "teacher model");
        var model = OnnxExporter.Export(studentGraph, studentWeights);
        var origins = ConstantNodes.ToInitializers(model.Graph);
        var dataInput = student.Inputs[0].Name;
        var targets = runner.Run(new Dictionary<string, TensorData> { [teacher.Inputs[0].Name] = sample });
        var terms = new List<(LossTerm, string, int[]?)>();
        foreach (var o in student.Outputs)
        {
            var kind = DistillationLoss.KindOf(model, o.Name);
            float weight = kind == LossKind.MeanSquared ? 1f / MeanSquare(targets[o.Name]) : 1f;
            var tensor = DistillationLoss.LossTensor(model, o.Name, kind);
            var term = new LossTerm(tensor, "target_" + o.Name, kind, weight, targets[o.Name].Shape);
            if (kind == LossKind.SoftmaxKl)
                term = term with { Temperature = options.Temperature, Axis = DistillationLoss.SoftmaxAxis(model, o.Name) };
            terms.Add((term, o.Name, null));
        }
        foreach (var (edge, channels) in features)
        {
            var name = FeatureName(edge);
            var target = SelectChannels(targets[name], channels);
            terms.Add((new LossTerm(name, "target_" + name, LossKind.MeanSquared,
                options.FeatureWeight / features.Count / MeanSquare(target), target.Shape), name, channels));
        }
        LossTerm? labelTerm = null;
        var first = terms[0].Item1;
        if (labels && first.Shape.Length == 2)
            labelTerm = new LossTerm(first.Tensor, "labels_onehot", LossKind.LogitsCrossEntropy, options.LabelWeight, first.Shape);
        var loss = DistillationLoss.Append(model, terms.Select(t => t.Item1).Concat(labelTerm is { } l ? [l] : []).ToList());
        var writable = new HashSet<string>(studentWeights.Tensors.Keys.Concat(origins.Keys), StringComparer.Ordinal);
        var trainable = TrainableWeights.Of(model).Where(writable.Contains).ToList();
        return new DistillationObjective(runner, model, loss, dataInput, trainable, terms, labelTerm, origins);
    }

    /// <summary>Up to four narrowed nodes, evenly spread through the graph, whose outputs carry base channels.</summary>
    static List<(string Edge, int[] Channels)> FeatureNodes(Graph student, IReadOnlyDictionary<string, int[]>? kept)
    {
        if (kept == null || kept.Count == 0) return [];
        var outputs = student.Outputs.Select(o => o.Edge).ToHashSet();
        var candidates = student.Nodes.Where(n => kept.ContainsKey(n.Id) && !outputs.Contains(n.Output)).ToList();
        int take = Math.Min(MaxFeatures, candidates.Count);
        return Enumerable.Range(0, take).Select(i => candidates[(int)((i + 1L) * candidates.Count / take) - 1])
            .Select(n => (n.Output, kept[n.Id])).ToList();
    }

    /// <summary>Mean square of a target: dividing an MSE by it makes the term scale-free (1 = as far off as predicting zeros).</summary>
    static float MeanSquare(TensorData t)
    {
        var v = (float[])t.Values;
        double sum = 0;
        foreach (var x in v) sum += (double)x * x;
        // Floored: a target that is nearly zero on the sample (a dead channel, a flat input) must not weigh millions of times more.
        return (float)Math.Max(sum / Math.Max(1, v.Length), 1e-2);
    }

    static string FeatureName(string edge) => "feature_" + edge;

    static Graph WithOutputs(Graph graph, IEnumerable<string> edges)
    {
        var g = graph.Clone();
        foreach (var edge in edges) g.Outputs.Add(new GraphValue(edge, FeatureName(edge), new TensorType(DataTypes.Float, null)));
        return g;
    }

    /// <summary>The student's inputs for a batch: the data, the teacher's targets, and one-hot labels when there are labels.</summary>
    public Dictionary<string, TensorData> Feeds(TensorData inputs, long[]? labels)
    {
        var outputs = teacher.Run(new Dictionary<string, TensorData> { [teacher.InputNames[0]] = inputs });
        var feeds = new Dictionary<string, TensorData>(StringComparer.Ordinal) { [DataInput] = inputs };
        foreach (var (term, output, channels) in fromTeacher)
            feeds[term.Target] = channels == null ? outputs[output] : SelectChannels(outputs[output], channels);
        if (labelTerm != null)
        {
            if (labels == null) throw new ArgumentException("this objective was built with labels");
            long classes = labelTerm.Shape[1];
            var onehot = new float[labels.Length * classes];
            for (int i = 0; i < labels.Length; i++)
                if (labels[i] >= 0 && labels[i] < classes) onehot[i * classes + labels[i]] = 1f;
            feeds[labelTerm.Target] = new TensorData(DataTypes.Float, [labels.Length, classes], onehot);
        }
        return feeds;
    }

    static TensorData SelectChannels(TensorData t, int[] channels)
    {
        var selected = new FloatTensor(t.Shape, (float[])t.Values).Select(1, channels);
        return new TensorData(DataTypes.Float, selected.Dims, selected.Data);
    }

    /// <summary>The starting values of the trainable weights, as arrays the trainer may update.</summary>
    public Dictionary<string, float[]> InitialWeights() => Model.Graph.Initializer.Where(t => Trainable.Contains(t.Name))
        .ToDictionary(t => t.Name, t => FloatTensor.From(t).Data, StringComparer.Ordinal);

    public Dictionary<string, long[]> WeightShapes() => Model.Graph.Initializer.Where(t => Trainable.Contains(t.Name))
        .ToDictionary(t => t.Name, t => t.Dims.ToArray(), StringComparer.Ordinal);

    /// <summary>
    /// Mean loss over <paramref name="inputs"/> (held-out data, say) with the given weights (the starting ones when
    /// null).
    /// </summary>
    public double Evaluate(IReadOnlyDictionary<string, float[]>? weights, TensorData inputs, long[]? labels, int batch = 16)
    {
        var model = Model.Clone();
        model.Graph.Output.Clear();
        model.Graph.Output.Add(new ValueInfoProto { Name = Loss,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = DataTypes.Float } } });
        if (weights != null)
            foreach (var t in model.Graph.Initializer)
                if (weights.TryGetValue(t.Name,
                    out var w)) t.RawData = ByteString.CopyFrom(System.Runtime.InteropServices.MemoryMarshal.AsBytes(w.AsSpan()));
        using var runner = new ModelRunner(model.ToByteArray(), displayName: "student loss");
        long n = inputs.Shape[0];
        double total = 0;
        for (long start = 0; start < n; start += batch)
        {
            long b = Math.Min(batch, n - start);
            var feeds = Feeds(inputs.Rows(start, b), labels?[(int)start..(int)(start + b)]);
            total += ((float[])runner.Run(feeds)[Loss].Values)[0] * b;
        }
        return total / n;
    }

    /// <summary>A copy of the student's weight store with the trained values; the student's own store is not changed.</summary>
    public WeightStore Apply(Graph student, WeightStore studentWeights, IReadOnlyDictionary<string, float[]> weights)
    {
        var store = new WeightStore { Source = studentWeights.Source };
        foreach (var (name, t) in studentWeights.Tensors) store.Add(name, t);
        foreach (var (key, a) in studentWeights.Attributes) store.AddAttribute(key, a);
        store.CapturedWeights.UnionWith(studentWeights.CapturedWeights);
        store.Functions.AddRange(studentWeights.Functions);
        var shapes = WeightShapes();
        foreach (var (name, values) in weights)
        {
            var key = name;
            if (constantOrigins.TryGetValue(name, out var nodeId) &&
                student.Nodes.FirstOrDefault(n => n.Id == nodeId)?.Attribute("value") is { Kind: AttributeKind.Reference } reference)
                key = reference.Reference;
            store.Add(key, new FloatTensor(shapes[name], values.ToArray()).ToProto(key));
        }
        return store;
    }

    public void Dispose() => teacher.Dispose();
}

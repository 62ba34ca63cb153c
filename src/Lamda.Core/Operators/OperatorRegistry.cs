namespace Lamda.Operators;

/// <summary>
/// The rule of every operator Lamda understands, by name (default ONNX domain). The analyses walk the graph
/// and ask here; adding an operator means adding its rule to a family file and to <see cref="Families"/>.
/// </summary>
internal static class OperatorRegistry
{
    static readonly OperatorRule[] Families =
    [
        new ConvRule(), new PoolRule(), new GlobalPoolRule(), new ReduceRule(),
        new GemmRule(),
        new UnaryRule(), new BroadcastRule(), new IdentityRule(), new DropoutRule(),
        new BatchNormRule(), new ChannelwiseNormRule(), new LrnRule(),
        new ConcatRule(), new SliceRule(), new SplitRule(), new PadRule(),
        new ReshapeRule(), new TransposeRule(), new SqueezeRule(), new ResizeRule(), new DepthToSpaceRule(),
        new ExpandRule(), new TileRule(), new ShapeOfRule(), new SizeRule(), new GatherRule(), new CastRule(),
        new ConstantRule(), new ConstantOfShapeRule(),
    ];

    static readonly Dictionary<string, OperatorRule> ByOp = Index();

    static Dictionary<string, OperatorRule> Index()
    {
        var map = new Dictionary<string, OperatorRule>(StringComparer.Ordinal);
        foreach (var rule in Families)
            foreach (var op in rule.Ops)
                if (!map.TryAdd(op, rule)) throw new InvalidOperationException($"operator {op} has two rules");
        return map;
    }

    /// <summary>The rule for <paramref name="op"/>, or <see cref="OperatorRule.Opaque"/> when Lamda has none.</summary>
    public static OperatorRule Get(string op) => ByOp.GetValueOrDefault(op) ?? OperatorRule.Opaque;

    /// <summary>True when a family describes <paramref name="op"/>.</summary>
    public static bool Knows(string op) => ByOp.ContainsKey(op);

    /// <summary>Every operator with a rule.</summary>
    public static IEnumerable<string> Operators => ByOp.Keys;
}

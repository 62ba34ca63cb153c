using System.Globalization;
using System.Text;
using Lamda.Graphs;

namespace Lamda.Text;

/// <summary>
/// Parses LamdaText into a <see cref="Graph"/>. It checks syntax and structure (known operators, every
/// edge defined before use, unique ids, arity, required attributes) and reports every problem it finds
/// as <c>file:line:column: LTxxx message</c>. Semantic checks (channel agreement, the task head) belong
/// to the validators.
/// </summary>
public static class LamdaTextReader
{
    /// <summary>
    /// Parses LamdaText; the first errors (with line and column in <paramref name="file"/>) are thrown as a <see
    /// cref="LamdaTextException"/>.
    /// </summary>
    public static Graph Read(string text, string file = "<text>")
    {
        var graph = TryRead(text, file, out var diagnostics);
        return graph ?? throw new LamdaTextException(diagnostics);
    }

    /// <summary>Parses LamdaText, recovering after errors: the graph, or null with every error in <paramref name="diagnostics"/>.</summary>
    public static Graph? TryRead(string text, string file, out List<TextDiagnostic> diagnostics)
    {
        var state = new State(file);
        var lines = text.Split('\n');
        bool sawMagic = false, sawModel = false;
        for (int i = 0; i < lines.Length; i++)
        {
            var line = lines[i].TrimEnd('\r');
            var trimmed = line.TrimStart();
            if (trimmed.Length == 0 || trimmed[0] == '#') continue;
            var c = new Cursor(line, i + 1);
            try
            {
                if (!sawMagic) { ParseMagic(c); sawMagic = true; continue; }
                var keyword = c.PeekWord();
                if (!sawModel)
                {
                    if (keyword != "model")
                        throw c.Error(TextCodes.BadHeader, "expected the 'model ir=N opset=N' line after 'lamdatext 1'");
                    ParseModel(c, state.Graph);
                    sawModel = true;
                }
                else if (keyword == "input") ParseValue(c, state, isInput: true);
                else if (keyword == "output") ParseValue(c, state, isInput: false);
                else if (keyword == "capture") ParseCapture(c, state);
                else ParseNode(c, state);
            }
            catch (ParseError e)
            {
                state.Diagnostics.Add(new TextDiagnostic(e.Code, file, e.Line, e.Column, e.Message));
                state.Recover(line);
            }
        }
        if (!sawMagic || !sawModel)
            state.Diagnostics.Add(new TextDiagnostic(
                TextCodes.BadHeader, file, 1, 1, "not LamdaText: expected 'lamdatext 1' and a 'model' line"));
        state.CheckOutputs();
        diagnostics = state.Diagnostics;
        return diagnostics.Count == 0 ? state.Graph : null;
    }

    sealed class State(string file)
    {
        public Graph Graph { get; } = new();
        public List<TextDiagnostic> Diagnostics { get; } = [];
        /// <summary>Edge id -> number of outputs it has (1 for graph inputs).</summary>
        public Dictionary<string, int> Edges { get; } = new(StringComparer.Ordinal);
        public HashSet<string> NodeIds { get; } = new(StringComparer.Ordinal);
        public List<(GraphValue Value, int Line, int Column)> PendingOutputs { get; } = [];
        public List<(GraphValue Value, int Line, int Column)> PendingCaptures { get; } = [];

        /// <summary>
        /// After an error in a node line, still define the edge it declares, so that later lines reading it
        /// do not report follow-on errors: each diagnostic then names a root cause.
        /// </summary>
        public void Recover(string line)
        {
            var m = RecoverOutput.Match(line);
            if (m.Success)
                Edges.TryAdd(m.Groups[1].Value, m.Groups[2].Success ? int.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture) : 1);
        }

        public void CheckOutputs()
        {
            var names = new HashSet<string>(StringComparer.Ordinal);
            foreach (var (v, line, col) in PendingOutputs)
            {
                if (!Edges.TryGetValue(v.Edge, out var count))
                    Diagnostics.Add(new TextDiagnostic(
                        TextCodes.DanglingEdge, file, line, col,
                        $"output '{v.Name}' refers to %{v.Key}, which no node defines"));
                else if (v.Index >= count)
                    Diagnostics.Add(new TextDiagnostic(
                        TextCodes.DanglingEdge, file, line, col,
                        $"output '{v.Name}' refers to %{v.Key}, but %{v.Edge} has {count} output(s)"));
                if (!names.Add(v.Name))
                    Diagnostics.Add(new TextDiagnostic(TextCodes.DuplicateId, file, line, col, $"output name '{v.Name}' is used twice"));
            }
            foreach (var (v, line, col) in PendingCaptures)
                if (!Edges.TryGetValue(v.Edge, out var count) || v.Index >= count)
                    Diagnostics.Add(new TextDiagnostic(
                        TextCodes.DanglingEdge, file, line, col,
                        $"capture '{v.Name}' refers to %{v.Key}, which no node defines"));
        }
    }

    static readonly System.Text.RegularExpressions.Regex RecoverOutput =
        new(@"->\s*%([A-Za-z0-9_]+)(?:\*([0-9]{1,4}))?", System.Text.RegularExpressions.RegexOptions.Compiled);

    static void ParseMagic(Cursor c)
    {
        var word = c.ReadWord();
        if (word != Syntax.Magic)
            throw c.Error(TextCodes.BadHeader, $"not LamdaText: the first line must be '{Syntax.Magic} {Syntax.Version}'");
        c.Spaces();
        var ver = c.ReadWord();
        if (ver != Syntax.Int(Syntax.Version))
            throw c.Error(TextCodes.BadHeader, $"unsupported LamdaText version '{ver}'; this Lamda reads version {Syntax.Version}");
        c.End();
    }

    static void ParseModel(Cursor c, Graph g)
    {
        c.ReadWord();
        while (c.Spaces() && !c.AtEnd)
        {
            int col = c.Column;
            var key = c.ReadWhile(ch => ch != '=' && ch != ' ');
            c.Expect('=');
            long value = c.ReadInt();
            if (key == "ir") g.IrVersion = value;
            else if (key == "opset") g.Opsets.Add(new OpsetId("", value));
            else if (key.StartsWith("opset.", StringComparison.Ordinal)) g.Opsets.Add(new OpsetId(key["opset.".Length..], value));
            else throw new ParseError(
                TextCodes.BadHeader, c.LineNumber, col,
                $"unknown model property '{key}' (expected ir, opset or opset.<domain>)");
        }
        c.End();
        if (g.Opset == 0) throw c.Error(TextCodes.BadHeader, "the model line must give the ONNX opset, for example 'opset=13'");
    }

    /// <summary>The common start of input, output and capture lines: keyword, edge and quoted ONNX name.</summary>
    static (string Edge, int Index, string Name, int Column) ParseBinding(Cursor c)
    {
        c.ReadWord();
        c.Spaces();
        int col = c.Column;
        var (edge, index) = ParseEdgeRef(c);
        c.Spaces();
        return (edge, index, c.ReadQuoted(), col);
    }

    static void ParseValue(Cursor c, State s, bool isInput)
    {
        var (edge, index, name, col) = ParseBinding(c);
        c.Spaces();
        var type = ParseType(c);
        c.End();
        var value = new GraphValue(edge, name, type) { Index = index };
        if (isInput)
        {
            if (index != 0) throw new ParseError(
                TextCodes.Syntax, c.LineNumber, col, "a graph input is a single edge; drop the '.N' suffix");
            if (!s.Edges.TryAdd(edge, 1)) throw new ParseError(TextCodes.DuplicateId, c.LineNumber, col, $"edge %{edge} is defined twice");
            if (s.Graph.Inputs.Any(i => i.Name == name)) throw new ParseError(
                TextCodes.DuplicateId, c.LineNumber, col, $"input name '{name}' is used twice");
            s.Graph.Inputs.Add(value);
        }
        else
        {
            s.Graph.Outputs.Add(value);
            s.PendingOutputs.Add((value, c.LineNumber, col));
        }
    }

    static void ParseCapture(Cursor c, State s)
    {
        var (edge, index, name, col) = ParseBinding(c);
        c.End();
        var value = new GraphValue(edge, name, TensorType.Unknown) { Index = index };
        s.Graph.Captures.Add(value);
        s.PendingCaptures.Add((value, c.LineNumber, col));
    }

    static TensorType ParseType(Cursor c)
    {
        int col = c.Column;
        var dtype = c.ReadWhile(char.IsAsciiLetterOrDigit);
        if (!DataTypes.TryParse(dtype, out var et)) throw new ParseError(
            TextCodes.Syntax, c.LineNumber, col, $"unknown element type '{dtype}' (expected f32, i64, ...)");
        c.Expect('[');
        if (c.TryConsume('*')) { c.Expect(']'); return new TensorType(et, null); }
        var dims = new List<Dim>();
        if (!c.TryConsume(']'))
        {
            do
            {
                if (c.TryConsume('?')) dims.Add(Dim.Unknown);
                else if (c.Peek == '"') dims.Add(new Dim(-1, c.ReadQuoted()));
                else if (c.Peek is >= '0' and <= '9') dims.Add(new Dim(c.ReadInt()));
                else
                {
                    var name = c.ReadWhile(Syntax.IsBareNameChar);
                    if (name.Length == 0) throw c.Error(TextCodes.Syntax, "expected a dimension (a number, '?' or a name)");
                    dims.Add(new Dim(-1, name));
                }
            } while (c.TryConsume(','));
            c.Expect(']');
        }
        return new TensorType(et, dims);
    }

    static (string Edge, int Index) ParseEdgeRef(Cursor c)
    {
        c.Expect('%');
        var id = c.ReadWhile(Syntax.IsIdChar);
        if (id.Length == 0) throw c.Error(TextCodes.Syntax, "expected an edge id after '%'");
        int index = 0;
        if (c.TryConsume('.')) index = (int)c.ReadInt();
        return (id, index);
    }

    static void ParseNode(Cursor c, State s)
    {
        var (node, opCol) = ParseOperator(c, s);
        ParseInputs(c, s, node);
        int outCol = ParseOutput(c, node);
        ParseAttributes(c, node);
        c.End();
        CheckSignature(node, c, opCol);
        if (!s.Edges.TryAdd(node.Output, node.OutputCount))
            throw new ParseError(TextCodes.DuplicateId, c.LineNumber, outCol, $"edge %{node.Output} is defined twice");
        s.Graph.Nodes.Add(node);
    }

    // "nID Op": the node id (new in this graph) and a known operator, with its column for signature errors.
    static (Node Node, int OpCol) ParseOperator(Cursor c, State s)
    {
        int idCol = c.Column;
        var id = c.ReadWhile(Syntax.IsIdChar);
        if (id.Length == 0 || char.IsAsciiDigit(id[0]))
            throw c.Error(TextCodes.Syntax, "expected a node line: 'nID Op(inputs) -> %out ch=IN:OUT attributes'");
        if (!s.NodeIds.Add(id)) throw new ParseError(TextCodes.DuplicateId, c.LineNumber, idCol, $"node id {id} is defined twice");
        c.Spaces();
        int opCol = c.Column;
        var opToken = c.ReadWhile(ch => char.IsAsciiLetterOrDigit(ch) || ch is '_' or '.' or ':');
        if (opToken.Length == 0) throw c.Error(TextCodes.Syntax, "expected an operator name");
        int sep = opToken.LastIndexOf(':');
        string domain = sep < 0 ? "" : opToken[..sep], op = opToken[(sep + 1)..];
        if (!OperatorCatalog.IsKnown(domain, op))
            throw new ParseError(TextCodes.UnknownOperator, c.LineNumber, opCol, $"unknown operator '{op}'{Suggest(op)}");
        return (new Node(id, op, "") { Domain = domain }, opCol);
    }

    // "(operand, ...)" after the operator.
    static void ParseInputs(Cursor c, State s, Node node)
    {
        c.Spaces();
        c.Expect('(');
        c.Spaces();
        if (!c.TryConsume(')'))
        {
            do
            {
                c.Spaces();
                node.Inputs.Add(ParseOperand(c, s, node.Id));
                c.Spaces();
            } while (c.TryConsume(','));
            c.Expect(')');
        }
    }

    // "-> %out[*N] ch=IN:OUT"; returns the output's column for the duplicate-edge error.
    static int ParseOutput(Cursor c, Node node)
    {
        c.Spaces();
        c.Expect('-'); c.Expect('>');
        c.Spaces();
        int outCol = c.Column;
        var (output, outIndex) = ParseEdgeRef(c);
        if (outIndex != 0) throw new ParseError(
            TextCodes.Syntax, c.LineNumber, outCol,
            "a node's output id has no '.N' suffix; extra outputs are declared with '*N'");
        node.Output = output;
        if (c.TryConsume('*'))
        {
            node.OutputCount = (int)c.ReadInt();
            if (node.OutputCount < 1) throw new ParseError(TextCodes.BadNumber, c.LineNumber, outCol, "output count must be at least 1");
        }
        c.Spaces();
        int chCol = c.Column;
        if (c.PeekWord() != "ch") throw c.Error(TextCodes.Syntax, "expected 'ch=IN:OUT' (channels; '?' when unknown) after the output id");
        c.ReadWord();
        c.Expect('=');
        node.InChannels = ParseChannel(c);
        c.Expect(':');
        node.OutChannels = ParseChannel(c);
        return outCol;
    }

    // " name=value" pairs up to the end of the line, each name once.
    static void ParseAttributes(Cursor c, Node node)
    {
        while (c.Spaces() && !c.AtEnd)
        {
            int col = c.Column;
            var name = c.ReadWhile(Syntax.IsIdChar);
            if (name.Length == 0) throw c.Error(TextCodes.Syntax, "expected an attribute 'name=value'");
            c.Expect('=');
            if (node.Attribute(name) != null) throw new ParseError(
                TextCodes.DuplicateId, c.LineNumber, col, $"attribute {name} is given twice");
            node.Attributes.Add(new NodeAttribute(name, ParseAttribute(c)));
        }
    }

    static void CheckSignature(Node node, Cursor c, int col)
    {
        if (node.Domain.Length > 0 || OperatorCatalog.SignatureOf(node.Op) is not { } sig) return;
        int count = node.Inputs.Count;
        if (count < sig.MinInputs || count > sig.MaxInputs)
        {
            var expected = sig.MinInputs == sig.MaxInputs ? $"{sig.MinInputs}" : sig.MaxInputs == int.MaxValue ? $"at least {sig.MinInputs}"
                : $"{sig.MinInputs} to {sig.MaxInputs}";
            throw new ParseError(TextCodes.WrongArity, c.LineNumber, col, $"{node.Op} takes {expected} input(s), {node.Id} has {count}");
        }
        foreach (var a in sig.RequiredAttributes)
            if (node.Attribute(a) == null)
                throw new ParseError(TextCodes.MissingAttribute, c.LineNumber, col,
                    $"{node.Op} requires attribute '{a}', which {node.Id} does not give");
        if (node.Op == "Constant" && node.Attributes.Count == 0)
            throw new ParseError(TextCodes.MissingAttribute, c.LineNumber, col,
                $"Constant requires a value attribute (value=..., value_ints=...), which {node.Id} does not give");
    }

    static long? ParseChannel(Cursor c) => c.TryConsume('?') ? null : c.ReadInt();

    static Operand ParseOperand(Cursor c, State s, string nodeId)
    {
        int col = c.Column;
        switch (c.Peek)
        {
            case '%':
                var (edge, index) = ParseEdgeRef(c);
                if (!s.Edges.TryGetValue(edge, out var count))
                    throw new ParseError(TextCodes.DanglingEdge, c.LineNumber, col,
                        $"edge %{edge} is not defined before {nodeId} (inputs must come from graph inputs or earlier nodes)");
                if (index >= count)
                    throw new ParseError(TextCodes.DanglingEdge, c.LineNumber, col,
                        $"%{edge} has {count} output(s); %{edge}.{index} does not exist");
                return new EdgeOperand(edge, index);
            case '@':
                c.Advance();
                return new WeightOperand(ParseName(c));
            case '_' when !Syntax.IsIdChar(c.PeekAt(1)):
                c.Advance();
                return EmptyOperand.Instance;
            default:
                if (char.IsAsciiLetter(c.Peek)) return new LiteralOperand(ParseLiteral(c));
                throw c.Error(TextCodes.Syntax, "expected an input: %edge, @weight, a literal like i64[2]{1,-1}, or _");
        }
    }

    static string ParseName(Cursor c)
    {
        if (c.Peek == '"') return c.ReadQuoted();
        var name = c.ReadWhile(Syntax.IsBareNameChar);
        if (name.Length == 0) throw c.Error(TextCodes.Syntax, "expected a name after '@'");
        return name;
    }

    static TensorLiteral ParseLiteral(Cursor c)
    {
        int col = c.Column;
        var dtype = c.ReadWhile(char.IsAsciiLetterOrDigit);
        if (!DataTypes.TryParse(dtype, out var et) || !TensorLiteral.IsSupported(et))
            throw new ParseError(TextCodes.Syntax, c.LineNumber, col,
                $"'{dtype}' is not a literal element type (use f32, f64, i64, i32, i8, u8, bool, ...)");
        c.Expect('[');
        var dims = new List<long>();
        if (!c.TryConsume(']'))
        {
            do dims.Add(c.ReadInt()); while (c.TryConsume(','));
            c.Expect(']');
        }
        c.Expect('{');
        long expected = dims.Aggregate(1L, (a, d) => a * d);
        var ints = new List<long>();
        var reals = new List<double>();
        bool real = DataTypes.IsReal(et);
        if (!c.TryConsume('}'))
        {
            do
            {
                if (real) reals.Add(c.ReadReal(et == DataTypes.Float));
                else ints.Add(c.ReadInt());
            } while (c.TryConsume(','));
            c.Expect('}');
        }
        long got = real ? reals.Count : ints.Count;
        if (got != expected) throw new ParseError(
            TextCodes.BadNumber, c.LineNumber, col,
            $"literal has shape [{string.Join(",", dims)}] ({expected} values) but lists {got}");
        return new TensorLiteral(et, dims.ToArray(), real ? null : ints.ToArray(), real ? reals.ToArray() : null);
    }

    static AttributeValue ParseAttribute(Cursor c)
    {
        char p = c.Peek;
        if (p == '"') return AttributeValue.FromString(c.ReadQuoted());
        if (p == '@') { c.Advance(); return AttributeValue.FromReference(ParseName(c)); }
        if (p == '[') return ParseList(c);
        if (char.IsAsciiLetter(p))
        {
            var word = c.PeekWord();
            if (word is "inf" or "nan") return AttributeValue.FromFloat((float)c.ReadReal(true));
            return AttributeValue.FromTensor(ParseLiteral(c));
        }
        var number = c.PeekNumber();
        if (number.Length == 0)
            throw c.Error(TextCodes.Syntax, "expected an attribute value: a number, \"string\", [list], literal or @reference");
        return IsReal(number) ? AttributeValue.FromFloat((float)c.ReadReal(true)) : AttributeValue.FromInt(c.ReadInt());
    }

    static bool IsReal(string number) => number.Contains('.') || number.Contains('e') || number.Contains('E') || number.Contains("inf")
        || number.Contains("nan");

    static AttributeValue ParseList(Cursor c)
    {
        c.Expect('[');
        if (c.TryConsume(']'))
        {
            if (c.TryConsume('f')) return AttributeValue.FromFloats([]);
            if (c.TryConsume('s')) return AttributeValue.FromStrings([]);
            return AttributeValue.FromInts([]);
        }
        if (c.Peek == '"')
        {
            var strings = new List<string>();
            do strings.Add(c.ReadQuoted()); while (c.TryConsume(','));
            c.Expect(']');
            return AttributeValue.FromStrings(strings.ToArray());
        }
        var items = new List<(string Text, int Column)>();
        do
        {
            int col = c.Column;
            var number = c.PeekNumber();
            if (number.Length == 0) throw c.Error(TextCodes.Syntax, "expected a number in the list");
            c.Skip(number.Length);
            items.Add((number, col));
        } while (c.TryConsume(','));
        c.Expect(']');
        if (items.Any(i => IsReal(i.Text)))
            return AttributeValue.FromFloats(items.Select(i => (float)Cursor.ParseReal(i.Text, true, c.LineNumber, i.Column)).ToArray());
        return AttributeValue.FromInts(items.Select(i => Cursor.ParseInt(i.Text, c.LineNumber, i.Column)).ToArray());
    }

    static string Suggest(string op)
    {
        var best = OperatorCatalog.OnnxOperators
            .Select(k => (k, d: Distance(op.ToLowerInvariant(), k.ToLowerInvariant())))
            .OrderBy(x => x.d).ThenBy(x => x.k, StringComparer.Ordinal).First();
        return best.d <= Math.Max(2, op.Length / 3) ? $"; did you mean '{best.k}'?"
            : "; use an ONNX operator name, or 'domain:Op' for a custom domain";
    }

    static int Distance(string a, string b)
    {
        var prev = new int[b.Length + 1];
        var cur = new int[b.Length + 1];
        for (int j = 0; j <= b.Length; j++) prev[j] = j;
        for (int i = 1; i <= a.Length; i++)
        {
            cur[0] = i;
            for (int j = 1; j <= b.Length; j++)
                cur[j] = Math.Min(Math.Min(cur[j - 1] + 1, prev[j] + 1), prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
            (prev, cur) = (cur, prev);
        }
        return prev[b.Length];
    }

    sealed class ParseError(string code, int line, int column, string message) : Exception(message)
    {
        public string Code { get; } = code;
        public int Line { get; } = line;
        public int Column { get; } = column;
    }

    /// <summary>A position in one line. Columns are 1-based, as editors show them.</summary>
    sealed class Cursor(string text, int lineNumber)
    {
        int pos;
        public int LineNumber { get; } = lineNumber;
        public int Column => pos + 1;
        public bool AtEnd => pos >= text.Length;
        public char Peek => pos < text.Length ? text[pos] : '\0';
        public char PeekAt(int offset) => pos + offset < text.Length ? text[pos + offset] : '\0';
        public void Advance() => pos++;
        public void Skip(int n) => pos += n;

        public ParseError Error(string code, string message) => new(code, LineNumber, Column, message);

        public bool Spaces()
        {
            int start = pos;
            while (pos < text.Length && text[pos] is ' ' or '\t') pos++;
            return pos > start;
        }

        public void End()
        {
            Spaces();
            if (!AtEnd) throw Error(TextCodes.Syntax, $"unexpected '{text[pos..Math.Min(text.Length, pos + 16)]}'");
        }

        public string ReadWhile(Func<char, bool> accept)
        {
            int start = pos;
            while (pos < text.Length && accept(text[pos])) pos++;
            return text[start..pos];
        }

        public string PeekWord()
        {
            int end = pos;
            while (end < text.Length && Syntax.IsIdChar(text[end])) end++;
            return text[pos..end];
        }

        public string ReadWord() => ReadWhile(Syntax.IsIdChar);

        public string PeekNumber()
        {
            int end = pos;
            while (end < text.Length && (char.IsAsciiLetterOrDigit(text[end]) || text[end] is '-' or '+' or '.')) end++;
            return text[pos..end];
        }

        public void Expect(char ch)
        {
            if (Peek != ch)
                throw Error(TextCodes.Syntax, AtEnd ? $"expected '{ch}' but the line ends" : $"expected '{ch}' but found '{Peek}'");
            pos++;
        }

        public bool TryConsume(char ch)
        {
            if (Peek != ch) return false;
            pos++;
            return true;
        }

        public long ReadInt()
        {
            int col = Column;
            var s = PeekNumber();
            if (s.Length == 0) throw Error(TextCodes.BadNumber, "expected an integer");
            pos += s.Length;
            return ParseInt(s, LineNumber, col);
        }

        public double ReadReal(bool single)
        {
            int col = Column;
            var s = PeekNumber();
            if (s.Length == 0) throw Error(TextCodes.BadNumber, "expected a number");
            pos += s.Length;
            return ParseReal(s, single, LineNumber, col);
        }

        public static long ParseInt(string s, int line, int col) =>
            long.TryParse(s, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var v)
                ? v : throw new ParseError(TextCodes.BadNumber, line, col, $"'{s}' is not a valid integer");

        public static double ParseReal(string s, bool single, int line, int col)
        {
            switch (s)
            {
                case "inf" or "+inf": return double.PositiveInfinity;
                case "-inf": return double.NegativeInfinity;
                case "nan": return double.NaN;
            }
            const NumberStyles style = NumberStyles.AllowLeadingSign | NumberStyles.AllowDecimalPoint | NumberStyles.AllowExponent;
            if (single && float.TryParse(s, style, CultureInfo.InvariantCulture, out var f)) return f;
            if (!single && double.TryParse(s, style, CultureInfo.InvariantCulture, out var d)) return d;
            throw new ParseError(TextCodes.BadNumber, line, col, $"'{s}' is not a valid number");
        }

        public string ReadQuoted()
        {
            Expect('"');
            var sb = new StringBuilder();
            while (true)
            {
                if (AtEnd) throw Error(TextCodes.Syntax, "unterminated string");
                char ch = text[pos++];
                if (ch == '"') return sb.ToString();
                if (ch != '\\') { sb.Append(ch); continue; }
                if (AtEnd) throw Error(TextCodes.Syntax, "unterminated escape");
                char e = text[pos++];
                switch (e)
                {
                    case 'n': sb.Append('\n'); break;
                    case 'r': sb.Append('\r'); break;
                    case 't': sb.Append('\t'); break;
                    case 'x':
                        if (pos + 2 > text.Length
                            || !int.TryParse(text.AsSpan(pos, 2), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var code))
                            throw Error(TextCodes.Syntax, "bad \\x escape");
                        sb.Append((char)code);
                        pos += 2;
                        break;
                    default: sb.Append(e); break;
                }
            }
        }
    }
}

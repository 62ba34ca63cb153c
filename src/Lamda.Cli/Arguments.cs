namespace Lamda.Cli;

/// <summary>
/// Parsed command-line arguments of one command: positionals, <c>--name value</c> options and flags.
/// Every option a command reads must be declared, so a typo is an error rather than silently ignored.
/// </summary>
internal sealed class Arguments
{
    readonly Dictionary<string, string> values = new(StringComparer.Ordinal);
    readonly HashSet<string> flags = new(StringComparer.Ordinal);
    readonly List<string> positionals = [];
    readonly string command;

    Arguments(string command) => this.command = command;

    public IReadOnlyList<string> Positionals => positionals;

    /// <summary>Splits a command's arguments into options, flags and positionals; unknown options are user errors.</summary>
    /// <param name="command">the command's name, for error messages</param>
    /// <param name="args">the arguments after the command's name</param>
    /// <param name="valueOptions">options that take a value, with aliases as "-o|--output"</param>
    /// <param name="flagOptions">options without a value</param>
    public static Arguments Parse(string command, string[] args, string[] valueOptions, string[] flagOptions)
    {
        var a = new Arguments(command);
        var valueAliases = Aliases(valueOptions);
        var flagAliases = Aliases(flagOptions);
        for (int i = 0; i < args.Length; i++)
        {
            var arg = args[i];
            if (arg.StartsWith('-') && arg.Length > 1 && !double.TryParse(arg, out _))
            {
                string name = arg, inline = null!;
                int eq = arg.IndexOf('=');
                if (eq > 0) { name = arg[..eq]; inline = arg[(eq + 1)..]; }
                if (valueAliases.TryGetValue(name, out var canonical))
                {
                    var v = inline ?? (i + 1 < args.Length ? args[++i] : throw Usage($"option {name} needs a value"));
                    a.values[canonical] = v;
                }
                else if (flagAliases.TryGetValue(name, out canonical)) a.flags.Add(canonical);
                else throw Usage($"unknown option '{name}' for 'lamda {command}'");
            }
            else a.positionals.Add(arg);
        }
        return a;

        LamdaException Usage(string message) => new(ErrorCodes.BadArgument, $"{message}. Run 'lamda {command} --help'.");
    }

    static Dictionary<string, string> Aliases(string[] specs)
    {
        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var spec in specs)
        {
            var names = spec.Split('|');
            foreach (var n in names) map[n] = names[^1];
        }
        return map;
    }

    public bool Flag(string name) => flags.Contains(name);

    public string? Value(string name) => values.GetValueOrDefault(name);

    public string Required(string name) => Value(name)
        ?? throw new LamdaException(ErrorCodes.BadArgument, $"'lamda {command}' needs {name}. Run 'lamda {command} --help'.");

    public int Int(string name, int fallback)
    {
        var v = Value(name);
        if (v == null) return fallback;
        return int.TryParse(v, out var i) && i >= 0 ? i
            : throw new LamdaException(ErrorCodes.BadArgument, $"{name} must be a non-negative integer, got '{v}'.");
    }

    public string Positional(int index, string what) =>
        index < positionals.Count ? positionals[index]
            : throw new LamdaException(ErrorCodes.BadArgument, $"'lamda {command}' needs {what}. Run 'lamda {command} --help'.");

    public void NoMorePositionals(int expected)
    {
        if (positionals.Count > expected) throw new LamdaException(
            ErrorCodes.BadArgument, $"unexpected argument '{positionals[expected]}' for 'lamda {command}'.");
    }
}

namespace Lamda.Cli;

/// <summary>One verb of the <c>lamda</c> tool.</summary>
internal abstract class Command
{
    public abstract string Name { get; }
    public abstract string Summary { get; }
    /// <summary>Full usage text shown by <c>lamda NAME --help</c>.</summary>
    public abstract string Usage { get; }
    public virtual string[] ValueOptions => [];
    public virtual string[] FlagOptions => [];

    /// <summary>Runs the command; returns the exit code. Throw <see cref="LamdaException"/> for user errors.</summary>
    public abstract int Run(Arguments args, TextWriter stdout, TextWriter stderr);
}

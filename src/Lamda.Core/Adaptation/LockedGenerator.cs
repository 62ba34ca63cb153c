namespace Lamda.Adaptation;

/// <summary>
/// Replays an architecture chosen earlier (a lock file written by <c>--write-lock</c>): no search, the same
/// LamdaText every time, so a build from a lock is deterministic. It still goes through every validator.
/// </summary>
internal sealed class LockedGenerator(string text, string source) : IArchitectureGenerator
{
    public string Name => "lock";
    public string Source { get; } = source;
    public Proposal Generate(GenerationRequest request) => new(text) { LockFile = Source };
}

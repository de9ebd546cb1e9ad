namespace Kv.Cli;

/// <summary>kvctl's exit codes: a contract with scripts (STYLE.md, DESIGN.md section 9).</summary>
internal static class ExitCodes
{
    public const int Ok = 0;
    public const int Failed = 1;
    public const int Usage = 2;
    public const int RefusedUnsafe = 3;
    public const int NotFound = 4;
    public const int Unavailable = 5;
    public const int Conflict = 6;
    public const int OutcomeUnknown = 7;
    public const int Interrupted = 130;
}

using System.CommandLine;
using Kv.Client;
using Kv.Client.Administration;

namespace Kv.Cli.Commands;

/// <summary>
/// The flags every verb that submits an operation shares, and their checks (made before any call):
/// --dry-run (print the plan and preflight, change nothing), --no-wait (print the id and return),
/// --force (override a preflight refusal; needs --reason, audited), --reason, --id (the client-chosen
/// id, so a retried command names the same operation).
/// </summary>
internal sealed record OperationFlags(Option<bool> DryRun, Option<bool> NoWait, Option<bool> Force, Option<string?> Reason, Option<string?> Id)
{
    public static OperationFlags AddTo(Command command)
    {
        var flags = new OperationFlags(
            new Option<bool>("--dry-run") { Description = "Print the plan and its preflight; change nothing (exit 3 when the preflight is not safe)" },
            new Option<bool>("--no-wait") { Description = "Submit, print the operation id and return (follow it with `kvctl operation watch ID`)" },
            new Option<bool>("--force") { Description = "Override a preflight refusal (needs --reason; audited)" },
            new Option<string?>("--reason") { Description = "Why: recorded in the operation and the audit log (required with --force)" },
            new Option<string?>("--id") { Description = "The operation id (A-Z a-z 0-9 . _ -, at most 128); rerunning with the same id never starts a second operation" });
        command.Options.Add(flags.DryRun);
        command.Options.Add(flags.NoWait);
        command.Options.Add(flags.Force);
        command.Options.Add(flags.Reason);
        command.Options.Add(flags.Id);
        return flags;
    }

    public Values Read(ParseResult parse) =>
        new(parse.GetValue(DryRun), parse.GetValue(NoWait), parse.GetValue(Force), parse.GetValue(Reason), parse.GetValue(Id));

    /// <summary>One invocation's flags.</summary>
    internal sealed record Values(bool DryRun, bool NoWait, bool Force, string? Reason, string? Id)
    {
        /// <summary>Null when the flags can be used together, else what is wrong and what to do.</summary>
        public string? Problem()
        {
            if (Force && string.IsNullOrWhiteSpace(Reason))
            {
                return "--force needs --reason \"why\": overriding the preflight is audited; nothing was sent";
            }

            if (DryRun && NoWait)
            {
                return "--dry-run submits nothing, so --no-wait has nothing to skip; drop one of them";
            }

            if (Id is not null && !OperationId.TryParse(Id, out _, out var error))
            {
                return $"--id: {error}";
            }

            return null;
        }

        /// <summary>The request with these flags applied (call Problem() first).</summary>
        public OperationRequest Apply(OperationRequest request) => request with
        {
            Force = Force,
            Reason = string.IsNullOrWhiteSpace(Reason) ? null : Reason,
            Id = Id is null ? OperationId.New() : OperationId.Parse(Id),
        };
    }
}

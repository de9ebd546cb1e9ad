using System.CommandLine;
using Kv.Cli.Commands;

namespace Kv.Cli;

/// <summary>
/// Builds kvctl's command tree: nouns are command groups, verbs are leaves (STYLE.md).
/// Handlers take their output writers as arguments so tests call them directly.
/// </summary>
internal static class KvctlApp
{
    public static RootCommand Build(TextWriter stdout)
    {
        var root = new RootCommand("kvctl: operate a replicated, transactional range store");
        root.Subcommands.Add(VersionCommand.Build(stdout));
        root.Subcommands.Add(ClusterCommand.Build(stdout));
        root.Subcommands.Add(StoreCommand.Build(stdout));
        root.Subcommands.Add(RangeCommand.Build(stdout));
        root.Subcommands.Add(ReplicaCommand.Build(stdout));
        root.Subcommands.Add(OperationCommand.Build(stdout));
        root.Subcommands.Add(SchedulerCommand.Build(stdout));
        root.Subcommands.Add(GcCommand.Build(stdout));
        root.Subcommands.Add(AuditCommand.Build(stdout));
        root.Subcommands.Add(KvCommand.Build(stdout));
        root.Subcommands.Add(TxnCommand.Build(stdout, Console.In));
        root.Subcommands.Add(LocalCommand.Build(stdout));
        root.Subcommands.Add(CertCommand.Build(stdout));
        return root;
    }

    /// <summary>Parses and runs; returns the process exit code (ExitCodes).</summary>
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr)
    {
        var root = Build(stdout);
        var result = root.Parse(args);
        if (result.Errors.Count > 0)
        {
            foreach (var error in result.Errors)
            {
                stderr.WriteLine($"error: {error.Message}");
            }

            stderr.WriteLine("Run 'kvctl --help' for usage.");
            return ExitCodes.Usage;
        }

        return result.Invoke(new InvocationConfiguration { Output = stdout, Error = stderr });
    }
}

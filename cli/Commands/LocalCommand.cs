using System.CommandLine;
using Kv.Cli.Local;
using Kv.Cli.Output;

namespace Kv.Cli.Commands;

/// <summary>
/// <c>kvctl local up|down|status</c>: the embedded local cluster (cli/Local/LocalCluster.cs).
/// Errors and progress go to the invocation's error writer (KvctlApp.Run's stderr).
/// </summary>
internal static class LocalCommand
{
    public static Command Build(TextWriter stdout)
    {
        var local = new Command("local", "Run a cluster of kv-node processes on this machine (127.0.0.1)");
        local.Subcommands.Add(BuildUp(stdout));
        local.Subcommands.Add(BuildDown(stdout));
        local.Subcommands.Add(BuildStatus(stdout));
        return local;
    }

    private static Option<string?> DirOption() => new("--dir")
    {
        Description = $"The cluster's directory (cluster.json, nodeN/data, nodeN/kv-node.log); default ./{LocalCluster.DefaultDir}",
    };

    private static Option<double?> TimeoutOption(string what) => new("--timeout")
    {
        Description = what,
    };

    private static Command BuildUp(TextWriter stdout)
    {
        var nodes = new Option<int?>("--nodes")
        {
            Description = $"Number of nodes of a new cluster (1 to {LocalClusterRecord.MaxNodes}; default {LocalCluster.DefaultNodes}); an existing cluster keeps its own",
        };
        var dir = DirOption();
        var timeout = TimeoutOption("Seconds to wait until the cluster is ready (default 60)");
        var output = OutputWriter.CreateOption();
        var secure = new Option<bool>("--secure")
        {
            Description = "A new cluster serves mutual TLS only: a CA, a node and an admin certificate are made in DIR/certs, and the kvctl context carries the CA and the admin certificate",
        };
        var command = new Command("up", "Start the local cluster (create and bootstrap it the first time), wait until it is ready, print its endpoints, and point kvctl's context at it");
        command.Options.Add(nodes);
        command.Options.Add(dir);
        command.Options.Add(timeout);
        command.Options.Add(output);
        command.Options.Add(secure);
        command.SetAction((parse, ct) => LocalCluster.UpAsync(
            new LocalOptions { Secure = parse.GetValue(secure), Nodes = parse.GetValue(nodes), Dir = parse.GetValue(dir), Timeout = Seconds(parse.GetValue(timeout)), Output = parse.GetValue(output) },
            stdout, parse.InvocationConfiguration.Error, ct));
        return command;
    }

    private static Command BuildDown(TextWriter stdout)
    {
        var dir = DirOption();
        var timeout = TimeoutOption("Seconds to wait for each node to stop after SIGTERM before SIGKILL (default 30)");
        var command = new Command("down", "Stop the local cluster's nodes cleanly; their data stays for the next up");
        command.Options.Add(dir);
        command.Options.Add(timeout);
        command.SetAction((parse, ct) => LocalCluster.DownAsync(
            new LocalOptions { Dir = parse.GetValue(dir), Timeout = Seconds(parse.GetValue(timeout)) },
            stdout, parse.InvocationConfiguration.Error, ct));
        return command;
    }

    private static Command BuildStatus(TextWriter stdout)
    {
        var dir = DirOption();
        var output = OutputWriter.CreateOption();
        var command = new Command("status", "Show the local cluster's nodes: pid, alive, address, data directory, log; exit 5 unless all run");
        command.Options.Add(dir);
        command.Options.Add(output);
        command.SetAction(parse => LocalCluster.Status(new LocalOptions { Dir = parse.GetValue(dir), Output = parse.GetValue(output) }, stdout, parse.InvocationConfiguration.Error));
        return command;
    }

    private static TimeSpan? Seconds(double? seconds) => seconds is { } s ? TimeSpan.FromSeconds(s) : null;
}

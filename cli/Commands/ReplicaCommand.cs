using System.CommandLine;
using Kv.Cli.Output;
using Kv.Client.Cluster;
using Kv.Proto.V1;

namespace Kv.Cli.Commands;

/// <summary>
/// <c>kvctl replica add|remove --range ID --store ID</c> and <c>kvctl replica move --range ID
/// --from STORE --to STORE</c>: thin calls over KvClient's membership changes. Each prints the
/// range's descriptor after the change (-o table|json|yaml). They wait for the change to finish
/// (a new replica's snapshot and catch-up included), so their --timeout defaults to 300 s; a
/// call that ran out of time is continued by running the same command again.
/// </summary>
internal static class ReplicaCommand
{
    /// <summary>Default --timeout of the replica commands, in seconds.</summary>
    public const double DefaultTimeoutSeconds = 300;

    public static Command Build(TextWriter stdout)
    {
        var replica = new Command("replica", "Replicas of a range: add, remove, move between stores");

        var add = new Command("add", "Add a replica of a range on a store: a learner first, promoted to voter once it has caught up");
        var addRange = RangeOption();
        var addStore = new Option<ulong>("--store") { Description = "The store that gets the new replica (it must be Up and hold no replica of the range)", Required = true };
        add.Options.Add(addRange);
        add.Options.Add(addStore);
        var addOutput = OutputWriter.CreateOption();
        add.Options.Add(addOutput);
        var addConnection = Connection(add);
        add.SetAction((parse, ct) =>
        {
            var target = addConnection.Read(parse);
            return ClusterConnection.RunAsync(target, client => AddAsync(client, parse.GetValue(addRange), parse.GetValue(addStore), Timeout(target), stdout, parse.GetValue(addOutput), ct));
        });
        replica.Subcommands.Add(add);

        var remove = new Command("remove", "Remove a range's replica on a store (leadership moves off it first if it leads); refused for the last voter");
        var removeRange = RangeOption();
        var removeStore = new Option<ulong>("--store") { Description = "The store whose replica is removed", Required = true };
        remove.Options.Add(removeRange);
        remove.Options.Add(removeStore);
        var removeOutput = OutputWriter.CreateOption();
        remove.Options.Add(removeOutput);
        var removeConnection = Connection(remove);
        remove.SetAction((parse, ct) =>
        {
            var target = removeConnection.Read(parse);
            return ClusterConnection.RunAsync(target, client => RemoveAsync(client, parse.GetValue(removeRange), parse.GetValue(removeStore), Timeout(target), stdout, parse.GetValue(removeOutput), ct));
        });
        replica.Subcommands.Add(remove);

        var move = new Command("move", "Move a range's replica to another store: learner on the target, catch-up, joint swap, source removed");
        var moveRange = RangeOption();
        var from = new Option<ulong>("--from") { Description = "The store the replica leaves", Required = true };
        var to = new Option<ulong>("--to") { Description = "The store the replica moves to (it must be Up)", Required = true };
        move.Options.Add(moveRange);
        move.Options.Add(from);
        move.Options.Add(to);
        var moveOutput = OutputWriter.CreateOption();
        move.Options.Add(moveOutput);
        var moveConnection = Connection(move);
        move.SetAction((parse, ct) =>
        {
            var target = moveConnection.Read(parse);
            return ClusterConnection.RunAsync(target, client => MoveAsync(client, parse.GetValue(moveRange), parse.GetValue(from), parse.GetValue(to), Timeout(target), stdout, parse.GetValue(moveOutput), ct));
        });
        replica.Subcommands.Add(move);
        return replica;
    }

    public static async Task<int> AddAsync(KvClient client, ulong rangeId, ulong storeId, TimeSpan timeout, TextWriter stdout, OutputFormat format, CancellationToken ct)
    {
        Write(stdout, format, await client.AddReplicaAsync(rangeId, storeId, timeout, ct));
        return ExitCodes.Ok;
    }

    public static async Task<int> RemoveAsync(KvClient client, ulong rangeId, ulong storeId, TimeSpan timeout, TextWriter stdout, OutputFormat format, CancellationToken ct)
    {
        Write(stdout, format, await client.RemoveReplicaAsync(rangeId, storeId, timeout, ct));
        return ExitCodes.Ok;
    }

    public static async Task<int> MoveAsync(KvClient client, ulong rangeId, ulong fromStoreId, ulong toStoreId, TimeSpan timeout, TextWriter stdout, OutputFormat format, CancellationToken ct)
    {
        Write(stdout, format, await client.MoveReplicaAsync(rangeId, fromStoreId, toStoreId, timeout, ct));
        return ExitCodes.Ok;
    }

    /// <summary>The range after the change, in the same shape as <c>kvctl range show</c> (leader and size are not part of a descriptor).</summary>
    public static void Write(TextWriter stdout, OutputFormat format, RangeDescriptor range) =>
        RangeCommand.WriteShow(stdout, format, new RangeInfo { Range = range });

    private static Option<ulong> RangeOption() => new("--range") { Description = "The range id (see `kvctl range list`)", Required = true };

    private static ClusterConnection.Options Connection(Command command)
    {
        var options = ClusterConnection.AddTo(command);
        options.Timeout.DefaultValueFactory = _ => DefaultTimeoutSeconds;
        options.Timeout.Description = "Seconds the change may take, retries and the new replica's catch-up included";
        return options;
    }

    private static TimeSpan Timeout(ClusterConnection.Target target) => TimeSpan.FromSeconds(target.TimeoutSeconds);
}

using System.CommandLine;
using Kv.Cli.Output;
using Kv.Client;
using Kv.Client.Administration;

namespace Kv.Cli.Commands;

/// <summary>
/// <c>kvctl replica add|remove --range ID --store ID</c> and <c>kvctl replica move --range ID
/// --from STORE [--to STORE]</c>: each submits an operation (AddReplica, RemoveReplica,
/// MoveReplica) and waits for it with live progress (OperationRunner: --dry-run, --no-wait,
/// --force --reason, --id). A command interrupted or timed out is continued by running it again
/// with the same --id, or by `kvctl operation watch ID`.
/// </summary>
internal static class ReplicaCommand
{
    public static Command Build(TextWriter stdout)
    {
        var replica = new Command("replica", "Replicas of a range: add, remove, move between stores (each an operation)");

        var add = new Command("add", "Add a replica of a range on a store: a learner first, promoted to voter once it has caught up");
        var addRange = RangeOption();
        var addStore = new Option<ulong>("--store") { Description = "The store that gets the new replica (it must be Up and hold no replica of the range)", Required = true };
        add.Options.Add(addRange);
        add.Options.Add(addStore);
        Submit(add, stdout, parse => OperationRequest.AddReplica(new RangeId(parse.GetValue(addRange)), new StoreId(parse.GetValue(addStore))),
            parse => Ids(parse.GetValue(addRange), ("--store", parse.GetValue(addStore))));
        replica.Subcommands.Add(add);

        var remove = new Command("remove", "Remove a range's replica on a store (leadership moves off it first if it leads); refused for the last voter, and by the preflight unless --force --reason");
        var removeRange = RangeOption();
        var removeStore = new Option<ulong>("--store") { Description = "The store whose replica is removed", Required = true };
        remove.Options.Add(removeRange);
        remove.Options.Add(removeStore);
        Submit(remove, stdout, parse => OperationRequest.RemoveReplica(new RangeId(parse.GetValue(removeRange)), new StoreId(parse.GetValue(removeStore))),
            parse => Ids(parse.GetValue(removeRange), ("--store", parse.GetValue(removeStore))));
        replica.Subcommands.Add(remove);

        var move = new Command("move", "Move a range's replica to another store: learner on the target, catch-up, joint swap, source removed");
        var moveRange = RangeOption();
        var from = new Option<ulong>("--from") { Description = "The store the replica leaves", Required = true };
        var to = new Option<ulong?>("--to") { Description = "The store the replica moves to (it must be Up); default: the planner picks one, respecting failure domains" };
        move.Options.Add(moveRange);
        move.Options.Add(from);
        move.Options.Add(to);
        Submit(move, stdout,
            parse => OperationRequest.MoveReplica(new RangeId(parse.GetValue(moveRange)), new StoreId(parse.GetValue(from)), parse.GetValue(to) is { } t ? new StoreId(t) : null),
            parse => Ids(parse.GetValue(moveRange), ("--from", parse.GetValue(from)), ("--to", parse.GetValue(to) ?? 1))
                ?? (parse.GetValue(to) == parse.GetValue(from) ? $"--from and --to are both store {parse.GetValue(from)}; a move needs another store (or leave --to out to let the planner pick)" : null));
        replica.Subcommands.Add(move);
        return replica;
    }

    /// <summary>Adds the operation flags, -o and the connection options to command, and the action that checks and submits.</summary>
    internal static void Submit(Command command, TextWriter stdout, Func<ParseResult, OperationRequest> request, Func<ParseResult, string?> check)
    {
        var flags = OperationFlags.AddTo(command);
        var output = OutputWriter.CreateOption();
        command.Options.Add(output);
        var connection = ClusterConnection.AddTo(command);
        command.SetAction((parse, ct) =>
        {
            var target = connection.Read(parse);
            var values = flags.Read(parse);
            if ((check(parse) ?? values.Problem()) is { } problem)
            {
                return OperationCommand.Usage(target, problem);
            }

            return ClusterConnection.RunAdminAsync(target, admin => OperationRunner.RunAsync(admin, request(parse), values, stdout, target.Stderr, parse.GetValue(output), ct));
        });
    }

    /// <summary>Null when the range and stores are real ids (not 0), else which one is not.</summary>
    internal static string? Ids(ulong range, params (string Option, ulong Id)[] stores)
    {
        if (range == 0)
        {
            return "--range 0 names no range; range ids start at 1 (see `kvctl range list`)";
        }

        foreach (var (option, id) in stores)
        {
            if (id == 0)
            {
                return $"{option} 0 names no store; store ids start at 1 (see `kvctl store list`)";
            }
        }

        return null;
    }

    private static Option<ulong> RangeOption() => new("--range") { Description = "The range id (see `kvctl range list`)", Required = true };
}

using Kv.Proto.V1;
using Prometheus;

namespace Kv.Node.Server.Observability;

/// <summary>
/// Percolator command outcomes on this store's leaders (docs/OBSERVABILITY.md). Recorded by
/// TxnKvService where it answers, from the Percolator scheduler's results (Ranges must not name
/// this Server type); every series is resolved once here, so recording allocates nothing.
/// </summary>
public sealed class TxnMetrics
{
    /// <summary>The commands counted, in the order of <see cref="commands"/>' first index.</summary>
    public enum Command
    {
        Prewrite,
        Commit,
        Rollback,
        CheckTxnStatus,
        ResolveLock,
        HeartBeat,
    }

    private static readonly string[] CommandNames = ["prewrite", "commit", "rollback", "check_txn_status", "resolve_lock", "heartbeat"];

    // [command, 0 ok | 1 key_error | 2 range_error]
    private readonly Counter.Child[,] commands;
    private readonly Counter.Child writeConflicts;
    private readonly Counter.Child keyLocked;
    private readonly Counter.Child resolvedCommitted;
    private readonly Counter.Child resolvedRolledBack;

    public TxnMetrics(IMetricFactory factory)
    {
        ArgumentNullException.ThrowIfNull(factory);
        var family = factory.CreateCounter(
            "kv_txn_commands_total",
            "Transactional write commands answered by this store's range leaders. result: ok; key_error (the Percolator rule refused a key: conflict, lock, not found...); range_error (routing: not leader, epoch, range gone; the client retries elsewhere).",
            ["command", "result"]);
        commands = new Counter.Child[CommandNames.Length, 3];
        for (var c = 0; c < CommandNames.Length; c++)
        {
            commands[c, 0] = family.WithLabels(CommandNames[c], "ok");
            commands[c, 1] = family.WithLabels(CommandNames[c], "key_error");
            commands[c, 2] = family.WithLabels(CommandNames[c], "range_error");
        }

        var conflicts = factory.CreateCounter(
            "kv_txn_conflicts_total",
            "Keys a transactional command or read was refused on: write_conflict (a newer commit after start_ts, prewrite only), key_locked (another transaction's lock: prewrite, get and scan).",
            ["kind"]);
        writeConflicts = conflicts.WithLabels("write_conflict");
        keyLocked = conflicts.WithLabels("key_locked");
        var resolved = factory.CreateCounter(
            "kv_txn_resolved_locks_total",
            "Locks resolved by ResolveLock on this store's leaders: commit (the transaction committed) or rollback.",
            ["action"]);
        resolvedCommitted = resolved.WithLabels("commit");
        resolvedRolledBack = resolved.WithLabels("rollback");
    }

    /// <summary>A command answered with a routing error, or with at most one key error.</summary>
    public void Answered(Command command, RangeError? rangeError, KeyError? keyError = null)
    {
        commands[(int)command, rangeError is not null ? 2 : keyError is not null ? 1 : 0].Inc();
        CountConflict(keyError);
    }

    /// <summary>A prewrite answered with a routing error or its key errors (empty: it locked every key).</summary>
    public void Prewritten(RangeError? rangeError, List<KeyError>? keyErrors)
    {
        commands[(int)Command.Prewrite, rangeError is not null ? 2 : keyErrors is { Count: > 0 } ? 1 : 0].Inc();
        if (rangeError is null && keyErrors is not null)
        {
            foreach (var e in keyErrors)
            {
                CountConflict(e);
            }
        }
    }

    /// <summary>A read (get, scan) that met a lock.</summary>
    public void Read(KeyError? keyError) => CountConflict(keyError);

    /// <summary>ResolveLock resolved <paramref name="locks"/> locks of a transaction, committing it when commitTs is not 0.</summary>
    public void Resolved(ulong commitTs, uint locks)
    {
        if (locks > 0)
        {
            (commitTs != 0 ? resolvedCommitted : resolvedRolledBack).Inc(locks);
        }
    }

    private void CountConflict(KeyError? e)
    {
        if (e?.Conflict is not null)
        {
            writeConflicts.Inc();
        }
        else if (e?.Locked is not null)
        {
            keyLocked.Inc();
        }
    }
}

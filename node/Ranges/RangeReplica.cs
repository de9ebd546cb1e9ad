using Google.Protobuf;
using Kv.Node.Raft;
using Kv.Node.Storage;
using Kv.Proto.V1;

namespace Kv.Node.Ranges;

/// <summary>
/// A range's state machine on one store: the descriptor and the raw key-value commands. Apply
/// checks the command's epoch and key against the descriptor at apply time (the leader checked
/// at proposal time, but a split or membership change may have been applied in between), so a
/// stale command is refused identically on every replica and changes nothing.
/// </summary>
internal sealed class RangeReplica : IGroupStateMachine
{
    private RangeDescriptor descriptor;

    public RangeReplica(RangeDescriptor descriptor, ulong localReplicaId)
    {
        this.descriptor = descriptor;
        LocalReplicaId = localReplicaId;
    }

    /// <summary>
    /// The current descriptor. Replaced (never mutated: readers on other threads hold the old
    /// instance safely) only on the store's driver thread, by <see cref="ReplaceDescriptor"/>.
    /// </summary>
    public RangeDescriptor Descriptor => Volatile.Read(ref descriptor);

    /// <summary>
    /// Driver thread, while applying an entry: stages next as the persisted descriptor into the
    /// entry's batch and makes it current. Callers must pass a new instance, never a mutated one.
    /// </summary>
    public void ReplaceDescriptor(RangeDescriptor next, WriteBatch batch)
    {
        if (next.RangeId != RangeId)
        {
            throw new RaftInvariantException("descriptor-range-id", $"range {RangeId} was handed the descriptor of range {next.RangeId}");
        }

        batch.Put(ColumnFamily.Meta, Keys.RangeDescriptor(next.RangeId), next.ToByteArray());
        Volatile.Write(ref descriptor, next);
    }

    public ulong RangeId => Descriptor.RangeId;

    public ulong LocalReplicaId { get; }

    /// <summary>Maps a replica (Raft member) id to its store; 0 when the replica is not in the descriptor.</summary>
    public ulong StoreOf(ulong replicaId) => RangeBounds.Replica(Descriptor, replicaId)?.StoreId ?? 0;

    public (ulong ProposalId, object? Result) Apply(in Entry entry, WriteBatch batch)
    {
        RangeCommand command;
        try
        {
            command = RangeCommand.Parser.ParseFrom(entry.Data.Span);
        }
        catch (InvalidProtocolBufferException e)
        {
            // Only our own leaders append range commands, after encoding them; a payload that does
            // not decode means a bug or a newer version's command. Refuse it the same way everywhere.
            return (0, new RangeError { Message = $"range {RangeId}: entry {entry.Index} is not a range command ({e.Message}); it was skipped" });
        }

        return (command.ProposalId, Check(command) ?? Execute(command, batch));
    }

    /// <summary>Whether the command may apply to this range as it is now: null, or the error to return.</summary>
    public RangeError? Check(RangeCommand command)
    {
        var d = Descriptor;
        if (!RangeBounds.SameEpoch(command.Epoch, d.Epoch))
        {
            return EpochNotMatch(d);
        }

        var key = command.CommandCase switch
        {
            RangeCommand.CommandOneofCase.RawPut => command.RawPut.Key,
            RangeCommand.CommandOneofCase.RawDelete => command.RawDelete.Key,
            _ => null,
        };
        if (key is null)
        {
            return new RangeError { Message = $"range {RangeId}: unknown command {command.CommandCase}; nothing was applied" };
        }

        return RangeBounds.Contains(d, key.Span) ? null : KeyNotInRange(d, key);
    }

    private static RangeError? Execute(RangeCommand command, WriteBatch batch)
    {
        switch (command.CommandCase)
        {
            case RangeCommand.CommandOneofCase.RawPut:
                batch.Put(ColumnFamily.Default, Keys.Data(command.RawPut.Key.Span), command.RawPut.Value.Span);
                break;
            case RangeCommand.CommandOneofCase.RawDelete:
                batch.Delete(ColumnFamily.Default, Keys.Data(command.RawDelete.Key.Span));
                break;
            default:
                break;
        }

        return null;
    }

    /// <summary>
    /// A membership change took effect: the descriptor follows it in the same batch. The new
    /// replica list and roles come from the applied configuration (voters of either half of a
    /// joint config are voters; everyone else is a learner), each member keeps the store the
    /// descriptor had for it, and members the descriptor did not know get theirs from the
    /// change's <see cref="ReplicaChange"/> context. conf_ver goes up by one for every applied
    /// change, including a leave-joint without context, so every replica computes the same
    /// descriptor from the same log, whatever conf_ver the proposer expected.
    /// Returns false when the local replica is no longer a member (the store destroys it).
    /// </summary>
    public bool ApplyConfChange(in Entry entry, ConfChange change, ConfState applied, WriteBatch batch)
    {
        var d = Descriptor;
        ReplicaChange? context = null;
        if (!change.Context.IsEmpty)
        {
            try
            {
                context = ReplicaChange.Parser.ParseFrom(change.Context.Span);
            }
            catch (InvalidProtocolBufferException)
            {
                context = null; // only our leaders write contexts; without it, stores of new members stay unknown (0)
            }
        }

        ReplaceDescriptor(NextDescriptor(d, applied, context), batch);
        return applied.Contains(LocalReplicaId);
    }

    /// <summary>The descriptor after a membership change (pure: same inputs, same result on every replica).</summary>
    public static RangeDescriptor NextDescriptor(RangeDescriptor d, ConfState applied, ReplicaChange? context)
    {
        var next = new RangeDescriptor
        {
            RangeId = d.RangeId,
            StartKey = d.StartKey,
            EndKey = d.EndKey,
            Epoch = new RangeEpoch { ConfVer = (d.Epoch?.ConfVer ?? 0) + 1, Version = d.Epoch?.Version ?? 0 },
        };

        // Existing members first, in the descriptor's order; then new ones in ascending id order.
        var members = new List<ulong>();
        foreach (var r in d.Replicas)
        {
            if (applied.Contains(r.ReplicaId))
            {
                members.Add(r.ReplicaId);
            }
        }

        foreach (var id in applied.Voters.Concat(applied.VotersOutgoing).Concat(applied.Learners).Order())
        {
            if (!members.Contains(id))
            {
                members.Add(id);
            }
        }

        foreach (var id in members)
        {
            var isVoter = Array.IndexOf(applied.Voters, id) >= 0 || Array.IndexOf(applied.VotersOutgoing, id) >= 0;
            var storeId = RangeBounds.Replica(d, id)?.StoreId
                ?? context?.Replicas.FirstOrDefault(r => r.ReplicaId == id)?.StoreId
                ?? 0;
            next.Replicas.Add(new ReplicaDescriptor { ReplicaId = id, StoreId = storeId, Role = isVoter ? ReplicaRole.Voter : ReplicaRole.Learner });
        }

        return next;
    }

    /// <summary>
    /// Stages the deletion of this replica's descriptor and of the range's data on this store:
    /// exactly [start, end) of the current descriptor (the default column family is shared by all
    /// ranges of the store, keyed by user key).
    /// </summary>
    public void StageDestroy(WriteBatch batch)
    {
        var d = Descriptor;
        batch.Delete(ColumnFamily.Meta, Keys.RangeDescriptor(d.RangeId));
        batch.DeleteRange(ColumnFamily.Default, Keys.Data(d.StartKey.Span), d.EndKey.IsEmpty ? Keys.DataEnd : Keys.Data(d.EndKey.Span));
    }

    public static RangeError EpochNotMatch(RangeDescriptor current) => new()
    {
        Message = $"range {current.RangeId} is at epoch (version {current.Epoch?.Version}, conf_ver {current.Epoch?.ConfVer}); refresh the route and retry",
        EpochNotMatch = new EpochNotMatch { Current = { current } },
    };

    public static RangeError KeyNotInRange(RangeDescriptor d, ByteString key) => new()
    {
        Message = $"key {RangeBounds.Describe(key)} is not in range {d.RangeId} [{RangeBounds.Describe(d.StartKey)}, {RangeBounds.Describe(d.EndKey)}); refresh the route and retry",
        KeyNotInRange = new KeyNotInRange { Key = key, RangeId = d.RangeId, StartKey = d.StartKey, EndKey = d.EndKey },
    };
}

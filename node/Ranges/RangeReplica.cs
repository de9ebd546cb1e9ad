using Google.Protobuf;
using Kv.Node.Mvcc;
using Kv.Node.Raft;
using Kv.Node.Storage;
using Kv.Proto.V1;

namespace Kv.Node.Ranges;

/// <summary>
/// A range's state machine on one store: the descriptor, the raw key-value commands and the
/// transactional writes (<see cref="TxnWriteCommand"/>: engine writes computed by the leader, node/Mvcc). Apply
/// checks the command's epoch and key against the descriptor at apply time (the leader checked
/// at proposal time, but a split or membership change may have been applied in between), so a
/// stale command is refused identically on every replica and changes nothing.
///
/// A split (<see cref="SplitCommand"/>) is applied in the entry's batch, on every replica alike:
///  1. refuse (a RangeError, nothing changes) on a stale epoch, a split key not strictly inside the
///     range, replicas that are not one per store of the range, or a joint configuration;
///  2. shrink this range to [start, split_key) at version + 1 (<see cref="ReplaceDescriptor"/>);
///  3. unless the new range already exists on this store (a lagging replica that received it by
///     snapshot keeps what it has), stage its descriptor [split_key, end) at version + 1 and its
///     initial Raft state (<see cref="IGroupHost.StageCreateGroup"/>): one atomic write with 2;
///  4. after the write the store opens the new group and it is registered in <see cref="LocalRanges"/>.
/// The new group is only ever created here, by the left half's apply: a store that has not
/// applied the split yet still holds the whole span in this range, so it never creates the right
/// half empty from a peer's message (the split race).
/// </summary>
internal sealed class RangeReplica : IGroupStateMachine
{
    /// <summary>How many ranges split off this one are named in its EpochNotMatch errors.</summary>
    private const int MaxSplitOffHints = 4;

    private readonly IGroupHost? host;
    private readonly LocalRanges? ranges;
    private readonly List<ulong> splitOff = []; // driver thread writes; readers take a copy under the lock
    private RangeDescriptor descriptor;

    /// <param name="descriptor">The range as persisted.</param>
    /// <param name="localReplicaId">This store's replica (Raft member) id.</param>
    /// <param name="host">The store hosting the group: splits create groups through it (null: splits are refused).</param>
    /// <param name="ranges">The store's registry, where ranges split off this one are registered.</param>
    public RangeReplica(RangeDescriptor descriptor, ulong localReplicaId, IGroupHost? host = null, LocalRanges? ranges = null)
    {
        this.descriptor = descriptor;
        LocalReplicaId = localReplicaId;
        this.host = host;
        this.ranges = ranges;
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

        return (command.ProposalId, (object?)Check(command) ?? Execute(command, batch));
    }

    /// <summary>Whether the command may apply to this range as it is now: null, or the error to return.</summary>
    public RangeError? Check(RangeCommand command)
    {
        var d = Descriptor;
        if (!RangeBounds.SameEpoch(command.Epoch, d.Epoch))
        {
            return EpochNotMatchError();
        }

        if (command.CommandCase == RangeCommand.CommandOneofCase.Split)
        {
            return CheckSplit(d, command.Split);
        }

        if (command.CommandCase == RangeCommand.CommandOneofCase.TxnWrite)
        {
            return CheckTxnWrite(d, command.TxnWrite);
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

    private SplitResult? Execute(RangeCommand command, WriteBatch batch)
    {
        switch (command.CommandCase)
        {
            case RangeCommand.CommandOneofCase.Split:
                return ApplySplit(command.Split, batch);
            case RangeCommand.CommandOneofCase.RawPut:
                batch.Put(ColumnFamily.Default, Keys.Data(command.RawPut.Key.Span), command.RawPut.Value.Span);
                break;
            case RangeCommand.CommandOneofCase.RawDelete:
                batch.Delete(ColumnFamily.Default, Keys.Data(command.RawDelete.Key.Span));
                break;
            case RangeCommand.CommandOneofCase.TxnWrite:
                foreach (var w in command.TxnWrite.Writes)
                {
                    var cf = TxnColumnFamily(w.ColumnFamily)!.Value; // CheckTxnWrite accepted it
                    if (w.Delete)
                    {
                        batch.Delete(cf, w.Key.Span);
                    }
                    else
                    {
                        batch.Put(cf, w.Key.Span, w.Value.Span);
                    }
                }

                break;
            default:
                break;
        }

        return null;
    }

    /// <summary>
    /// Null when a transactional write may apply to the range as described by d: every user key
    /// lies in the range, every write names the default, lock or write CF and a non-empty
    /// transactional ('x') engine key. Otherwise the RangeError, and nothing is written.
    /// </summary>
    private RangeError? CheckTxnWrite(RangeDescriptor d, TxnWriteCommand txn)
    {
        foreach (var key in txn.UserKeys)
        {
            if (!RangeBounds.Contains(d, key.Span))
            {
                return KeyNotInRange(d, key);
            }
        }

        foreach (var w in txn.Writes)
        {
            if (TxnColumnFamily(w.ColumnFamily) is null)
            {
                return new RangeError { Message = $"range {RangeId}: a transactional write names column family '{w.ColumnFamily}'; only default, lock and write are accepted; nothing was applied" };
            }

            if (w.Key.IsEmpty || w.Key[0] != TxnKeys.Prefix)
            {
                return new RangeError { Message = $"range {RangeId}: a transactional write's engine key {RangeBounds.Describe(w.Key)} is not a transactional ('x') key; nothing was applied" };
            }
        }

        return null;
    }

    private static ColumnFamily? TxnColumnFamily(string name) => name switch
    {
        "default" => ColumnFamily.Default,
        "lock" => ColumnFamily.Lock,
        "write" => ColumnFamily.Write,
        _ => null,
    };

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
    /// ranges of the store, keyed by user key). An uninitialized replica (created for a range it
    /// has no snapshot of yet: no replicas, no span, conf_ver 0) owns no data: its descriptor's
    /// empty span would read as [-inf, +inf) and wipe every range of the store, so it deletes nothing.
    /// </summary>
    public void StageDestroy(WriteBatch batch, IReadOnlyList<UserKeySpan> keep)
    {
        var d = Descriptor;
        batch.Delete(ColumnFamily.Meta, Keys.RangeDescriptor(d.RangeId));
        if (DataSpan is not { } own)
        {
            return; // uninitialized: no data of its own (see above)
        }

        foreach (var piece in own.Minus(keep))
        {
            batch.DeleteRange(ColumnFamily.Default, Keys.Data(piece.Start.Span), piece.End.IsEmpty ? Keys.DataEnd : Keys.Data(piece.End.Span));
            var txnLower = TxnKeys.SpanLower(piece.Start.Span);
            var txnUpper = TxnKeys.SpanUpper(piece.End.Span);
            foreach (var cf in (ReadOnlySpan<ColumnFamily>)[ColumnFamily.Default, ColumnFamily.Lock, ColumnFamily.Write])
            {
                batch.DeleteRange(cf, txnLower, txnUpper);
            }
        }
    }

    /// <inheritdoc/>
    public UserKeySpan? DataSpan => Descriptor is { Replicas.Count: > 0 } d ? new UserKeySpan(d.StartKey.Memory, d.EndKey.Memory) : null;

    /// <summary>
    /// Null when split may apply to the range as described by d; otherwise why not. Deterministic
    /// at apply (the configuration comes from the log), and also the leader's check before proposing.
    /// </summary>
    public RangeError? CheckSplit(RangeDescriptor d, SplitCommand split)
    {
        var key = split.SplitKey;
        if (key.IsEmpty || key.Span.SequenceCompareTo(d.StartKey.Span) <= 0 || (!d.EndKey.IsEmpty && key.Span.SequenceCompareTo(d.EndKey.Span) >= 0))
        {
            return new RangeError
            {
                Message = $"split key {RangeBounds.Describe(key)} is not strictly inside range {d.RangeId} [{RangeBounds.Describe(d.StartKey)}, {RangeBounds.Describe(d.EndKey)}); " +
                    "pick a key above the range's start and below its end; nothing was changed",
                KeyNotInRange = new KeyNotInRange { Key = key, RangeId = d.RangeId, StartKey = d.StartKey, EndKey = d.EndKey },
            };
        }

        if (WhyNotOnePerStore(d, split) is { } bad)
        {
            return new RangeError { Message = $"range {d.RangeId}: the split's new replicas are not one per store of the range ({bad}); nothing was changed" };
        }

        if (host is null)
        {
            return new RangeError { Message = $"range {d.RangeId}: this replica is not hosted by a store that can create ranges; nothing was changed" };
        }

        if (host.ConfStateOf(d.RangeId) is { IsJoint: true })
        {
            return new RangeError { Message = $"range {d.RangeId} is in the middle of a membership change (joint configuration); split it once the change completes" };
        }

        return null;
    }

    private static string? WhyNotOnePerStore(RangeDescriptor d, SplitCommand split)
    {
        if (split.NewRangeId == 0 || split.NewRangeId == d.RangeId)
        {
            return $"new range id {split.NewRangeId} is not a fresh id";
        }

        if (split.NewReplicas.Count != d.Replicas.Count)
        {
            return $"{split.NewReplicas.Count} new replicas for {d.Replicas.Count} stores";
        }

        var ids = new HashSet<ulong>();
        foreach (var r in d.Replicas)
        {
            var matches = 0;
            foreach (var n in split.NewReplicas)
            {
                matches += n.StoreId == r.StoreId ? 1 : 0;
            }

            if (matches != 1)
            {
                return $"store {r.StoreId} has {matches} new replicas";
            }
        }

        foreach (var n in split.NewReplicas)
        {
            if (n.ReplicaId == 0 || !ids.Add(n.ReplicaId))
            {
                return $"replica id {n.ReplicaId} is 0 or repeated";
            }
        }

        return null;
    }

    /// <summary>Driver thread, after <see cref="CheckSplit"/> agreed: steps 2-4 of the class comment.</summary>
    private SplitResult ApplySplit(SplitCommand split, WriteBatch batch)
    {
        var d = Descriptor;
        var version = (d.Epoch?.Version ?? 0) + 1;
        var confVer = d.Epoch?.ConfVer ?? 0;
        var left = d.Clone();
        left.EndKey = split.SplitKey;
        left.Epoch = new RangeEpoch { ConfVer = confVer, Version = version };
        var right = new RangeDescriptor
        {
            RangeId = split.NewRangeId,
            StartKey = split.SplitKey,
            EndKey = d.EndKey,
            Epoch = new RangeEpoch { ConfVer = confVer, Version = version },
        };
        foreach (var r in d.Replicas)
        {
            var n = split.NewReplicas.First(x => x.StoreId == r.StoreId);
            right.Replicas.Add(new ReplicaDescriptor { ReplicaId = n.ReplicaId, StoreId = r.StoreId, Role = r.Role });
        }

        ReplaceDescriptor(left, batch);
        lock (splitOff)
        {
            splitOff.Insert(0, right.RangeId);
            if (splitOff.Count > MaxSplitOffHints)
            {
                splitOff.RemoveAt(splitOff.Count - 1);
            }
        }

        var g = host!;
        if (!g.HasGroup(right.RangeId) && right.Replicas.FirstOrDefault(r => r.StoreId == g.StoreId) is { } local)
        {
            batch.Put(ColumnFamily.Meta, Keys.RangeDescriptor(right.RangeId), right.ToByteArray());
            var replica = new RangeReplica(right, local.ReplicaId, host, ranges);
            var voters = right.Replicas.Where(r => r.Role == ReplicaRole.Voter).Select(r => r.ReplicaId).Order().ToArray();
            var learners = right.Replicas.Where(r => r.Role == ReplicaRole.Learner).Select(r => r.ReplicaId).Order().ToArray();
            g.StageCreateGroup(batch, new NewGroup(right.RangeId, local.ReplicaId, replica, replica.StoreOf, new ConfState(voters, learners, [], [], false),
                CampaignIfLeaderOf: d.RangeId,
                Opened: _ =>
                {
                    if (ranges is not null && !ranges.Contains(right.RangeId))
                    {
                        ranges.Add(replica);
                    }
                }));
        }

        return new SplitResult(left, right);
    }

    /// <summary>
    /// EpochNotMatch for a request routed with a stale epoch: the current descriptor and those of
    /// the ranges recently split off this one that this store holds, so a client can re-route
    /// every key of the span it had cached without asking placement.
    /// </summary>
    public RangeError EpochNotMatchError()
    {
        var current = Descriptor;
        var error = EpochNotMatch(current);
        if (ranges is null)
        {
            return error;
        }

        ulong[] ids;
        lock (splitOff)
        {
            ids = [.. splitOff];
        }

        foreach (var id in ids)
        {
            if (ranges.Get(id) is { } sibling)
            {
                error.EpochNotMatch.Current.Add(sibling.Descriptor);
            }
        }

        return error;
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

/// <summary>The result of an applied split: both halves as they are now.</summary>
internal sealed record SplitResult(RangeDescriptor Left, RangeDescriptor Right);

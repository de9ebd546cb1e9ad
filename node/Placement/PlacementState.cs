using System.Buffers.Binary;
using System.Collections.Immutable;
using System.Diagnostics;
using System.Globalization;
using Google.Protobuf;
using Kv.Client;
using Kv.Node.Placement.Gc;
using Kv.Node.Placement.Operations;
using Kv.Proto.V1;

namespace Kv.Node.Placement;

/// <summary>
/// The replicated state of the placement group (shared/DESIGN.md section 7): cluster identity
/// and bootstrap, the store registry, the range directory, the id sequence and the TSO window.
/// Deterministic: no I/O, clocks or threads; the same committed commands in the same order give
/// the same state and the same records on every member.
///
/// Contract with the group that hosts it:
///   1. <see cref="Apply"/> is called once per committed command, in log order, on one thread.
///   2. The caller stages <see cref="PlacementApplyResult.Mutations"/>, in order, into the Meta
///      column family in the same write batch as the entry's apply index (a null value deletes).
///   3. After a restart, <see cref="Load"/> over every record under the prefix rebuilds the state
///      the last persisted apply index left.
/// Readers on any thread take <see cref="Snapshot"/>: an immutable view, swapped atomically at
/// the end of each Apply that changed something (apply is rare; copying the directory is fine).
///
/// Records in the Meta column family. Keys: 'p' (0x70) + kind (1 byte) [+ id (8 bytes big-endian)].
///   kind 0x01            cluster: the applied BootstrapCommand (cluster id, first range, at_ms, id_floor)
///   kind 0x02            id sequence: the last id handed out (8 bytes big-endian); the next is one more
///   kind 0x03            TSO window end in Unix ms (8 bytes big-endian)
///   kind 0x10 + store id a StoreDescriptor
///   kind 0x20 + range id a RangeDescriptor (the directory entry)
///   kinds 0x04, 0x11, 0x30-0x32, 0x40: operations, store admin state, cluster settings and the
///                        audit log (Operations/OperationsRecords.cs; rules in Operations/OperationRules.cs)
/// Values start with a version byte (1); then the protobuf message or the integer. A record that
/// does not decode (unknown kind, wrong length, unknown version, bad protobuf, id in the key not
/// the id in the value) makes Load throw, naming the key.
/// </summary>
internal sealed class PlacementState
{
    /// <summary>The prefix of every placement record in the Meta column family.</summary>
    public const byte Prefix = (byte)'p';

    /// <summary>Largest AllocId count one command may ask for.</summary>
    public const uint MaxAllocIdCount = 10_000;

    internal const byte KindCluster = 0x01;
    internal const byte KindIdSequence = 0x02;
    internal const byte KindTsoWindow = 0x03;
    internal const byte KindStore = 0x10;
    internal const byte KindRange = 0x20;
    private const byte RecordVersion = 1;

    private readonly Lock _applyLock = new();

    // The current immutable view; replaced, never mutated.
    private volatile PlacementSnapshot _snapshot;

    private PlacementState(PlacementSnapshot snapshot) => _snapshot = snapshot;

    /// <summary>A new, empty (not bootstrapped) state; each call returns a new instance.</summary>
    internal static PlacementState Empty => new(PlacementSnapshot.Empty);

    /// <summary>The state as of the last applied command; safe to read from any thread.</summary>
    public PlacementSnapshot Snapshot => _snapshot;

    // Completed (and replaced) whenever the snapshot changes; waiters never poll.
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>
    /// A task that completes at the next change of <see cref="Snapshot"/> after the call (take the
    /// task first, then read the snapshot, so no change falls between the two).
    /// </summary>
    public Task NextChange() => Volatile.Read(ref _changed).Task;

    /// <summary>
    /// Applies one committed command. Refusals are results (nothing changes, no mutations);
    /// this method throws only when the command is null.
    /// </summary>
    internal PlacementApplyResult Apply(PlacementCommand command)
    {
        ArgumentNullException.ThrowIfNull(command);
        lock (_applyLock)
        {
            var before = _snapshot;
            var (result, after) = command.CommandCase switch
            {
                PlacementCommand.CommandOneofCase.Bootstrap => ApplyBootstrap(before, command.Bootstrap),
                PlacementCommand.CommandOneofCase.PutStore => ApplyPutStore(before, command.PutStore),
                PlacementCommand.CommandOneofCase.PutRange => ApplyPutRange(before, command.PutRange),
                PlacementCommand.CommandOneofCase.AllocId => ApplyAllocId(before, command.AllocId),
                PlacementCommand.CommandOneofCase.ExtendTsoWindow => ApplyExtendTsoWindow(before, command.ExtendTsoWindow),
                PlacementCommand.CommandOneofCase.SubmitOperation => OperationRules.Submit(before, command.SubmitOperation),
                PlacementCommand.CommandOneofCase.UpdateOperation => OperationRules.Update(before, command.UpdateOperation),
                PlacementCommand.CommandOneofCase.CancelOperation => OperationRules.Cancel(before, command.CancelOperation),
                PlacementCommand.CommandOneofCase.SetStoreAdminState => OperationRules.SetStoreAdminState(before, command.SetStoreAdminState),
                PlacementCommand.CommandOneofCase.SetStoreMaintenance => OperationRules.SetStoreMaintenance(before, command.SetStoreMaintenance),
                PlacementCommand.CommandOneofCase.SetClusterSettings => OperationRules.SetClusterSettings(before, command.SetClusterSettings),
                PlacementCommand.CommandOneofCase.PruneOperations => OperationRules.Prune(before, command.PruneOperations),
                PlacementCommand.CommandOneofCase.SetGcSafePoint => GcRules.SetSafePoint(before, command.SetGcSafePoint),
                PlacementCommand.CommandOneofCase.SetServiceSafePoint => GcRules.SetService(before, command.SetServiceSafePoint),
                PlacementCommand.CommandOneofCase.RemoveServiceSafePoint => GcRules.RemoveService(before, command.RemoveServiceSafePoint),
                _ => (PlacementApplyResult.Refused(PlacementErrorCode.PlacementErrorInvalidArgument,
                    "the placement command names no operation; this node may be older than the proposer: upgrade it"), before),
            };
            if (!ReferenceEquals(after, before))
            {
                after.AssertInvariants();
                _snapshot = after;
                Interlocked.Exchange(ref _changed, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
            }

            return result;
        }
    }

    /// <summary>Rebuilds the state from persisted records (what Apply's mutations left); throws <see cref="InvalidDataException"/> naming the key of a record that does not decode.</summary>
    internal static PlacementState Load(IEnumerable<KeyValuePair<byte[], byte[]>> records)
    {
        ArgumentNullException.ThrowIfNull(records);
        BootstrapCommand? cluster = null;
        ulong lastId = 0;
        long tsoEnd = 0;
        var stores = ImmutableSortedDictionary.CreateBuilder<ulong, StoreDescriptor>();
        var ranges = new List<RangeDescriptor>();
        var operations = new OperationsRecords.Loader();
        var gc = new GcRecords.Loader();
        foreach (var (key, value) in records)
        {
            try
            {
                if (key is null || key.Length < 2 || key[0] != Prefix)
                {
                    throw new InvalidDataException("the key is not a placement record (prefix 'p' and a kind byte)");
                }

                if (value is null || value.Length < 1 || value[0] != RecordVersion)
                {
                    throw new InvalidDataException($"the value has no version byte or an unknown version (expected {RecordVersion})");
                }

                var body = value.AsSpan(1);
                switch (key[1])
                {
                    case KindCluster when key.Length == 2:
                        cluster = BootstrapCommand.Parser.ParseFrom(body);
                        break;
                    case KindIdSequence when key.Length == 2:
                        lastId = ReadUInt64(body);
                        break;
                    case KindTsoWindow when key.Length == 2:
                        tsoEnd = (long)ReadUInt64(body);
                        break;
                    case KindStore when key.Length == 10:
                        var store = StoreDescriptor.Parser.ParseFrom(body);
                        CheckIdMatches(key, store.StoreId);
                        stores[store.StoreId] = store;
                        break;
                    case KindRange when key.Length == 10:
                        var range = RangeDescriptor.Parser.ParseFrom(body);
                        CheckIdMatches(key, range.RangeId);
                        ranges.Add(range);
                        break;
                    default:
                        if (!operations.TryLoad(key, body) && !gc.TryLoad(key, body))
                        {
                            throw new InvalidDataException("unknown record kind or key length");
                        }

                        break;
                }
            }
            catch (Exception ex) when (ex is InvalidDataException or InvalidProtocolBufferException)
            {
                throw new InvalidDataException(
                    $"placement record {Convert.ToHexString(key ?? [])} does not decode: {ex.Message}. " +
                    "The store's placement data is damaged; restore this member from a healthy one.", ex);
            }
        }

        ranges.Sort(CompareStart);
        OperationsState ops;
        try
        {
            ops = operations.Build();
        }
        catch (InvalidDataException ex)
        {
            throw new InvalidDataException($"placement records do not fit together: {ex.Message}. Restore this member from a healthy one.", ex);
        }

        var snapshot = new PlacementSnapshot(
            cluster,
            lastId,
            tsoEnd,
            stores.ToImmutable(),
            ranges.ToImmutableDictionary(r => r.RangeId),
            [.. ranges])
        {
            Ops = ops,
            Gc = gc.Build(),
        };
        snapshot.AssertInvariants();
        return new PlacementState(snapshot);
    }

    // ---- Validation shared with the RPC service (so a request is refused before it is proposed). ----

    /// <summary>Null when <paramref name="store"/> may be registered; otherwise what is wrong and what to do.</summary>
    internal static string? CheckStore(StoreDescriptor? store)
    {
        if (store is null)
        {
            return "the store descriptor is missing: send store_id, address, store_uuid and version";
        }

        if (store.StoreId == 0)
        {
            return "store_id is 0: a store id is allocated once (AllocId) and kept in the data directory";
        }

        if (!IsHostPort(store.Address))
        {
            return $"store {store.StoreId}: address '{store.Address}' is not host:port with a port 1-65535: set the address other nodes dial";
        }

        if (string.IsNullOrWhiteSpace(store.StoreUuid))
        {
            return $"store {store.StoreId}: store_uuid is empty: send the uuid created with the data directory";
        }

        if (Kv.Client.Cluster.StoreLabels.Check(store.Labels) is { } labels)
        {
            return $"store {store.StoreId}: {labels}: fix --labels at kv-node serve";
        }

        return null;
    }

    /// <summary>Null when <paramref name="range"/> is a well-formed descriptor; otherwise what is wrong.</summary>
    internal static string? CheckRange(RangeDescriptor? range)
    {
        if (range is null)
        {
            return "the range descriptor is missing";
        }

        if (range.RangeId == 0)
        {
            return "range_id is 0: real range ids start at 1";
        }

        if (range.Epoch is null)
        {
            return $"range {range.RangeId}: the epoch is missing: send conf_ver and version";
        }

        if (range.EndKey.Length > 0 && range.StartKey.Span.SequenceCompareTo(range.EndKey.Span) >= 0)
        {
            return $"range {range.RangeId}: start_key must sort before end_key (an empty end_key means the end of the key space)";
        }

        if (range.Replicas.Count == 0)
        {
            return $"range {range.RangeId}: it has no replicas";
        }

        var replicaIds = new HashSet<ulong>();
        var storeIds = new HashSet<ulong>();
        foreach (var replica in range.Replicas)
        {
            if (replica.ReplicaId == 0 || replica.StoreId == 0)
            {
                return $"range {range.RangeId}: a replica has replica_id or store_id 0";
            }

            if (!replicaIds.Add(replica.ReplicaId))
            {
                return $"range {range.RangeId}: replica id {replica.ReplicaId} appears twice";
            }

            if (!storeIds.Add(replica.StoreId))
            {
                return $"range {range.RangeId}: store {replica.StoreId} holds two replicas";
            }
        }

        return null;
    }

    /// <summary>Whether <paramref name="a"/> is newer than <paramref name="b"/>: higher version, then higher conf_ver.</summary>
    internal static bool EpochGreater(RangeEpoch a, RangeEpoch b) =>
        a.Version > b.Version || (a.Version == b.Version && a.ConfVer > b.ConfVer);

    internal static bool IsHostPort(string? address)
    {
        if (string.IsNullOrWhiteSpace(address))
        {
            return false;
        }

        int colon = address.LastIndexOf(':');
        if (colon <= 0 || colon == address.Length - 1)
        {
            return false;
        }

        var host = address.AsSpan(0, colon);
        if (host.Contains(':') && !(host[0] == '[' && host[^1] == ']'))
        {
            return false; // an IPv6 host must be bracketed
        }

        return int.TryParse(address.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out int port) && port is > 0 and <= 65535;
    }

    // ---- Commands ----

    private static (PlacementApplyResult, PlacementSnapshot) ApplyBootstrap(PlacementSnapshot s, BootstrapCommand c)
    {
        if (s.IsBootstrapped)
        {
            return (PlacementApplyResult.Refused(PlacementErrorCode.PlacementErrorAlreadyBootstrapped,
                $"the cluster is already bootstrapped as {s.ClusterId}; nothing to do (use that cluster id)", s.ClusterId), s);
        }

        string? error = string.IsNullOrWhiteSpace(c.ClusterId) ? "the cluster id is empty" : CheckRange(c.FirstRange);
        if (error is null && c.AtMs < 0)
        {
            error = $"at_ms {c.AtMs} is negative";
        }

        if (error is null)
        {
            ulong maxId = c.FirstRange.RangeId;
            foreach (var replica in c.FirstRange.Replicas)
            {
                maxId = Math.Max(maxId, Math.Max(replica.ReplicaId, replica.StoreId));
            }

            if (c.IdFloor < maxId)
            {
                error = $"id_floor {c.IdFloor} is below id {maxId} used by the first range; ids must never be handed out twice";
            }
        }

        if (error is not null)
        {
            return (PlacementApplyResult.Refused(PlacementErrorCode.PlacementErrorInvalidArgument, $"bootstrap refused: {error}"), s);
        }

        var cluster = c.Clone();
        var range = cluster.FirstRange;
        var after = s with
        {
            Cluster = cluster,
            LastId = c.IdFloor,
        };
        after = after.WithRange(range, []);
        var mutations = new List<KeyValuePair<byte[], byte[]?>>
        {
            new(Key(KindCluster), Encode(cluster)),
            new(Key(KindIdSequence), EncodeUInt64(c.IdFloor)),
            new(Key(KindRange, range.RangeId), Encode(range)),
        };
        return (PlacementApplyResult.Applied($"bootstrapped cluster {cluster.ClusterId} with range {range.RangeId}",
            mutations, firstRange: range, clusterId: cluster.ClusterId), after);
    }

    private static (PlacementApplyResult, PlacementSnapshot) ApplyPutStore(PlacementSnapshot s, PutStoreCommand c)
    {
        if (!s.IsBootstrapped)
        {
            return (NotBootstrapped(), s);
        }

        if (CheckStore(c.Store) is { } error)
        {
            return (PlacementApplyResult.Refused(PlacementErrorCode.PlacementErrorInvalidArgument, error), s);
        }

        var store = c.Store.Clone();
        if (s.Ops.AdminState(store.StoreId) == StoreAdminState.Removed)
        {
            return (PlacementApplyResult.Refused(PlacementErrorCode.PlacementErrorStoreRemoved, StoreRemovedMessage(store.StoreId)), s);
        }

        if (s.Stores.TryGetValue(store.StoreId, out var existing))
        {
            if (!string.Equals(existing.StoreUuid, store.StoreUuid, StringComparison.Ordinal))
            {
                return (PlacementApplyResult.Refused(PlacementErrorCode.PlacementErrorStoreIdConflict, StoreConflictMessage(existing, store)), s);
            }

            if (existing.Equals(store))
            {
                return (PlacementApplyResult.Applied($"store {store.StoreId} is already registered as sent", []), s);
            }
        }

        var after = s with { Stores = s.Stores.SetItem(store.StoreId, store) };
        return (PlacementApplyResult.Applied(
            existing is null ? $"registered store {store.StoreId} at {store.Address}" : $"updated store {store.StoreId}: now {store.Address}, version {store.Version}",
            [new(Key(KindStore, store.StoreId), Encode(store))]), after);
    }

    private static (PlacementApplyResult, PlacementSnapshot) ApplyPutRange(PlacementSnapshot s, PutRangeCommand c)
    {
        if (!s.IsBootstrapped)
        {
            return (NotBootstrapped(), s);
        }

        if (CheckRange(c.Range) is { } error)
        {
            return (PlacementApplyResult.Refused(PlacementErrorCode.PlacementErrorInvalidArgument, error), s);
        }

        if (c.Split is { } origin && OperationRules.CheckSplitOrigin(c.Range.RangeId, origin) is { } badOrigin)
        {
            return (PlacementApplyResult.Refused(PlacementErrorCode.PlacementErrorInvalidArgument, badOrigin), s);
        }

        var (result, after) = PutRangeOnly(s, c);
        return c.Split is null ? (result, after) : OperationRules.RecordSplit(result, after, c.Range.RangeId, c.Split);
    }

    /// <summary>The directory part of a PutRange (checked well-formed): the higher epoch wins; a stale one is a no-op.</summary>
    private static (PlacementApplyResult, PlacementSnapshot) PutRangeOnly(PlacementSnapshot s, PutRangeCommand c)
    {
        var range = c.Range.Clone();
        if (s.RangesById.TryGetValue(range.RangeId, out var existing) && !EpochGreater(range.Epoch, existing.Epoch))
        {
            return (PlacementApplyResult.Applied(StaleMessage(range, existing), []), s);
        }

        var overlaps = s.Overlapping(range.StartKey.Span, range.EndKey.Span, range.RangeId);
        if (PlacementSnapshot.StaleAgainst(range, overlaps) is { } stale)
        {
            return (PlacementApplyResult.Applied(stale, []), s);
        }

        var mutations = new List<KeyValuePair<byte[], byte[]?>>(overlaps.Count + 1);
        foreach (var other in overlaps)
        {
            mutations.Add(new(Key(KindRange, other.RangeId), null));
        }

        mutations.Add(new(Key(KindRange, range.RangeId), Encode(range)));
        var after = s.WithRange(range, overlaps);
        return (PlacementApplyResult.Applied(
            overlaps.Count == 0 ? $"put range {range.RangeId} at epoch {Show(range.Epoch)}" : $"put range {range.RangeId} at epoch {Show(range.Epoch)}, replacing {overlaps.Count} older overlapping range(s)",
            mutations), after);
    }

    private static (PlacementApplyResult, PlacementSnapshot) ApplyAllocId(PlacementSnapshot s, AllocIdCommand c)
    {
        if (!s.IsBootstrapped)
        {
            return (NotBootstrapped(), s);
        }

        if (c.Count is 0 or > MaxAllocIdCount)
        {
            return (PlacementApplyResult.Refused(PlacementErrorCode.PlacementErrorInvalidArgument,
                $"count {c.Count} is out of range: ask for 1 to {MaxAllocIdCount} ids"), s);
        }

        if (s.LastId > ulong.MaxValue - c.Count)
        {
            return (PlacementApplyResult.Refused(PlacementErrorCode.PlacementErrorUnavailable,
                $"the id sequence is exhausted (last id {s.LastId}); no ids can be allocated"), s);
        }

        ulong first = s.LastId + 1;
        ulong last = s.LastId + c.Count;
        return (PlacementApplyResult.Applied($"allocated ids {first} to {last}",
            [new(Key(KindIdSequence), EncodeUInt64(last))], firstId: first, clusterId: s.ClusterId), s with { LastId = last });
    }

    private static (PlacementApplyResult, PlacementSnapshot) ApplyExtendTsoWindow(PlacementSnapshot s, ExtendTsoWindowCommand c)
    {
        if (c.EndMs < 0 || c.EndMs > Timestamp.MaxPhysicalMs)
        {
            return (PlacementApplyResult.Refused(PlacementErrorCode.PlacementErrorInvalidArgument,
                $"TSO window end {c.EndMs} ms is outside 0..{Timestamp.MaxPhysicalMs}: check the leader's clock"), s);
        }

        if (c.EndMs <= s.TsoWindowEndMs)
        {
            return (PlacementApplyResult.Applied($"kept the TSO window end at {s.TsoWindowEndMs} ms (asked {c.EndMs} ms, not higher)", [],
                tsoWindowEndMs: s.TsoWindowEndMs), s);
        }

        return (PlacementApplyResult.Applied($"extended the TSO window to {c.EndMs} ms",
            [new(Key(KindTsoWindow), EncodeUInt64((ulong)c.EndMs))], tsoWindowEndMs: c.EndMs), s with { TsoWindowEndMs = c.EndMs });
    }

    internal static PlacementApplyResult NotBootstrapped() =>
        PlacementApplyResult.Refused(PlacementErrorCode.PlacementErrorNotBootstrapped,
            "the cluster has not been bootstrapped yet: run `kvctl cluster bootstrap` (or `kvctl local up`)");

    internal static string StoreConflictMessage(StoreDescriptor existing, StoreDescriptor claimant) =>
        $"store id {existing.StoreId} is held by another data directory (store_uuid {existing.StoreUuid}, address {existing.Address}); " +
        $"this one has store_uuid {claimant.StoreUuid} at {claimant.Address}. Two data directories claim one store id: " +
        "start this node on its own, empty data directory so it gets a new store id, or retire the old store first";

    internal static string StoreRemovedMessage(ulong storeId) =>
        $"store {storeId} was removed from the cluster and may not register or heartbeat again: " +
        "start this node on an empty data directory, so it joins as a new store with a new id";

    internal static string StaleMessage(RangeDescriptor range, RangeDescriptor existing) =>
        $"kept range {existing.RangeId} at epoch {Show(existing.Epoch)}: the reported epoch {Show(range.Epoch)} is not higher";

    internal static string Show(RangeEpoch epoch) => $"(version {epoch.Version}, conf_ver {epoch.ConfVer})";

    // ---- Encoding ----

    internal static byte[] Key(byte kind)
    {
        return [Prefix, kind];
    }

    internal static byte[] Key(byte kind, ulong id)
    {
        var key = new byte[10];
        key[0] = Prefix;
        key[1] = kind;
        BinaryPrimitives.WriteUInt64BigEndian(key.AsSpan(2), id);
        return key;
    }

    private static byte[] Encode(IMessage message)
    {
        var value = new byte[1 + message.CalculateSize()];
        value[0] = RecordVersion;
        message.WriteTo(value.AsSpan(1));
        return value;
    }

    private static byte[] EncodeUInt64(ulong v)
    {
        var value = new byte[9];
        value[0] = RecordVersion;
        BinaryPrimitives.WriteUInt64BigEndian(value.AsSpan(1), v);
        return value;
    }

    private static ulong ReadUInt64(ReadOnlySpan<byte> body) =>
        body.Length == 8 ? BinaryPrimitives.ReadUInt64BigEndian(body) : throw new InvalidDataException($"expected 8 bytes after the version, found {body.Length}");

    private static void CheckIdMatches(byte[] key, ulong id)
    {
        ulong keyId = BinaryPrimitives.ReadUInt64BigEndian(key.AsSpan(2));
        if (keyId != id)
        {
            throw new InvalidDataException($"the key names id {keyId} but the value holds id {id}");
        }
    }

    internal static int CompareStart(RangeDescriptor a, RangeDescriptor b) => a.StartKey.Span.SequenceCompareTo(b.StartKey.Span);
}

/// <summary>
/// An immutable view of <see cref="PlacementState"/>. The descriptors it holds are shared: never
/// mutate them (clone before changing or handing to code that may).
/// </summary>
internal sealed partial record PlacementSnapshot(
    BootstrapCommand? Cluster,
    ulong LastId,
    long TsoWindowEndMs,
    ImmutableSortedDictionary<ulong, StoreDescriptor> Stores,
    ImmutableDictionary<ulong, RangeDescriptor> RangesById,
    ImmutableArray<RangeDescriptor> RangesByStart)
{
    internal static readonly PlacementSnapshot Empty = new(
        null, 0, 0, ImmutableSortedDictionary<ulong, StoreDescriptor>.Empty, ImmutableDictionary<ulong, RangeDescriptor>.Empty, []);

    /// <summary>Operations, store admin state, cluster settings and the audit log (Operations/).</summary>
    public OperationsState Ops { get; init; } = OperationsState.Empty;

    /// <summary>The GC safe point and service safe points (Gc/).</summary>
    public GcState Gc { get; init; } = GcState.Empty;

    public bool IsBootstrapped => Cluster is not null;

    /// <summary>Empty before bootstrap.</summary>
    public string ClusterId => Cluster?.ClusterId ?? string.Empty;

    /// <summary>Unix ms of the bootstrap; 0 before.</summary>
    public long BootstrappedAtMs => Cluster?.AtMs ?? 0;

    /// <summary>The first range as bootstrap created it (never changes); null before bootstrap.</summary>
    public RangeDescriptor? FirstRange => Cluster?.FirstRange;

    /// <summary>
    /// The first range for <paramref name="storeId"/> to create its bootstrap replica from, or null
    /// when it has none to create: the cluster is not bootstrapped, the store has no replica in the
    /// first range, or the directory no longer has that replica (moved or removed since bootstrap,
    /// or the range is gone). A store creates its bootstrap replica whenever it has no Raft state for
    /// the range; one whose replica was moved off and destroyed has none, so naming the range to it
    /// would bring the replica back at every heartbeat (an empty zombie at conf_ver 1 that the stale
    /// replica collector destroys again). A replica added to the store later has a new replica id
    /// and is created by its leader's messages and a snapshot, never from this descriptor.
    /// </summary>
    public RangeDescriptor? InitialRangeFor(ulong storeId)
    {
        if (FirstRange is not { } first || first.Replicas.FirstOrDefault(r => r.StoreId == storeId) is not { } mine)
        {
            return null;
        }

        return RangesById.TryGetValue(first.RangeId, out var current) && current.Replicas.Any(r => r.ReplicaId == mine.ReplicaId && r.StoreId == storeId)
            ? first
            : null;
    }

    /// <summary>The directory entry containing <paramref name="key"/>; null when none does (a gap while a split is reported, or before bootstrap).</summary>
    public RangeDescriptor? FindRange(ReadOnlySpan<byte> key)
    {
        int i = LastStartingAtOrBefore(key);
        if (i < 0)
        {
            return null;
        }

        var range = RangesByStart[i];
        return Contains(range, key) ? range : null;
    }

    /// <summary>Entries intersecting [start, end) (empty end: to the end), ascending by start key, at most <paramref name="limit"/> (0: no limit).</summary>
    public List<RangeDescriptor> Scan(ReadOnlySpan<byte> start, ReadOnlySpan<byte> end, int limit)
    {
        var result = new List<RangeDescriptor>();
        int i = Math.Max(0, LastStartingAtOrBefore(start));
        for (; i < RangesByStart.Length && (limit == 0 || result.Count < limit); i++)
        {
            var range = RangesByStart[i];
            if (end.Length > 0 && range.StartKey.Span.SequenceCompareTo(end) >= 0)
            {
                break;
            }

            if (Overlaps(range, start, end))
            {
                result.Add(range);
            }
        }

        return result;
    }

    /// <summary>
    /// Null when a PutRange of <paramref name="range"/> (well-formed) would change the directory:
    /// its id is unknown or its epoch is higher, and every other entry it overlaps has a lower
    /// version (those it replaces). Otherwise why the report is stale.
    /// </summary>
    public string? WhyStale(RangeDescriptor range)
    {
        if (RangesById.TryGetValue(range.RangeId, out var existing) && !PlacementState.EpochGreater(range.Epoch, existing.Epoch))
        {
            return PlacementState.StaleMessage(range, existing);
        }

        return StaleAgainst(range, Overlapping(range.StartKey.Span, range.EndKey.Span, range.RangeId));
    }

    /// <summary>Why <paramref name="range"/> loses to one of <paramref name="overlaps"/> (a version at least as high); null when it replaces them all.</summary>
    internal static string? StaleAgainst(RangeDescriptor range, List<RangeDescriptor> overlaps)
    {
        foreach (var other in overlaps)
        {
            if (other.Epoch.Version >= range.Epoch.Version)
            {
                return $"kept the directory: range {other.RangeId} at version {other.Epoch.Version} overlaps range {range.RangeId} at version {range.Epoch.Version}, so the report is stale";
            }
        }

        return null;
    }

    /// <summary>Entries other than <paramref name="exceptId"/> that intersect [start, end).</summary>
    internal List<RangeDescriptor> Overlapping(ReadOnlySpan<byte> start, ReadOnlySpan<byte> end, ulong exceptId)
    {
        var result = Scan(start, end, 0);
        result.RemoveAll(r => r.RangeId == exceptId);
        return result;
    }

    /// <summary>A copy with <paramref name="range"/> put (replacing its own id's entry) and <paramref name="removed"/> taken out.</summary>
    internal PlacementSnapshot WithRange(RangeDescriptor range, List<RangeDescriptor> removed)
    {
        var byId = RangesById;
        var list = new List<RangeDescriptor>(RangesByStart.Length + 1);
        foreach (var r in RangesByStart)
        {
            if (r.RangeId != range.RangeId && !removed.Exists(x => x.RangeId == r.RangeId))
            {
                list.Add(r);
            }
        }

        foreach (var r in removed)
        {
            byId = byId.Remove(r.RangeId);
        }

        int at = list.BinarySearch(range, Comparer<RangeDescriptor>.Create(PlacementState.CompareStart));
        list.Insert(at < 0 ? ~at : at, range);
        return this with { RangesById = byId.SetItem(range.RangeId, range), RangesByStart = [.. list] };
    }

    [Conditional("DEBUG")]
    internal void AssertInvariants()
    {
        Ops.AssertInvariants();
        Gc.AssertInvariants();
        Debug.Assert(RangesById.Count == RangesByStart.Length, "every directory entry is indexed by id and by start key");
        for (int i = 0; i < RangesByStart.Length; i++)
        {
            var r = RangesByStart[i];
            Debug.Assert(RangesById.TryGetValue(r.RangeId, out var byId) && ReferenceEquals(byId, r), $"range {r.RangeId} is indexed by id");
            if (i > 0)
            {
                var prev = RangesByStart[i - 1];
                Debug.Assert(prev.EndKey.Length > 0 && prev.EndKey.Span.SequenceCompareTo(r.StartKey.Span) <= 0,
                    $"ranges {prev.RangeId} and {r.RangeId} do not overlap");
            }
        }
    }

    private int LastStartingAtOrBefore(ReadOnlySpan<byte> key)
    {
        int lo = 0, hi = RangesByStart.Length - 1, found = -1;
        while (lo <= hi)
        {
            int mid = lo + ((hi - lo) / 2);
            if (RangesByStart[mid].StartKey.Span.SequenceCompareTo(key) <= 0)
            {
                found = mid;
                lo = mid + 1;
            }
            else
            {
                hi = mid - 1;
            }
        }

        return found;
    }

    private static bool Contains(RangeDescriptor range, ReadOnlySpan<byte> key) =>
        range.StartKey.Span.SequenceCompareTo(key) <= 0 && (range.EndKey.Length == 0 || key.SequenceCompareTo(range.EndKey.Span) < 0);

    private static bool Overlaps(RangeDescriptor range, ReadOnlySpan<byte> start, ReadOnlySpan<byte> end) =>
        (end.Length == 0 || range.StartKey.Span.SequenceCompareTo(end) < 0) &&
        (range.EndKey.Length == 0 || start.SequenceCompareTo(range.EndKey.Span) < 0);
}

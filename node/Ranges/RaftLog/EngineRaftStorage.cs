using Kv.Node.Raft;
using Kv.Node.Storage;

namespace Kv.Node.Ranges.RaftLog;

/// <summary>
/// One Raft group's stable storage in the Engine's raft column family (key layout and record
/// encoding in <see cref="RaftLogCodec"/>): entries, hard state, truncated state and the latest
/// snapshot. Semantics mirror <see cref="MemoryRaftStorage"/> exactly; the conformance tests
/// run both side by side.
///
/// Write protocol (the host, per Ready, per RaftNode's contract):
///  1. Stage: StageReady (or StageSnapshot, StageEntries, StageHardState; and StageCreateSnapshot,
///     StageCompact) into a caller-owned WriteBatch of this engine. The caller adds its apply
///     state and range state to the same batch. Stages made before step 2 accumulate: later
///     ones see the earlier ones (an append after a staged snapshot, a compaction of staged entries).
///  2. Write the batch once (sync when Ready.MustSync).
///  3. Call OnPersisted() right after the write returns, before reading this storage again. If the
///     write failed or the batch is dropped, call DiscardStaged() instead.
/// Reads (the IRaftStorage side) reflect exactly what OnPersisted confirmed (contract point 1):
/// cached bounds and states change only in OnPersisted, and entries are read from the engine.
/// One batch may be staged at a time per group; several groups may stage into the same batch.
///
/// Recovery: the constructor reads hard state, truncated state, snapshot and the first and last
/// entry keys. Missing or undecodable records where the invariants require one throw
/// <see cref="RaftLogCorruptException"/>. Not thread-safe: one owner (the group's driver).
/// </summary>
internal sealed class EngineRaftStorage : IRaftStorage
{
    private readonly Engine engine;
    private readonly byte[] hardStateKey;
    private readonly byte[] truncatedKey;
    private readonly byte[] snapshotKey;
    private readonly byte[] appliedConfKey;
    private readonly byte[] entriesStart; // entry key of index 0: lower bound of the group's entries
    private readonly byte[] entriesEnd; // entry key of index ulong.MaxValue: exclusive upper bound

    // What OnPersisted confirmed: what reads answer.
    private State stable;

    // What has been staged into `stagedBatch` and not yet confirmed; null when nothing is staged.
    private State? staged;
    private WriteBatch? stagedBatch;

    // Entries staged since the last OnPersisted, contiguous from overlayStart to staged.Last;
    // staging needs their terms before they are in the engine.
    private readonly List<Entry> overlay = [];
    private ulong overlayStart;

    public EngineRaftStorage(Engine engine, ulong groupId)
    {
        ArgumentNullException.ThrowIfNull(engine);
        this.engine = engine;
        GroupId = groupId;
        hardStateKey = RaftLogCodec.StateKey(groupId, RaftLogCodec.KindHardState);
        truncatedKey = RaftLogCodec.StateKey(groupId, RaftLogCodec.KindTruncatedState);
        snapshotKey = RaftLogCodec.StateKey(groupId, RaftLogCodec.KindSnapshot);
        appliedConfKey = RaftLogCodec.StateKey(groupId, RaftLogCodec.KindAppliedConfState);
        entriesStart = RaftLogCodec.EntryKey(groupId, 0);
        entriesEnd = RaftLogCodec.EntryKey(groupId, ulong.MaxValue);
        stable = Recover();
    }

    public ulong GroupId { get; }

    public HardState HardState => stable.HardState;

    /// <summary>Whether a batch has been staged and not yet confirmed or discarded.</summary>
    public bool HasStaged => staged is not null;

    // ---- IRaftStorage: reads of what was persisted -------------------------------------

    /// <summary>
    /// The hard state and the configuration as of the applied index: the one recorded with the
    /// last applied conf change (<see cref="StageAppliedConfState"/>), unless a later snapshot
    /// replaced it. Without this, a restarted member would fall back to the snapshot's
    /// configuration and forget applied membership changes (the core does not re-apply entries at
    /// or below the applied index).
    /// </summary>
    public (HardState HardState, ConfState ConfState) InitialState() =>
        (stable.HardState, stable.AppliedConf is { } c && c.Index > stable.Snapshot.Index ? c.Metadata.ConfState : stable.Snapshot.Metadata.ConfState);

    /// <summary>Stages recording the configuration in force after applying the conf change at index; the caller stages it with that index's apply.</summary>
    public void StageAppliedConfState(WriteBatch batch, ulong index, ConfState confState)
    {
        ArgumentNullException.ThrowIfNull(confState);
        var s = Begin(batch);
        var record = new Snapshot(new SnapshotMetadata(index, 0, confState), ReadOnlyMemory<byte>.Empty);
        batch.Put(ColumnFamily.Raft, appliedConfKey, RaftLogCodec.EncodeSnapshot(record));
        staged = s with { AppliedConf = record };
    }

    public ulong FirstIndex() => stable.TruncatedIndex + 1;

    public ulong LastIndex() => stable.Last;

    public Snapshot Snapshot() => stable.Snapshot;

    public StorageStatus Term(ulong index, out ulong term)
    {
        term = 0;
        if (index < stable.TruncatedIndex)
        {
            return StorageStatus.Compacted;
        }

        if (index > stable.Last)
        {
            return StorageStatus.Unavailable;
        }

        term = index == stable.TruncatedIndex ? stable.TruncatedTerm : ReadTerm(index);
        return StorageStatus.Ok;
    }

    public StorageStatus Entries(ulong lo, ulong hi, ulong maxSize, List<Entry> output)
    {
        ArgumentNullException.ThrowIfNull(output);
        if (lo <= stable.TruncatedIndex)
        {
            return StorageStatus.Compacted;
        }

        if (hi > stable.Last + 1)
        {
            throw new RaftInvariantException("storage-entries-in-range", $"group {GroupId}: entries hi {hi} beyond last index {stable.Last}");
        }

        if (stable.Last == stable.TruncatedIndex)
        {
            return StorageStatus.Unavailable;
        }

        if (lo >= hi)
        {
            return StorageStatus.Ok;
        }

        using var it = engine.NewIterator(ColumnFamily.Raft, RaftLogCodec.EntryKey(GroupId, lo), RaftLogCodec.EntryKey(GroupId, hi));
        ulong size = 0;
        var expected = lo;
        for (var valid = it.SeekToFirst(); valid; valid = it.Next())
        {
            var index = RaftLogCodec.IndexOfEntryKey(it.Key);
            if (index != expected)
            {
                throw new RaftLogCorruptException(GroupId, $"entry {expected}", $"missing (next stored entry is {index})");
            }

            var e = RaftLogCodec.DecodeEntry(GroupId, index, it.Value);
            size += e.Size;
            if (index > lo && size > maxSize)
            {
                return StorageStatus.Ok;
            }

            output.Add(e);
            expected++;
        }

        if (expected != hi)
        {
            throw new RaftLogCorruptException(GroupId, $"entry {expected}", "missing");
        }

        return StorageStatus.Ok;
    }

    // ---- write side: stage into a batch, then confirm -----------------------------------

    /// <summary>Stages a Ready's snapshot, entries and hard state, in the contract's order.</summary>
    public void StageReady(WriteBatch batch, Ready ready)
    {
        ArgumentNullException.ThrowIfNull(ready);
        if (ready.Snapshot is { } snap)
        {
            StageSnapshot(batch, snap);
        }

        StageEntries(batch, ready.Entries);
        if (ready.HardState is { } hs)
        {
            StageHardState(batch, hs);
        }
    }

    public void StageHardState(WriteBatch batch, HardState hs)
    {
        var s = Begin(batch);
        batch.Put(ColumnFamily.Raft, hardStateKey, RaftLogCodec.EncodeHardState(hs));
        staged = s with { HardState = hs };
    }

    /// <summary>Stages installing a snapshot received from the leader: it replaces the whole log. False if not newer than the one held.</summary>
    public bool StageSnapshot(WriteBatch batch, Snapshot snap)
    {
        ArgumentNullException.ThrowIfNull(snap);
        var s = Begin(batch);
        if (snap.Index <= s.Snapshot.Index)
        {
            return false;
        }

        batch.Put(ColumnFamily.Raft, snapshotKey, RaftLogCodec.EncodeSnapshot(snap));
        batch.Put(ColumnFamily.Raft, truncatedKey, RaftLogCodec.EncodeTruncatedState(snap.Index, snap.Term));
        batch.DeleteRange(ColumnFamily.Raft, entriesStart, entriesEnd);
        overlay.Clear();
        overlayStart = snap.Index + 1;
        staged = s with { Snapshot = snap, TruncatedIndex = snap.Index, TruncatedTerm = snap.Term, Last = snap.Index };
        return true;
    }

    /// <summary>Stages appending entries (contiguous), replacing the log from the first new index on.</summary>
    public void StageEntries(WriteBatch batch, IReadOnlyList<Entry> entries)
    {
        ArgumentNullException.ThrowIfNull(entries);
        var s = Begin(batch);
        if (entries.Count == 0)
        {
            return;
        }

        var first = s.TruncatedIndex + 1;
        var newLast = entries[^1].Index;
        if (newLast < first)
        {
            return; // all already compacted
        }

        var skip = first > entries[0].Index ? (int)(first - entries[0].Index) : 0;
        var start = entries[skip].Index;
        if (start > s.Last + 1)
        {
            throw new RaftInvariantException("storage-append-contiguous", $"group {GroupId}: missing log entry [last: {s.Last}, append at: {start}]");
        }

        Span<byte> key = stackalloc byte[RaftLogCodec.EntryKeyLength];
        for (var i = skip; i < entries.Count; i++)
        {
            var e = entries[i];
            if (e.Index != start + (ulong)(i - skip))
            {
                throw new RaftInvariantException("storage-append-contiguous", $"group {GroupId}: entry {e.Index} where {start + (ulong)(i - skip)} was expected");
            }

            RaftLogCodec.EntryKey(GroupId, e.Index, key);
            batch.Put(ColumnFamily.Raft, key, RaftLogCodec.EncodeEntry(e));
        }

        if (s.Last > newLast)
        {
            // The old suffix beyond the new last index is stale: a conflicting leader's entries.
            batch.DeleteRange(ColumnFamily.Raft, RaftLogCodec.EntryKey(GroupId, newLast + 1), RaftLogCodec.EntryKey(GroupId, s.Last + 1));
        }

        if (overlay.Count > 0 && start >= overlayStart)
        {
            overlay.RemoveRange((int)(start - overlayStart), overlay.Count - (int)(start - overlayStart));
        }
        else
        {
            overlay.Clear();
            overlayStart = start;
        }

        for (var i = skip; i < entries.Count; i++)
        {
            overlay.Add(entries[i]);
        }

        staged = s with { Last = newLast };
    }

    /// <summary>Stages recording a snapshot of the application state at index (which must be in the log); false if not newer.</summary>
    public bool StageCreateSnapshot(WriteBatch batch, ulong index, ConfState confState, ReadOnlyMemory<byte> data)
    {
        ArgumentNullException.ThrowIfNull(confState);
        var s = Begin(batch);
        if (index <= s.Snapshot.Index)
        {
            return false;
        }

        if (index > s.Last)
        {
            throw new RaftInvariantException("snapshot-within-log", $"group {GroupId}: snapshot index {index} beyond last index {s.Last}");
        }

        var snap = new Snapshot(new SnapshotMetadata(index, StagedTerm(s, index), confState), data);
        batch.Put(ColumnFamily.Raft, snapshotKey, RaftLogCodec.EncodeSnapshot(snap));
        staged = s with { Snapshot = snap };
        return true;
    }

    /// <summary>Stages discarding entries up to and including compactIndex; false if already compacted there.</summary>
    public bool StageCompact(WriteBatch batch, ulong compactIndex)
    {
        var s = Begin(batch);
        if (compactIndex <= s.TruncatedIndex)
        {
            return false;
        }

        if (compactIndex > s.Last)
        {
            throw new RaftInvariantException("compact-within-log", $"group {GroupId}: compact index {compactIndex} beyond last index {s.Last}");
        }

        var term = StagedTerm(s, compactIndex);
        batch.Put(ColumnFamily.Raft, truncatedKey, RaftLogCodec.EncodeTruncatedState(compactIndex, term));
        batch.DeleteRange(ColumnFamily.Raft, entriesStart, RaftLogCodec.EntryKey(GroupId, compactIndex + 1));
        if (overlay.Count > 0 && compactIndex >= overlayStart)
        {
            overlay.RemoveRange(0, (int)Math.Min((ulong)overlay.Count, compactIndex + 1 - overlayStart));
            overlayStart = compactIndex + 1;
        }

        staged = s with { TruncatedIndex = compactIndex, TruncatedTerm = term };
        return true;
    }

    /// <summary>The staged batch was written: reads now reflect it.</summary>
    public void OnPersisted()
    {
        if (staged is { } s)
        {
            stable = s;
        }

        ClearStaged();
    }

    /// <summary>The staged batch will not be written (the write failed, or the host gave up on it): forget it.</summary>
    public void DiscardStaged() => ClearStaged();

    private void ClearStaged()
    {
        staged = null;
        stagedBatch = null;
        overlay.Clear();
        overlayStart = 0;
    }

    private State Begin(WriteBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        if (!ReferenceEquals(batch.Engine, engine))
        {
            throw new ArgumentException($"group {GroupId}: the write batch belongs to another engine", nameof(batch));
        }

        if (stagedBatch is null)
        {
            stagedBatch = batch;
            staged = stable;
        }
        else if (!ReferenceEquals(stagedBatch, batch))
        {
            throw new InvalidOperationException($"group {GroupId}: a different batch is already staged; call OnPersisted or DiscardStaged first");
        }

        return staged!.Value;
    }

    // Term of index in the staged view: index in [TruncatedIndex, Last] of s.
    private ulong StagedTerm(State s, ulong index)
    {
        if (index == s.TruncatedIndex)
        {
            return s.TruncatedTerm;
        }

        if (overlay.Count > 0 && index >= overlayStart)
        {
            return overlay[(int)(index - overlayStart)].Term;
        }

        return ReadTerm(index);
    }

    private ulong ReadTerm(ulong index)
    {
        Span<byte> key = stackalloc byte[RaftLogCodec.EntryKeyLength];
        RaftLogCodec.EntryKey(GroupId, index, key);
        var value = engine.Get(ColumnFamily.Raft, key) ?? throw new RaftLogCorruptException(GroupId, $"entry {index}", "missing");
        return RaftLogCodec.DecodeEntryTerm(GroupId, index, value);
    }

    private State Recover()
    {
        var hs = engine.Get(ColumnFamily.Raft, hardStateKey) is { } h ? RaftLogCodec.DecodeHardState(GroupId, h) : default;
        var snap = engine.Get(ColumnFamily.Raft, snapshotKey) is { } sn ? RaftLogCodec.DecodeSnapshot(GroupId, sn) : global::Kv.Node.Raft.Snapshot.Empty;
        var (truncIndex, truncTerm) = engine.Get(ColumnFamily.Raft, truncatedKey) is { } t ? RaftLogCodec.DecodeTruncatedState(GroupId, t) : (0UL, 0UL);
        var last = truncIndex;
        using (var it = engine.NewIterator(ColumnFamily.Raft, entriesStart, entriesEnd))
        {
            if (it.SeekToFirst())
            {
                var first = RaftLogCodec.IndexOfEntryKey(it.Key);
                if (first != truncIndex + 1)
                {
                    throw new RaftLogCorruptException(GroupId, $"entry {first}", $"first stored entry should be {truncIndex + 1} (truncated at {truncIndex})");
                }

                it.SeekToLast();
                last = RaftLogCodec.IndexOfEntryKey(it.Key);
                RaftLogCodec.DecodeEntryTerm(GroupId, last, it.Value);
            }
        }

        var appliedConf = engine.Get(ColumnFamily.Raft, appliedConfKey) is { } ac ? RaftLogCodec.DecodeSnapshot(GroupId, ac) : null;
        return new State(hs, snap, truncIndex, truncTerm, last, appliedConf);
    }

    /// <summary>The log's bounds and states; TruncatedIndex is FirstIndex()-1, Last is LastIndex().</summary>
    /// <summary>AppliedConf: the configuration recorded with the last applied conf change (its Index is that entry's), or null.</summary>
    private readonly record struct State(HardState HardState, Snapshot Snapshot, ulong TruncatedIndex, ulong TruncatedTerm, ulong Last, Snapshot? AppliedConf = null);
}

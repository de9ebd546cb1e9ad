using FsCheck;
using FsCheck.Fluent;
using Kv.Client;
using Kv.Node.Mvcc;

namespace Kv.Node.Tests.Mvcc;

/// <summary>
/// The MVCC GC rule (node/Mvcc/GcRule.cs): reads at any timestamp at or above the safe point return
/// the same before and after GC, checked with the product's own read (TxnActions.Get) over
/// generated version histories, and GC leaves no garbage behind. A broken rule that also drops the
/// newest visible version must be caught by the same property (negative control).
/// </summary>
public class GcRuleTests
{
    private static readonly byte[] Key = "k"u8.ToArray();

    /// <summary>One key's history: write records by commit_ts and the default-CF values by start_ts.</summary>
    internal sealed class History(SortedDictionary<ulong, WriteRecord> writes, Dictionary<ulong, byte[]> values) : IMvccReader
    {
        public SortedDictionary<ulong, WriteRecord> Writes { get; } = writes;

        public Dictionary<ulong, byte[]> Values { get; } = values;

        public List<(Timestamp CommitTs, WriteRecord Record)> NewestFirst() =>
            [.. Writes.Reverse().Select(w => (new Timestamp(w.Key), w.Value))];

        public History Without(KeyGarbage garbage)
        {
            var writes = new SortedDictionary<ulong, WriteRecord>(Writes);
            var values = new Dictionary<ulong, byte[]>(Values);
            foreach (var ts in garbage.WriteCommitTs)
            {
                Assert.True(writes.Remove(ts.Value), $"GC drops a write record that exists (commit_ts {ts.Value})");
            }

            foreach (var ts in garbage.ValueStartTs)
            {
                Assert.True(values.Remove(ts.Value), $"GC drops a value that exists (start_ts {ts.Value})");
            }

            return new History(writes, values);
        }

        public MvccLock? LoadLock(ReadOnlySpan<byte> key) => null;

        public (Timestamp CommitTs, WriteRecord Record)? SeekWrite(ReadOnlySpan<byte> key, Timestamp ts)
        {
            foreach (var (commit, record) in Writes.Reverse())
            {
                if (commit <= ts.Value)
                {
                    return (new Timestamp(commit), record);
                }
            }

            return null;
        }

        public (Timestamp CommitTs, WriteRecord Record)? FindWriteOf(ReadOnlySpan<byte> key, Timestamp startTs) => throw new NotSupportedException();

        public byte[]? LoadValue(ReadOnlySpan<byte> key, Timestamp startTs) => Values.GetValueOrDefault(startTs.Value);

        public IEnumerable<(byte[] Key, MvccLock Lock)> ScanLocks(byte[] start, byte[] end) => throw new NotSupportedException();

        public IEnumerable<byte[]> ScanUserKeys(byte[] start, byte[] end, bool reverse) => throw new NotSupportedException();

        public override string ToString() =>
            string.Join(", ", Writes.Select(w => $"{w.Key}:{w.Value.Type}@{w.Value.StartTs.Value}{(w.Value.ShortValue is null ? "" : "(short)")}"));
    }

    /// <summary>A history and a safe point. Commit ts are 4c (c distinct), start ts 4c-3..4c, so start ts are distinct too.</summary>
    internal sealed record Case(History History, Timestamp SafePoint)
    {
        public override string ToString() => $"safe point {SafePoint.Value}: {History}";
    }

    private static readonly Gen<(int Slot, WriteType Type, int Back, bool Short)> VersionGen =
        from slot in Gen.Choose(1, 12)
        from type in Gen.Elements(WriteType.Put, WriteType.Put, WriteType.Delete, WriteType.Rollback, WriteType.Lock)
        from back in Gen.Choose(0, 3)
        from isShort in Gen.Elements(true, false)
        select (slot, type, back, isShort);

    private static readonly Gen<Case> CaseGen =
        from versions in Gen.ListOf(VersionGen)
        from safePoint in Gen.Choose(0, 52)
        select Build(versions, (ulong)safePoint);

    private static Case Build(IEnumerable<(int Slot, WriteType Type, int Back, bool Short)> versions, ulong safePoint)
    {
        var writes = new SortedDictionary<ulong, WriteRecord>();
        var values = new Dictionary<ulong, byte[]>();
        foreach (var (slot, type, back, isShort) in versions)
        {
            ulong commit = (ulong)slot * 4;
            ulong start = type == WriteType.Rollback ? commit : commit - (ulong)back;
            if (writes.ContainsKey(commit))
            {
                continue;
            }

            byte[] value = [(byte)slot, (byte)back];
            bool inline = type == WriteType.Put && isShort;
            writes[commit] = new WriteRecord(type, new Timestamp(start), type == WriteType.Rollback, inline ? value : null);
            if (type == WriteType.Put && !inline)
            {
                values[start] = value;
            }
        }

        return new Case(new History(writes, values), new Timestamp(safePoint));
    }

    /// <summary>Null when every read at or above the safe point is unchanged and no garbage is left; otherwise what differs.</summary>
    private static string? Check(Case c, Func<IReadOnlyList<(Timestamp, WriteRecord)>, Timestamp, KeyGarbage> rule)
    {
        var after = c.History.Without(rule(c.History.NewestFirst(), c.SafePoint));
        for (ulong ts = c.SafePoint.Value; ts <= 60; ts++)
        {
            var before = TxnActions.Get(c.History, Key, new Timestamp(ts)).Value;
            var now = TxnActions.Get(after, Key, new Timestamp(ts)).Value;
            if (!(before ?? []).AsSpan().SequenceEqual(now ?? []) || (before is null) != (now is null))
            {
                return $"read at {ts} returned {Show(before)} before GC and {Show(now)} after";
            }
        }

        // No garbage left: at or below the safe point, at most one record, and it is a Put.
        var old = after.Writes.Where(w => w.Key <= c.SafePoint.Value).ToList();
        if (old.Count > 1 || (old.Count == 1 && old[0].Value.Type != WriteType.Put))
        {
            return $"garbage left at or below the safe point: {after}";
        }

        // No orphaned value: every value left belongs to a Put left.
        var kept = after.Writes.Values.Where(r => r.Type == WriteType.Put).Select(r => r.StartTs.Value).ToHashSet();
        return after.Values.Keys.FirstOrDefault(k => !kept.Contains(k)) is var orphan and not 0 ? $"value of start_ts {orphan} left without its Put" : null;
    }

    private static string Show(byte[]? v) => v is null ? "nothing" : Convert.ToHexString(v);

    private static void Holds(Func<IReadOnlyList<(Timestamp, WriteRecord)>, Timestamp, KeyGarbage> rule) =>
        Prop.ForAll(Arb.From(CaseGen), c => Check(c, rule) is not { } failure ? true : throw new InvalidOperationException($"{failure} ({c})"))
            .QuickCheckThrowOnFailure();

    [Fact]
    public void Reads_at_or_above_the_safe_point_are_the_same_before_and_after_GC() => Holds(GcRule.Collect);

    [Fact]
    public void Negative_control_a_rule_that_drops_the_newest_visible_version_is_caught()
    {
        // Broken: also drops the Put that reads at the safe point return.
        static KeyGarbage Broken(IReadOnlyList<(Timestamp CommitTs, WriteRecord Record)> versions, Timestamp safePoint)
        {
            var right = GcRule.Collect(versions, safePoint);
            var visible = versions.FirstOrDefault(v => v.CommitTs <= safePoint && v.Record.Type is WriteType.Put or WriteType.Delete);
            if (visible.Record is not { Type: WriteType.Put } put)
            {
                return right;
            }

            return new KeyGarbage([.. right.WriteCommitTs, visible.CommitTs], put.ShortValue is null ? [.. right.ValueStartTs, put.StartTs] : right.ValueStartTs);
        }

        Assert.ThrowsAny<Exception>(() => Holds(Broken));
    }

    [Fact]
    public void Negative_control_a_rule_that_keeps_everything_leaves_garbage_and_is_caught() =>
        Assert.ThrowsAny<Exception>(() => Holds((_, _) => KeyGarbage.None));

    [Fact]
    public void The_newest_put_at_or_below_the_safe_point_stays_and_a_delete_there_goes()
    {
        var put = Build([(2, WriteType.Put, 1, false), (5, WriteType.Put, 0, false), (7, WriteType.Rollback, 0, false), (9, WriteType.Put, 2, true)], 30);
        var garbage = GcRule.Collect(put.History.NewestFirst(), put.SafePoint);
        Assert.Equal([28UL, 8UL], garbage.WriteCommitTs.Select(t => t.Value));
        Assert.Equal([7UL], garbage.ValueStartTs.Select(t => t.Value));

        var deleted = Build([(2, WriteType.Put, 1, false), (5, WriteType.Delete, 0, false), (9, WriteType.Put, 0, false)], 24);
        garbage = GcRule.Collect(deleted.History.NewestFirst(), deleted.SafePoint);
        Assert.Equal([20UL, 8UL], garbage.WriteCommitTs.Select(t => t.Value));
        Assert.Equal([7UL], garbage.ValueStartTs.Select(t => t.Value));
    }
}

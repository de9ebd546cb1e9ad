using Kv.Node.Raft;
using Kv.Node.Ranges.RaftLog;
using Kv.Node.Storage;
using Kv.Node.Tests.TestSupport;

namespace Kv.Node.Tests.Ranges.RaftLog;

/// <summary>
/// MemoryRaftStorage (the reference) and EngineRaftStorage on a real Engine, driven with the same
/// operations; AssertSame compares every read the core can make. Each engine operation is staged
/// into its own batch, written, and confirmed.
/// </summary>
internal sealed class RaftStoragePair : IDisposable
{
    private readonly TempDirectory dir = new();

    public RaftStoragePair(ulong groupId = 7)
    {
        GroupId = groupId;
        Engine = Engine.Open(dir.Path);
        Persistent = new EngineRaftStorage(Engine, groupId);
    }

    public ulong GroupId { get; }

    public MemoryRaftStorage Reference { get; } = new();

    public Engine Engine { get; private set; }

    public EngineRaftStorage Persistent { get; private set; }

    public static Entry E(ulong index, ulong term, string data = "") =>
        new(term, index, EntryType.Normal, System.Text.Encoding.UTF8.GetBytes(data.Length > 0 ? data : $"e{index}t{term}"));

    public static Entry[] Range(ulong from, ulong to, ulong term) =>
        Enumerable.Range((int)from, (int)(to - from + 1)).Select(i => E((ulong)i, term)).ToArray();

    public void Append(params Entry[] entries)
    {
        Reference.Append(entries);
        Persist(b => Persistent.StageEntries(b, entries));
    }

    public void SetHardState(HardState hs)
    {
        Reference.SetHardState(hs);
        Persist(b => Persistent.StageHardState(b, hs));
    }

    public void ApplySnapshot(Snapshot snap)
    {
        var expected = Reference.ApplySnapshot(snap);
        var actual = false;
        Persist(b => actual = Persistent.StageSnapshot(b, snap));
        Assert.Equal(expected, actual);
    }

    public void CreateSnapshot(ulong index, ConfState cs, string data)
    {
        var bytes = System.Text.Encoding.UTF8.GetBytes(data);
        var expected = Reference.CreateSnapshot(index, cs, bytes);
        var actual = false;
        Persist(b => actual = Persistent.StageCreateSnapshot(b, index, cs, bytes));
        Assert.Equal(expected, actual);
    }

    public void Compact(ulong index)
    {
        var expected = Reference.Compact(index);
        var actual = false;
        Persist(b => actual = Persistent.StageCompact(b, index));
        Assert.Equal(expected, actual);
    }

    public void Persist(Action<WriteBatch> stage)
    {
        using var batch = Engine.NewWriteBatch();
        stage(batch);
        Engine.Write(batch, sync: false);
        Persistent.OnPersisted();
    }

    /// <summary>Closes the engine and opens it again: the persistent side must come back as it was.</summary>
    public void Reopen()
    {
        Engine.Dispose();
        Engine = Engine.Open(dir.Path);
        Persistent = new EngineRaftStorage(Engine, GroupId);
    }

    public void AssertSame() => AssertSame(Reference, Persistent);

    public static void AssertSame(IRaftStorage expected, IRaftStorage actual)
    {
        Assert.Equal(expected.FirstIndex(), actual.FirstIndex());
        Assert.Equal(expected.LastIndex(), actual.LastIndex());
        var (ehs, ecs) = expected.InitialState();
        var (ahs, acs) = actual.InitialState();
        Assert.Equal(ehs, ahs);
        Assert.True(ecs.SameAs(acs), $"conf state {ecs} != {acs}");
        var es = expected.Snapshot();
        var asn = actual.Snapshot();
        Assert.Equal((es.Index, es.Term), (asn.Index, asn.Term));
        Assert.True(es.Metadata.ConfState.SameAs(asn.Metadata.ConfState));
        Assert.Equal(es.Data.ToArray(), asn.Data.ToArray());

        var first = expected.FirstIndex();
        var last = expected.LastIndex();
        for (var i = first > 2 ? first - 2 : 0; i <= last + 2; i++)
        {
            var es1 = expected.Term(i, out var et);
            var as1 = actual.Term(i, out var at);
            Assert.Equal(es1, as1);
            Assert.Equal(et, at);
        }

        var lowest = first > 1 ? first - 1 : 0;
        foreach (var maxSize in new ulong[] { 0, 40, 100, ulong.MaxValue })
        {
            for (var lo = lowest; lo <= last + 1; lo++)
            {
                for (var hi = lo; hi <= last + 1; hi++)
                {
                    var eo = new List<Entry>();
                    var ao = new List<Entry>();
                    Assert.Equal(expected.Entries(lo, hi, maxSize, eo), actual.Entries(lo, hi, maxSize, ao));
                    Assert.Equal(Describe(eo), Describe(ao));
                }
            }
        }
    }

    private static List<string> Describe(List<Entry> entries) =>
        entries.Select(e => $"{e.Index}/{e.Term}/{e.Type}/{Convert.ToHexString(e.Data.Span)}").ToList();

    public void Dispose()
    {
        Engine.Dispose();
        dir.Dispose();
    }
}

using System.Text;
using Kv.Node.Ranges;

namespace Kv.Node.Tests.Ranges;

/// <summary>
/// UserUserKeySpan.Minus decides what a destroyed replica may delete: its span minus every other live
/// replica's on the store. A replica created from the bootstrap descriptor (the whole key space)
/// that is later destroyed must leave the store's real ranges alone.
/// </summary>
public sealed class UserKeySpanTests
{
    private static UserKeySpan S(string start, string end) => new(Encoding.UTF8.GetBytes(start), Encoding.UTF8.GetBytes(end));

    private static string[] Show(IReadOnlyList<UserKeySpan> spans) =>
        [.. spans.Select(s => $"[{Encoding.UTF8.GetString(s.Start.Span)},{(s.End.IsEmpty ? "inf" : Encoding.UTF8.GetString(s.End.Span))})")];

    [Fact]
    public void The_whole_key_space_minus_the_live_ranges_is_only_the_gaps()
    {
        var whole = S("", "");
        Assert.Equal(["[,b)", "[d,m)", "[z,inf)"], Show(whole.Minus([S("b", "d"), S("m", "z")])));
        Assert.Empty(whole.Minus([S("", "k"), S("k", "")]));
    }

    [Fact]
    public void Spans_that_do_not_overlap_leave_it_whole_and_overlapping_ones_cut_it()
    {
        Assert.Equal(["[c,f)"], Show(S("c", "f").Minus([S("a", "c"), S("f", "")])));
        Assert.Equal(["[c,d)"], Show(S("c", "f").Minus([S("d", "")])));
        Assert.Equal(["[e,f)"], Show(S("c", "f").Minus([S("a", "e")])));
        Assert.Equal(["[c,d)", "[e,f)"], Show(S("c", "f").Minus([S("d", "e")])));
        Assert.Empty(S("c", "f").Minus([S("b", "g")]));
        Assert.Equal(["[c,inf)"], Show(S("c", "").Minus([S("a", "c")])));
        Assert.Equal(["[c,d)"], Show(S("c", "").Minus([S("d", "")])));
        Assert.Equal(["[c,f)"], Show(S("c", "f").Minus([])));
    }
}

/// <summary>
/// A replica whose descriptor spans the whole key space (one created from the bootstrap
/// descriptor on a store that already held ranges) is destroyed: the data of the store's other
/// replicas stays, the rest of its span goes. The control destroys with nothing kept, which
/// deletes the other range's key too: the keep list is what protects it.
/// </summary>
public sealed class DestroyKeepsOtherReplicasTests : IDisposable
{
    private readonly Kv.Node.Tests.TestSupport.TempDirectory dir = new();

    public void Dispose() => dir.Dispose();

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_destroyed_whole_span_replica_deletes_only_outside_the_live_ranges(bool brokenKeepsNothing)
    {
        using var engine = Kv.Node.Storage.Engine.Open(dir.Sub("db"));
        foreach (var k in new[] { "a1", "m1", "q1" })
        {
            engine.Put(Kv.Node.Storage.ColumnFamily.Default, Keys.Data(Encoding.UTF8.GetBytes(k)), "v"u8);
        }

        var wholeSpan = new RangeReplica(new Kv.Proto.V1.RangeDescriptor
        {
            RangeId = 1,
            Epoch = new Kv.Proto.V1.RangeEpoch { ConfVer = 1, Version = 1 },
            Replicas = { new Kv.Proto.V1.ReplicaDescriptor { ReplicaId = 1, StoreId = 1 } },
        }, 1);
        var live = new UserKeySpan(Encoding.UTF8.GetBytes("m"), Encoding.UTF8.GetBytes("p"));
        using (var batch = engine.NewWriteBatch())
        {
            wholeSpan.StageDestroy(batch, brokenKeepsNothing ? [] : [live]);
            engine.Write(batch, sync: false);
        }

        Assert.Null(engine.Get(Kv.Node.Storage.ColumnFamily.Default, Keys.Data("a1"u8)));
        Assert.Null(engine.Get(Kv.Node.Storage.ColumnFamily.Default, Keys.Data("q1"u8)));
        var kept = engine.Get(Kv.Node.Storage.ColumnFamily.Default, Keys.Data("m1"u8));
        if (brokenKeepsNothing)
        {
            Assert.Null(kept);
        }
        else
        {
            Assert.NotNull(kept);
        }
    }
}

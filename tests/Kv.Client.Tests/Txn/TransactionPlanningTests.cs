using Google.Protobuf;
using Kv.Client.Cluster;
using Kv.Proto.V1;

namespace Kv.Client.Tests.Txn;

/// <summary>The parts of a transaction's commit that need no server: lock TTL, expiry, grouping keys by range.</summary>
public sealed class TransactionPlanningTests
{
    [Theory]
    [InlineData(0L, 3_000)]
    [InlineData(1024L * 1024 - 1, 3_000)]
    [InlineData(1024L * 1024, 3_050)]
    [InlineData(10L * 1024 * 1024, 3_500)]
    [InlineData(2340L * 1024 * 1024, 120_000)]
    [InlineData(long.MaxValue / 2, 120_000)]
    public void Ttl_is_3s_plus_50ms_per_MiB_capped_at_120s(long bytes, double expectedMs) =>
        Assert.Equal(expectedMs, Transaction.TtlFor(bytes).TotalMilliseconds);

    [Fact]
    public void Ttl_refuses_a_negative_size() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => Transaction.TtlFor(-1));

    [Fact]
    public void A_lock_expires_only_once_its_ttl_has_passed_in_physical_time()
    {
        var lockTs = Timestamp.Compose(1_700_000_000_000, 5);
        Assert.False(LockResolver.IsExpired(lockTs, 3_000, Timestamp.Compose(1_700_000_003_000, Timestamp.MaxLogical)));
        Assert.True(LockResolver.IsExpired(lockTs, 3_000, Timestamp.Compose(1_700_000_003_001, 0)));
        Assert.False(LockResolver.IsExpired(lockTs, 3_000, Timestamp.Compose(1_699_999_000_000, 0)));
    }

    [Fact]
    public async Task Sorted_keys_are_grouped_into_runs_of_the_range_holding_each_runs_first_key()
    {
        var cache = new RouteCache();
        cache.Insert(Range(1, "", "f"));
        cache.Insert(Range(2, "f", "m"));
        cache.Insert(Range(3, "m", ""));
        var keys = new[] { "a", "b", "f", "g", "lzz", "m", "zz" }.Select(ByteString.CopyFromUtf8).ToList();
        var located = new List<string>();
        var groups = await Transaction.GroupByRangeAsync(keys, k =>
        {
            located.Add(k.ToStringUtf8());
            return Task.FromResult(cache.Find(k.Span)!);
        });
        Assert.Equal([1ul, 2ul, 3ul], groups.Select(g => g.Range.RangeId));
        Assert.Equal(["a", "b"], groups[0].Keys.Select(k => k.ToStringUtf8()));
        Assert.Equal(["f", "g", "lzz"], groups[1].Keys.Select(k => k.ToStringUtf8()));
        Assert.Equal(["m", "zz"], groups[2].Keys.Select(k => k.ToStringUtf8()));

        // One lookup per range, not per key.
        Assert.Equal(["a", "f", "m"], located);
    }

    [Fact]
    public async Task A_locate_answer_that_does_not_hold_the_key_is_a_bug_not_a_silent_skip()
    {
        var wrong = new RouteCache().Insert(Range(9, "x", "y"));
        var e = await Assert.ThrowsAsync<KvException>(() => Transaction.GroupByRangeAsync([ByteString.CopyFromUtf8("a")], _ => Task.FromResult(wrong)));
        Assert.Equal(KvErrorKind.Internal, e.Kind);
    }

    [Fact]
    public void Keys_for_messages_are_text_when_printable_else_hex()
    {
        Assert.Equal("user/1", LockResolver.Display(ByteString.CopyFromUtf8("user/1")));
        Assert.Equal("0x00ff", LockResolver.Display(ByteString.CopyFrom(0x00, 0xff)));
    }

    [Fact]
    public void New_error_kinds_are_appended_without_renumbering()
    {
        Assert.Equal(6, (int)KvErrorKind.Refused);
        Assert.Equal(7, (int)KvErrorKind.WriteConflict);
        Assert.Equal(8, (int)KvErrorKind.KeyIsLocked);
        Assert.Equal(9, (int)KvErrorKind.CommitOutcomeUnknown);
        Assert.Equal(10, (int)KvErrorKind.TxnAborted);
    }

    private static RangeDescriptor Range(ulong id, string start, string end) => new()
    {
        RangeId = id,
        StartKey = ByteString.CopyFromUtf8(start),
        EndKey = ByteString.CopyFromUtf8(end),
        Epoch = new RangeEpoch { ConfVer = 1, Version = 1 },
        Replicas = { new ReplicaDescriptor { ReplicaId = id, StoreId = 1 } },
    };
}

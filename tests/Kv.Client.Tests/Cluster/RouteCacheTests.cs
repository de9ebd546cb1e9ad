using System.Text;
using Google.Protobuf;
using Kv.Client.Cluster;
using Kv.Proto.V1;

namespace Kv.Client.Tests.Cluster;

public class RouteCacheTests
{
    internal static RangeDescriptor Range(ulong id, string start, string end, ulong version = 1, ulong confVer = 1, params ulong[] stores)
    {
        var d = new RangeDescriptor
        {
            RangeId = id,
            StartKey = ByteString.CopyFromUtf8(start),
            EndKey = ByteString.CopyFromUtf8(end),
            Epoch = new RangeEpoch { Version = version, ConfVer = confVer },
        };
        foreach (var s in stores.Length == 0 ? [1UL, 2UL, 3UL] : stores)
        {
            d.Replicas.Add(new ReplicaDescriptor { ReplicaId = (id * 10) + s, StoreId = s });
        }

        return d;
    }

    private static byte[] K(string s) => Encoding.UTF8.GetBytes(s);

    [Fact]
    public void Find_uses_start_inclusive_end_exclusive_bounds_and_reports_gaps_as_misses()
    {
        var cache = new RouteCache();
        cache.Insert(Range(1, "", "c"));
        cache.Insert(Range(3, "m", ""));

        Assert.Equal(1UL, cache.Find(K("a"))!.RangeId);
        Assert.Equal(1UL, cache.Find([0])!.RangeId);
        Assert.Null(cache.Find(K("c")));       // [c, m) is not cached
        Assert.Null(cache.Find(K("l")));
        Assert.Equal(3UL, cache.Find(K("m"))!.RangeId);
        Assert.Equal(3UL, cache.Find(K("zzzz"))!.RangeId);
    }

    [Fact]
    public void FindBefore_finds_the_range_holding_the_keys_just_below_an_exclusive_end()
    {
        var cache = new RouteCache();
        cache.Insert(Range(1, "", "c"));
        cache.Insert(Range(2, "c", "m"));

        Assert.Equal(1UL, cache.FindBefore(K("c"))!.RangeId); // keys below "c" live in range 1
        Assert.Equal(2UL, cache.FindBefore(K("d"))!.RangeId);
        Assert.Equal(2UL, cache.FindBefore(K("m"))!.RangeId);
        Assert.Null(cache.FindBefore(K("n")));   // keys in [m, n) are not cached
        Assert.Null(cache.FindBefore([]));        // the last range is not cached

        cache.Insert(Range(3, "m", ""));
        Assert.Equal(3UL, cache.FindBefore([])!.RangeId);
    }

    [Fact]
    public void A_newer_split_replaces_the_range_it_came_from()
    {
        var cache = new RouteCache();
        cache.Insert(Range(1, "", ""), leaderStoreId: 2, leaderAddress: "n2:1");
        cache.ReplaceWith([Range(1, "", "m", version: 2), Range(7, "m", "", version: 2)]);

        var left = cache.Find(K("a"))!;
        Assert.Equal(1UL, left.RangeId);
        Assert.Equal(2UL, left.Descriptor.Epoch.Version);
        Assert.Equal(2UL, left.LeaderStoreId); // same range, leader still among its replicas: kept
        Assert.Equal(7UL, cache.Find(K("x"))!.RangeId);
        Assert.Equal(0UL, cache.Find(K("x"))!.LeaderStoreId);
        Assert.Equal(2, cache.Count);
    }

    [Fact]
    public void A_stale_descriptor_never_displaces_a_newer_overlapping_one()
    {
        var cache = new RouteCache();
        cache.ReplaceWith([Range(1, "", "m", version: 2), Range(7, "m", "", version: 2)]);

        // Placement lagging behind the split still reports the old, wider range 1.
        var used = cache.Insert(Range(1, "", "", version: 1));

        Assert.Equal(1UL, used.RangeId); // handed back for the attempt at hand ...
        Assert.Equal(2, cache.Count);    // ... but not cached
        Assert.Equal(7UL, cache.Find(K("x"))!.RangeId);
        Assert.Equal("m", cache.Find(K("a"))!.EndKey.ToStringUtf8());
    }

    [Fact]
    public void A_merge_replaces_both_halves_and_a_moved_range_id_is_dropped_from_its_old_place()
    {
        var cache = new RouteCache();
        cache.Insert(Range(1, "", "m", version: 2));
        cache.Insert(Range(7, "m", "", version: 2));
        cache.Insert(Range(1, "", "", version: 3));
        Assert.Single(cache.Snapshot());

        cache.Insert(Range(9, "a", "f", version: 4));
        Assert.Equal(9UL, cache.Find(K("b"))!.RangeId);
        Assert.Null(cache.Find(K("z"))); // the older range 1 overlapped the newer 9, so it was dropped
    }

    [Fact]
    public void NotLeader_hints_set_the_leader_and_no_hint_rotates_through_voters()
    {
        var cache = new RouteCache();
        cache.Insert(Range(1, "", "", stores: [4, 5, 6]));
        Assert.Equal(4UL, cache.Get(1)!.TargetStoreId());

        cache.RotateLeader(1);
        Assert.Equal(5UL, cache.Get(1)!.TargetStoreId());
        cache.RotateLeader(1);
        cache.RotateLeader(1);
        Assert.Equal(4UL, cache.Get(1)!.TargetStoreId()); // wrapped around

        cache.SetLeader(1, 6, "n6:1");
        Assert.Equal(6UL, cache.Get(1)!.TargetStoreId());
        Assert.Equal("n6:1", cache.Get(1)!.LeaderAddress);

        // Rotating away from a hinted leader forgets it and resumes the rotation where it was.
        cache.RotateLeader(1);
        Assert.Null(cache.Get(1)!.LeaderAddress);
        Assert.Equal(4UL, cache.Get(1)!.TargetStoreId());
    }

    [Fact]
    public void Learners_are_not_targets_when_voters_exist()
    {
        var d = Range(1, "", "", stores: [1, 2]);
        d.Replicas[0].Role = ReplicaRole.Learner;
        var cache = new RouteCache();
        cache.Insert(d);
        Assert.Equal(2UL, cache.Get(1)!.TargetStoreId());
        cache.RotateLeader(1);
        Assert.Equal(2UL, cache.Get(1)!.TargetStoreId());
    }

    [Fact]
    public void Evict_removes_only_that_range()
    {
        var cache = new RouteCache();
        cache.Insert(Range(1, "", "m"));
        cache.Insert(Range(2, "m", ""));
        cache.Evict(1);
        Assert.Null(cache.Find(K("a")));
        Assert.Equal(2UL, cache.Find(K("q"))!.RangeId);
        cache.Evict(42); // unknown: no effect
        Assert.Equal(1, cache.Count);
    }

    [Fact]
    public void Random_inserts_keep_the_cache_sorted_and_non_overlapping()
    {
        // Seeded: a failure names its seed.
        for (var seed = 0; seed < 50; seed++)
        {
            var random = new Random(seed);
            var cache = new RouteCache();
            for (var i = 0; i < 40; i++)
            {
                var a = (char)('a' + random.Next(26));
                var b = (char)('a' + random.Next(26));
                var (lo, hi) = a <= b ? (a, b) : (b, a);
                var end = random.Next(5) == 0 ? string.Empty : hi.ToString() + "z";
                cache.Insert(Range((ulong)random.Next(1, 10), lo.ToString(), end, version: (ulong)random.Next(1, 5)));
            }

            var ranges = cache.Snapshot();
            for (var i = 1; i < ranges.Count; i++)
            {
                Assert.False(ranges[i - 1].EndKey.IsEmpty, $"seed {seed}: an unbounded range is not last");
                Assert.True(ranges[i - 1].EndKey.Span.SequenceCompareTo(ranges[i].StartKey.Span) <= 0, $"seed {seed}: ranges overlap");
            }

            foreach (var r in ranges)
            {
                Assert.Same(r, cache.Find(r.StartKey.Span));
            }
        }
    }
}

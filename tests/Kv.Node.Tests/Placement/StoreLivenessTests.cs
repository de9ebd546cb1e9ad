using Kv.Node.Placement;
using Kv.Proto.V1;

namespace Kv.Node.Tests.Placement;

/// <summary>The leader's soft state: store liveness with a takeover grace period, and reported range leaders.</summary>
public class StoreLivenessTests
{
    private const long Takeover = 1_000_000;

    [Fact]
    public void A_fresh_leader_counts_every_store_up_from_takeover_until_the_timeout()
    {
        var liveness = new StoreLiveness(Takeover, TimeSpan.FromSeconds(10));
        var atTakeover = liveness.Get(7, Takeover);
        Assert.Equal(StoreState.Up, atTakeover.State);
        Assert.Equal(0, atTakeover.LastHeartbeatMs);
        Assert.Equal(StoreState.Up, liveness.Get(7, Takeover + 9_999).State);
        Assert.Equal(StoreState.Down, liveness.Get(7, Takeover + 10_000).State);
    }

    [Fact]
    public void A_heartbeat_keeps_a_store_up_for_the_timeout_and_its_absence_marks_it_down()
    {
        var liveness = new StoreLiveness(Takeover, TimeSpan.FromSeconds(10));
        var stats = new StoreStats { CapacityBytes = 100, RangeCount = 3 };
        liveness.RecordHeartbeat(7, stats, Takeover + 8_000);
        stats.RangeCount = 99; // the caller's message may change later; the recorded copy does not
        var info = liveness.Get(7, Takeover + 17_999);
        Assert.Equal(StoreState.Up, info.State);
        Assert.Equal(Takeover + 8_000, info.LastHeartbeatMs);
        Assert.Equal(3u, info.Stats!.RangeCount);
        Assert.Equal(StoreState.Down, liveness.Get(7, Takeover + 18_000).State);
        Assert.Equal(StoreState.Down, liveness.Get(8, Takeover + 18_000).State);

        // A heartbeat stamped earlier (a clock step back) does not move the last heartbeat back.
        liveness.RecordHeartbeat(7, null, Takeover + 5_000);
        Assert.Equal(Takeover + 8_000, liveness.Get(7, Takeover + 9_000).LastHeartbeatMs);
        Assert.Equal(3u, liveness.Get(7, Takeover + 9_000).Stats!.RangeCount);
    }

    [Fact]
    public void Range_leaders_keep_the_latest_report_and_ignore_one_with_a_lower_epoch()
    {
        var leaders = new RangeLeaders();
        Assert.Null(leaders.Get(5));
        var leader = new ReplicaDescriptor { ReplicaId = 51, StoreId = 1 };
        Assert.True(leaders.Report(5, new RangeEpoch { Version = 2, ConfVer = 2 }, leader, 1024, 10));
        Assert.False(leaders.Report(5, new RangeEpoch { Version = 2, ConfVer = 1 }, new ReplicaDescriptor { ReplicaId = 52, StoreId = 2 }, 1, 11));
        Assert.True(leaders.Report(5, new RangeEpoch { Version = 2, ConfVer = 2 }, new ReplicaDescriptor { ReplicaId = 53, StoreId = 3 }, 2048, 12));
        var info = leaders.Get(5)!;
        Assert.Equal(53UL, info.Leader.ReplicaId);
        Assert.Equal(2048UL, info.ApproximateSizeBytes);
    }
}

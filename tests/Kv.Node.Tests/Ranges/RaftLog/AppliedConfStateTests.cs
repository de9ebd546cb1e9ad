using Kv.Node.Raft;
using static Kv.Node.Tests.Ranges.RaftLog.RaftStoragePair;

namespace Kv.Node.Tests.Ranges.RaftLog;

/// <summary>
/// Regression (review B1): an applied membership change must survive a restart. The core does
/// not re-apply entries at or below the applied index, so the storage must report the
/// configuration as of that index, not the last snapshot's.
/// </summary>
public class AppliedConfStateTests
{
    [Fact(DisplayName = "Raft log recovery: the configuration recorded with an applied conf change is the initial state after a restart")]
    public void Applied_conf_change_survives_a_restart()
    {
        // 1. a group that started from a snapshot with voters 1,2,3; 2. a conf change at index 8
        // adds learner 4 and is applied (recorded); 3. restart; 4. the initial state has learner 4.
        using var p = new RaftStoragePair();
        p.ApplySnapshot(new Snapshot(new SnapshotMetadata(5, 5, ConfState.OfVoters(1, 2, 3)), ReadOnlyMemory<byte>.Empty));
        p.Append(Range(6, 9, 5));
        var withLearner = new ConfState([1, 2, 3], [4], [], [], false);
        p.Persist(batch => p.Persistent.StageAppliedConfState(batch, 8, withLearner));

        p.Reopen();
        Assert.True(p.Persistent.InitialState().ConfState.SameAs(withLearner));
    }

    [Fact(DisplayName = "Raft log recovery: a snapshot newer than the recorded conf change wins")]
    public void A_newer_snapshot_replaces_the_recorded_configuration()
    {
        using var p = new RaftStoragePair();
        p.ApplySnapshot(new Snapshot(new SnapshotMetadata(5, 5, ConfState.OfVoters(1, 2, 3)), ReadOnlyMemory<byte>.Empty));
        p.Persist(batch => p.Persistent.StageAppliedConfState(batch, 5, new ConfState([1, 2, 3], [4], [], [], false)));
        var later = ConfState.OfVoters(1, 2, 4);
        p.ApplySnapshot(new Snapshot(new SnapshotMetadata(20, 6, later), ReadOnlyMemory<byte>.Empty));

        p.Reopen();
        Assert.True(p.Persistent.InitialState().ConfState.SameAs(later));
    }
}

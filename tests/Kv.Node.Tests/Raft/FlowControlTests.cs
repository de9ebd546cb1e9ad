using Kv.Node.Raft;
using static Kv.Node.Tests.Raft.RaftTestCluster;

namespace Kv.Node.Tests.Raft;

/// <summary>Probe/replicate flow control and the inflight window, including regressions the simulator found.</summary>
public class FlowControlTests
{
    [Fact(DisplayName = "Flow control: in replicate state at most MaxInflightMsgs appends are outstanding to one follower")]
    public void The_inflight_window_caps_outstanding_appends()
    {
        var c = new RaftTestCluster(3, cfg => cfg with { MaxInflightMsgs = 2, MaxSizePerMsg = 1 });
        c.Elect(1);
        c.Drop = m => m.Type == MessageType.AppResp; // acknowledgements lost: the window never drains
        for (var i = 0; i < 6; i++)
        {
            c[1].Propose(Data($"e{i}"));
        }

        var apps = c.Take(MessageType.App).Where(m => m.To == 2 && m.Entries.Length > 0).ToList();
        Assert.Equal(2, apps.Count);
        Assert.True(c[1].Core.Tracker.Progress[2].Inflights.Full);
    }

    [Fact(DisplayName = "Regression (simulator seeds 18, 22, 39, 41): a full window whose appends were all lost recovers on the next heartbeat answer instead of failing the invariant")]
    public void A_full_window_recovers_after_its_appends_are_lost()
    {
        var c = new RaftTestCluster(3, cfg => cfg with { MaxInflightMsgs = 2, MaxSizePerMsg = 1 });
        c.Elect(1);
        for (var i = 0; i < 6; i++)
        {
            c[1].Propose(Data($"e{i}"));
        }

        c.Take(MessageType.App); // every append lost in the network
        Assert.True(c[1].Core.Tracker.Progress[2].Inflights.Full);
        c.Heal();
        for (var i = 0; i < 20; i++)
        {
            c.Tick(1, 1);
            c.Stabilize();
        }

        Assert.Equal(["e0", "e1", "e2", "e3", "e4", "e5"], c.AppliedText(2));
    }

    [Fact(DisplayName = "Flow control: a follower that rejects an append moves to probe state and is walked back to the matching index")]
    public void A_rejection_moves_the_follower_to_probe_and_finds_the_match()
    {
        var c = new RaftTestCluster(3);
        c.Elect(1);
        c.Isolate(3);
        for (var i = 0; i < 5; i++)
        {
            c[1].Propose(Data($"e{i}"));
        }

        c.Stabilize();
        c.Heal();
        c.Tick(1, 1);
        c.Stabilize();
        var pr = c[1].Core.Tracker.Progress[3];
        Assert.Equal(ProgressState.Replicate, pr.State);
        Assert.Equal(c[1].LastIndex, pr.Match);
    }
}

using Kv.Node.Raft;
using static Kv.Node.Tests.Raft.RaftTestCluster;

namespace Kv.Node.Tests.Raft;

/// <summary>Section 6.4 of Ongaro's dissertation, processing read-only queries (ReadIndex).</summary>
public class ReadIndexRuleTests
{
    [Fact(DisplayName = "Dissertation 6.4 step 3: 'The leader needs to make sure it hasn't been superseded ... it sends a new round of heartbeats and waits for their acknowledgments from a majority'")]
    public void A_read_is_answered_only_after_a_quorum_confirms_leadership()
    {
        var c = new RaftTestCluster(3);
        c.Elect(1);
        c[1].Propose(Data("v"));
        c.Stabilize();
        c.Isolate(2);
        c.Isolate(3);
        Assert.Equal(StepResult.Ok, c[1].ReadIndex(42));
        c.Stabilize();
        Assert.Empty(c.ReadStates[1]);
        c.Heal();
        c.Tick(1, 1);
        c.Stabilize();
        var rs = Assert.Single(c.ReadStates[1]);
        Assert.Equal(42UL, rs.Context);
        Assert.Equal(c[1].Committed, rs.Index);
    }

    [Fact(DisplayName = "Dissertation 6.4 step 1: 'If the leader has not yet marked an entry from its current term committed, it waits until it has done so'")]
    public void A_new_leader_answers_reads_only_after_committing_an_entry_of_its_term()
    {
        var c = new RaftTestCluster(3);
        c[1].Campaign();
        // Deliver one message at a time until 1 leads, before its no-op commits.
        while (c[1].Role != RaftRole.Leader)
        {
            c.ProcessReadies();
            var m = c.InFlight[0];
            c.InFlight.RemoveAt(0);
            c.Deliver(m);
        }

        Assert.True(c[1].Committed < c[1].LastIndex);
        c[1].ReadIndex(7);
        c.ProcessReadies();
        Assert.DoesNotContain(c.InFlight, m => m.Type == MessageType.Heartbeat && m.Context == 7);
        c.Stabilize();
        c.Tick(1, 1);
        c.Stabilize();
        var rs = Assert.Single(c.ReadStates[1]);
        Assert.True(rs.Index >= c[1].LastIndex, "the read index covers the leader's no-op");
    }

    [Fact(DisplayName = "Dissertation 6.4: 'followers ... request the current commit index from the leader' and read once applied up to it")]
    public void A_follower_read_gets_the_leaders_commit_index()
    {
        var c = new RaftTestCluster(3);
        c.Elect(1);
        c[1].Propose(Data("v"));
        c.Stabilize();
        Assert.Equal(StepResult.Ok, c[2].ReadIndex(9));
        c.Stabilize();
        c.Tick(1, 1);
        c.Stabilize();
        var rs = Assert.Single(c.ReadStates[2]);
        Assert.Equal(c[1].Committed, rs.Index);
        Assert.True(c[2].Applied >= rs.Index);
    }

    [Fact(DisplayName = "Dissertation 6.4: with no known leader, a read is answered with a clean 'no leader', not queued")]
    public void A_read_without_a_leader_is_refused()
    {
        var c = new RaftTestCluster(3);
        Assert.Equal(StepResult.NoLeader, c[2].ReadIndex(5));
    }
}

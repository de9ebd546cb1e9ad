using Kv.Node.Raft;
using static Kv.Node.Tests.Raft.RaftTestCluster;

namespace Kv.Node.Tests.Raft;

/// <summary>Section 3.10 of Ongaro's dissertation, leadership transfer. Display names quote the rule.</summary>
public class LeadershipTransferRuleTests
{
    [Fact(DisplayName = "Dissertation 3.10: 'the prior leader sends a TimeoutNow request to the target server ... causes the target server to start a new election immediately'")]
    public void Transfer_to_an_up_to_date_follower_makes_it_leader_in_the_next_term()
    {
        var c = new RaftTestCluster(3);
        c.Elect(1);
        var term = c[1].Term;
        Assert.Equal(StepResult.Ok, c[1].TransferLeader(2));
        Assert.Single(c.Take(MessageType.TimeoutNow), m => m.To == 2);
        c[2].Step(new Message { Type = MessageType.TimeoutNow, From = 1, To = 2, Term = term });
        c.Stabilize();
        Assert.Equal(RaftRole.Leader, c[2].Role);
        Assert.Equal(term + 1, c[2].Term);
        Assert.Equal(RaftRole.Follower, c[1].Role);
    }

    [Fact(DisplayName = "Dissertation 3.10: 'The prior leader sends its log entries to the target server' before TimeoutNow when the target is behind")]
    public void Transfer_to_a_lagging_follower_first_brings_it_up_to_date()
    {
        var c = new RaftTestCluster(3);
        c.Elect(1);
        c.Isolate(3);
        c[1].Propose(Data("a"));
        c[1].Propose(Data("b"));
        c.Stabilize();
        c.Heal();
        c[1].TransferLeader(3);
        c.ProcessReadies();
        Assert.DoesNotContain(c.InFlight, m => m.Type == MessageType.TimeoutNow);
        Assert.Contains(c.InFlight, m => m.Type == MessageType.App && m.To == 3);
        c.Stabilize();
        Assert.Equal(RaftRole.Leader, c[3].Role);
        Assert.Equal(["a", "b"], c.AppliedText(3));
    }

    [Fact(DisplayName = "Dissertation 3.10: 'During this time, the prior leader stops accepting client requests'")]
    public void The_leader_refuses_proposals_while_a_transfer_is_in_progress()
    {
        var c = new RaftTestCluster(3);
        c.Elect(1);
        c.Isolate(3);
        c[1].TransferLeader(3);
        Assert.Equal(3UL, c[1].LeadTransferee);
        Assert.Equal(StepResult.LeaderTransferring, c[1].Propose(Data("refused")));
    }

    [Fact(DisplayName = "Dissertation 3.10: 'If the transfer does not complete after about an election timeout, the prior leader aborts the transfer and resumes accepting client requests'")]
    public void An_unfinished_transfer_is_aborted_after_an_election_timeout()
    {
        var c = new RaftTestCluster(3);
        c.Elect(1);
        c.Isolate(3);
        c[1].TransferLeader(3);
        for (var i = 0; i < 10; i++)
        {
            c.Tick(1, 1);
            c.Stabilize();
        }

        Assert.Equal(RaftRole.Leader, c[1].Role);
        Assert.Equal(0UL, c[1].LeadTransferee);
        Assert.Equal(StepResult.Ok, c[1].Propose(Data("accepted")));
    }

    [Fact(DisplayName = "Dissertation 3.10 with 4.2.3: the target's election is not blocked by other members' leader lease (the vote carries the transfer flag)")]
    public void A_transfer_election_overrides_the_check_quorum_lease()
    {
        var c = new RaftTestCluster(3, cfg => cfg with { CheckQuorum = true });
        c.Elect(1);
        c[1].TransferLeader(2);
        c.Stabilize();
        Assert.Equal(RaftRole.Leader, c[2].Role);
    }

    [Fact(DisplayName = "Dissertation 3.10: leadership is only transferred to a server that can lead (a learner is ignored)")]
    public void A_transfer_to_a_learner_is_ignored()
    {
        var c = new RaftTestCluster(3, learners: 1);
        c.Elect(1);
        c[1].TransferLeader(4);
        c.Stabilize();
        Assert.Equal(0UL, c[1].LeadTransferee);
        Assert.Equal(RaftRole.Leader, c[1].Role);
    }

    [Fact(DisplayName = "Dissertation 3.10: a follower asked to transfer forwards the request to its leader")]
    public void A_transfer_request_on_a_follower_is_forwarded_to_the_leader()
    {
        var c = new RaftTestCluster(3);
        c.Elect(1);
        Assert.Equal(StepResult.Ok, c[3].TransferLeader(3));
        c.Stabilize();
        Assert.Equal(RaftRole.Leader, c[3].Role);
    }
}

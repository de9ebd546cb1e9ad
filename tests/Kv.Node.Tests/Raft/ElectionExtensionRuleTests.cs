using Kv.Node.Raft;
using static Kv.Node.Tests.Raft.RaftTestCluster;

namespace Kv.Node.Tests.Raft;

/// <summary>Pre-vote (dissertation 9.6), check-quorum (6.2) and proposal routing.</summary>
public class ElectionExtensionRuleTests
{
    [Fact(DisplayName = "Dissertation 9.6: 'a candidate would first ask other servers whether its log was up-to-date enough to get their vote' (a partitioned server does not inflate its term)")]
    public void A_partitioned_member_with_pre_vote_does_not_bump_its_term_or_disrupt_the_leader()
    {
        var c = new RaftTestCluster(3);
        c.Elect(1);
        var term = c[1].Term;
        c.Isolate(3);
        for (var i = 0; i < 10; i++)
        {
            c.TickAll(10);
            c.Stabilize();
        }

        Assert.Equal(term, c[3].Term);
        Assert.Equal(RaftRole.PreCandidate, c[3].Role);
        c.Heal();
        c.TickAll(1);
        c.Stabilize();
        Assert.Equal(RaftRole.Leader, c[1].Role);
        Assert.Equal(term, c[1].Term);
        Assert.Equal(1UL, c[3].Lead);
    }

    [Fact(DisplayName = "Dissertation 6.2: 'a leader steps down if an election timeout elapses without a successful round of heartbeats to a majority of its cluster'")]
    public void A_leader_cut_off_from_the_majority_steps_down()
    {
        var c = new RaftTestCluster(3);
        c.Elect(1);
        c.Isolate(1);
        for (var i = 0; i < 25; i++)
        {
            c.Tick(1, 1);
            c.Stabilize();
        }

        Assert.Equal(RaftRole.Follower, c[1].Role);
    }

    [Fact(DisplayName = "Proposal routing: a follower forwards proposals to its leader, or answers NotLeader when forwarding is disabled")]
    public void Proposals_on_a_follower_are_forwarded_or_refused_cleanly()
    {
        var c = new RaftTestCluster(3);
        Assert.Equal(StepResult.NoLeader, c[2].Propose(Data("nobody-leads")));
        c.Elect(1);
        Assert.Equal(StepResult.Ok, c[2].Propose(Data("forwarded")));
        c.Stabilize();
        Assert.Equal(["forwarded"], c.AppliedText(3));

        var d = new RaftTestCluster(3, cfg => cfg with { DisableProposalForwarding = true });
        d.Elect(1);
        Assert.Equal(StepResult.NotLeader, d[2].Propose(Data("x")));
        Assert.Equal(1UL, d[2].Lead);
    }

    [Fact(DisplayName = "Paper 5.2: 'election timeouts are chosen randomly from a fixed interval' (here [E, 2E), from the injected seeded source)")]
    public void Election_timeouts_are_randomized_within_one_to_two_election_ticks_and_reproducible()
    {
        static int TicksToCampaign(ulong seed)
        {
            var s = new MemoryRaftStorage();
            s.ApplySnapshot(new Snapshot(new SnapshotMetadata(1, 1, ConfState.OfVoters(1, 2, 3)), ReadOnlyMemory<byte>.Empty));
            var n = new RaftNode(new RaftConfig { Id = 1, ElectionTick = 10, PreVote = false }, s, new Simulation.SimRandom(seed));
            var ticks = 0;
            while (n.Role == RaftRole.Follower)
            {
                n.Tick();
                ticks++;
            }

            return ticks;
        }

        var seen = new HashSet<int>();
        for (ulong seed = 1; seed <= 50; seed++)
        {
            var t = TicksToCampaign(seed);
            Assert.InRange(t, 10, 19);
            Assert.Equal(t, TicksToCampaign(seed));
            seen.Add(t);
        }

        Assert.True(seen.Count > 3, "timeouts vary with the seed");
    }
}

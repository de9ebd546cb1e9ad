using Kv.Node.Raft;
using static Kv.Node.Tests.Raft.RaftTestCluster;

namespace Kv.Node.Tests.Raft;

/// <summary>
/// Rules of chapter 4 of Ongaro's dissertation ("Consensus: Bridging Theory and Practice"),
/// cluster membership changes. Each display name quotes the sentence it checks.
/// </summary>
public class MembershipChangeRuleTests
{
    private static ConfChange Joint(ConfChangeTransition t, params (ConfChangeType Type, ulong Id)[] changes) =>
        new(t, changes.Select(c => new ConfChangeSingle(c.Type, c.Id)).ToArray());

    [Fact(DisplayName = "Dissertation 4.1: 'The leader ... will not start a new configuration change until the previous one has been committed' (one pending change at a time)")]
    public void A_second_change_is_refused_until_the_first_is_applied()
    {
        var c = new RaftTestCluster(3);
        c.AddEmptyNode(4);
        c.AddEmptyNode(5);
        c.Elect(1);
        Assert.Equal(StepResult.Ok, c[1].ProposeConfChange(ConfChange.Single(ConfChangeType.AddLearnerNode, 4)));
        Assert.Equal(StepResult.ConfChangeRefused, c[1].ProposeConfChange(ConfChange.Single(ConfChangeType.AddLearnerNode, 5)));
        c.Stabilize();
        Assert.Equal(StepResult.Ok, c[1].ProposeConfChange(ConfChange.Single(ConfChangeType.AddLearnerNode, 5)));
        c.Stabilize();
        Assert.Equal([4UL, 5UL], c[1].ConfState.Learners);
    }

    [Fact(DisplayName = "Dissertation 4.1: 'a server always uses the latest configuration' (here: from the moment it applies the entry, on every member)")]
    public void Every_member_switches_configuration_when_it_applies_the_change()
    {
        var c = new RaftTestCluster(3);
        c.AddEmptyNode(4);
        c.Elect(1);
        c[1].ProposeConfChange(ConfChange.Single(ConfChangeType.AddNode, 4));
        c.Stabilize();
        c.Tick(1, 1); // the next heartbeat reaches the new member, which is caught up by snapshot
        c.Stabilize();
        foreach (var id in c.Ids)
        {
            Assert.Equal([1UL, 2UL, 3UL, 4UL], c[id].ConfState.Voters);
        }
    }

    [Fact(DisplayName = "Dissertation 4.2.1: 'the new server joins the cluster as a non-voting member ... the leader replicates log entries to it, but it is not yet counted towards majorities'")]
    public void A_learner_catches_up_from_a_snapshot_but_does_not_count_toward_the_quorum()
    {
        var c = new RaftTestCluster(3);
        c.AddEmptyNode(4);
        c.Elect(1);
        c[1].Propose(Data("before"));
        c.Stabilize();
        c[1].ProposeConfChange(ConfChange.Single(ConfChangeType.AddLearnerNode, 4));
        c.Stabilize();
        c.Tick(1, 1);
        c.Stabilize();
        Assert.True(c.Storage(4).Snapshot().Index > 1, "the empty learner was caught up with a snapshot");
        Assert.Equal(c[1].LastIndex, c[4].LastIndex);

        // With both other voters cut off, the learner's acknowledgement does not make a majority.
        c.Isolate(2);
        c.Isolate(3);
        var committed = c[1].Committed;
        c[1].Propose(Data("needs-a-voter"));
        c.Stabilize();
        Assert.Equal(c[1].LastIndex, c[4].LastIndex);
        Assert.Equal(committed, c[1].Committed);
    }

    [Fact(DisplayName = "Dissertation 4.2.1: non-voting members 'do not ... initiate elections' (a learner never campaigns)")]
    public void A_learner_never_campaigns()
    {
        var c = new RaftTestCluster(3, learners: 1);
        c.Tick(4, 200);
        c.ProcessReadies();
        Assert.DoesNotContain(c.InFlight, m => m.From == 4 && m.Type is MessageType.PreVote or MessageType.Vote);
        Assert.Equal(RaftRole.Follower, c[4].Role);
    }

    [Fact(DisplayName = "Dissertation 4.2.2: 'the leader steps down ... once the Cnew entry is committed' when it is removed, and the rest elect a new leader")]
    public void A_removed_leader_steps_down_and_the_remaining_members_continue()
    {
        var c = new RaftTestCluster(3);
        c.Elect(1);
        c[1].ProposeConfChange(ConfChange.Single(ConfChangeType.RemoveNode, 1));
        c.Stabilize();
        Assert.Equal(RaftRole.Follower, c[1].Role);
        Assert.Equal([2UL, 3UL], c[2].ConfState.Voters);
        for (var i = 0; i < 100 && c[2].Role != RaftRole.Leader && c[3].Role != RaftRole.Leader; i++)
        {
            c.TickAll(1);
            c.Stabilize();
        }

        var leader = c[2].Role == RaftRole.Leader ? 2UL : 3UL;
        Assert.Equal(RaftRole.Leader, c[leader].Role);
        c[leader].Propose(Data("after"));
        c.Stabilize();
        Assert.Equal(["after"], c.AppliedText(2));
        Assert.Equal(["after"], c.AppliedText(3));
    }

    [Fact(DisplayName = "Dissertation 4.2.3: 'if a server receives a RequestVote request within the minimum election timeout of hearing from a current leader, it does not update its term or grant its vote'")]
    public void A_member_with_a_live_leader_ignores_disruptive_vote_requests()
    {
        var c = new RaftTestCluster(3);
        c.Elect(1);
        var term = c[2].Term;
        c[2].Step(new Message { Type = MessageType.Vote, From = 3, To = 2, Term = term + 10, Index = 100, LogTerm = term + 5 });
        Assert.Equal(term, c[2].Term);
        Assert.Empty(c.Take(MessageType.VoteResp));
        Assert.Equal(RaftRole.Leader, c[1].Role);
    }

    [Fact(DisplayName = "Dissertation 4.3: 'Agreement (for elections and entry commitment) requires separate majorities from both the old and new configurations'")]
    public void In_a_joint_configuration_commitment_needs_both_majorities()
    {
        var c = new RaftTestCluster(3, learners: 2);
        c.Elect(1);

        // {1,2,3} -> {1,4,5}, staying joint (explicit) so the joint phase can be observed.
        var cc = Joint(ConfChangeTransition.JointExplicit, (ConfChangeType.AddNode, 4), (ConfChangeType.AddNode, 5), (ConfChangeType.RemoveNode, 2), (ConfChangeType.RemoveNode, 3));
        Assert.Equal(StepResult.Ok, c[1].ProposeConfChange(cc));
        c.Stabilize();
        var cs = c[1].ConfState;
        Assert.True(cs.IsJoint);
        Assert.Equal([1UL, 4UL, 5UL], cs.Voters);
        Assert.Equal([1UL, 2UL, 3UL], cs.VotersOutgoing);

        // The new majority alone cannot commit.
        c.Isolate(2);
        c.Isolate(3);
        var committed = c[1].Committed;
        c[1].Propose(Data("x"));
        c.Stabilize();
        Assert.Equal(committed, c[1].Committed);
        c.Heal();
        c.Tick(1, 1);
        c.Stabilize();
        Assert.True(c[1].Committed > committed);
        Assert.Contains("x", c.AppliedText(4));

        // Nor can the old majority alone.
        c.Isolate(4);
        c.Isolate(5);
        committed = c[1].Committed;
        c[1].Propose(Data("y"));
        c.Stabilize();
        Assert.Equal(committed, c[1].Committed);
        c.Heal();
        c.Tick(1, 1);
        c.Stabilize();
        Assert.True(c[1].Committed > committed);
        Assert.Contains("y", c.AppliedText(2));
    }

    [Fact(DisplayName = "Dissertation 4.3: 'Once the joint consensus has been committed ... the leader ... can create a log entry describing Cnew' (left automatically)")]
    public void A_joint_change_is_left_automatically_once_applied()
    {
        var c = new RaftTestCluster(3, learners: 1);
        c.Elect(1);
        var cc = Joint(ConfChangeTransition.Auto, (ConfChangeType.AddNode, 4), (ConfChangeType.RemoveNode, 3));
        Assert.Equal(StepResult.Ok, c[1].ProposeConfChange(cc));
        c.Stabilize();
        var cs = c[1].ConfState;
        Assert.False(cs.IsJoint);
        Assert.Equal([1UL, 2UL, 4UL], cs.Voters);
        var confEntries = c.Applied[1].Where(e => e.Type == EntryType.ConfChange).ToList();
        Assert.Equal(2, confEntries.Count);
        Assert.True(confEntries[1].Data.IsEmpty, "the second conf entry is the automatic leave-joint");
    }

    [Fact(DisplayName = "Dissertation 4.3: an explicit joint configuration stays until Cnew is proposed, and no other change may start meanwhile")]
    public void An_explicit_joint_configuration_refuses_other_changes_until_left()
    {
        var c = new RaftTestCluster(3, learners: 1);
        c.Elect(1);
        c[1].ProposeConfChange(Joint(ConfChangeTransition.JointExplicit, (ConfChangeType.AddNode, 4)));
        c.Stabilize();
        Assert.True(c[1].ConfState.IsJoint);
        Assert.Equal(StepResult.ConfChangeRefused, c[1].ProposeConfChange(ConfChange.Single(ConfChangeType.RemoveNode, 2)));
        Assert.Equal(StepResult.Ok, c[1].ProposeConfChange(ConfChange.LeaveJointChange));
        c.Stabilize();
        Assert.False(c[1].ConfState.IsJoint);
        Assert.Equal([1UL, 2UL, 3UL, 4UL], c[1].ConfState.Voters);
        Assert.Equal(StepResult.ConfChangeRefused, c[1].ProposeConfChange(ConfChange.LeaveJointChange));
    }

    [Fact(DisplayName = "Dissertation 4.3 (etcd's refinement): a voter demoted to learner in a joint change keeps voting in Cold until the joint config is left")]
    public void A_demoted_voter_becomes_a_learner_only_when_the_joint_config_is_left()
    {
        var c = new RaftTestCluster(3, learners: 1);
        c.Elect(1);
        c[1].ProposeConfChange(Joint(ConfChangeTransition.JointExplicit, (ConfChangeType.AddLearnerNode, 3), (ConfChangeType.AddNode, 4)));
        c.Stabilize();
        var joint = c[1].ConfState;
        Assert.Equal([3UL], joint.LearnersNext);
        Assert.Contains(3UL, joint.VotersOutgoing);
        c[1].ProposeConfChange(ConfChange.LeaveJointChange);
        c.Stabilize();
        Assert.Equal([3UL], c[1].ConfState.Learners);
        Assert.Equal([1UL, 2UL, 4UL], c[1].ConfState.Voters);
    }

    [Fact(DisplayName = "Dissertation 4.1: a change that removes every voter is refused at apply and leaves the configuration as it was")]
    public void Removing_all_voters_has_no_effect()
    {
        var c = new RaftTestCluster(1);
        c.Elect(1);
        c[1].ProposeConfChange(ConfChange.Single(ConfChangeType.RemoveNode, 1));
        c.Stabilize();
        Assert.Equal([1UL], c[1].ConfState.Voters);
        Assert.Equal(RaftRole.Leader, c[1].Role);
    }
}

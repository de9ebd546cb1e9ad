using Kv.Node.Raft;
using static Kv.Node.Tests.Raft.RaftTestCluster;

namespace Kv.Node.Tests.Raft;

/// <summary>
/// Regression tests for malformed messages a peer could send (found in review): each is refused
/// or ignored, changes nothing that matters, and never throws out of <see cref="RaftNode.Step"/>.
/// </summary>
public class MalformedPeerInputTests
{
    [Theory(DisplayName = "Bad input: a network message without a term is refused, whatever its type claims")]
    [InlineData(nameof(MessageType.App))]
    [InlineData(nameof(MessageType.Heartbeat))]
    [InlineData(nameof(MessageType.Snap))]
    [InlineData(nameof(MessageType.Vote))]
    [InlineData(nameof(MessageType.PreVote))]
    [InlineData(nameof(MessageType.AppResp))]
    [InlineData(nameof(MessageType.TimeoutNow))]
    public void A_termless_message_is_refused(string typeName)
    {
        var type = Enum.Parse<MessageType>(typeName);
        var c = new RaftTestCluster(3);
        c.Elect(1);
        c[1].Propose(Data("x"));
        c.Stabilize();
        var (term, committed, last) = (c[2].Term, c[2].Committed, c[2].LastIndex);

        var m = new Message { Type = type, From = 1, To = 2, Term = 0, Index = 100, LogTerm = 100, Commit = 100 };
        Assert.Equal(StepResult.MalformedMessage, c[2].Step(m));
        c.ProcessReadies();
        Assert.Equal(term, c[2].Term);
        Assert.Equal(committed, c[2].Committed);
        Assert.Equal(last, c[2].LastIndex);
        Assert.Equal(RaftRole.Follower, c[2].Role);
    }

    [Theory(DisplayName = "Bad input: a term near the top of the range is refused, so the next election's Term + 1 cannot wrap to 0")]
    [InlineData(nameof(MessageType.Heartbeat))]
    [InlineData(nameof(MessageType.TimeoutNow))]
    [InlineData(nameof(MessageType.Vote))]
    public void An_absurd_term_is_refused(string typeName)
    {
        var type = Enum.Parse<MessageType>(typeName);
        var c = new RaftTestCluster(3);
        c.Elect(1);
        var term = c[2].Term;
        Assert.Equal(StepResult.MalformedMessage, c[2].Step(new Message { Type = type, From = 1, To = 2, Term = ulong.MaxValue }));
        Assert.Equal(StepResult.MalformedMessage, c[2].Step(new Message { Type = type, From = 1, To = 2, Term = RaftNode.MaxTerm + 1 }));
        c.ProcessReadies();
        Assert.Equal(term, c[2].Term);
        c.Tick(2, 100); // elections still work
    }

    [Fact(DisplayName = "Bad input: a termless append cannot roll a candidate's term back and allow a second vote in an old term")]
    public void A_termless_append_does_not_lower_a_candidates_term()
    {
        var c = new RaftTestCluster(3, cfg => cfg with { PreVote = false });
        c.Elect(1);
        c.Isolate(3);
        c.Tick(3, 100); // 3 times out and campaigns on its own, several times
        Assert.NotEqual(RaftRole.Follower, c[3].Role);
        var term = c[3].Term;
        Assert.Equal(StepResult.MalformedMessage, c[3].Step(new Message { Type = MessageType.App, From = 1, To = 3, Term = 0 }));
        Assert.Equal(term, c[3].Term);
    }

    [Fact(DisplayName = "Bad input: a heartbeat whose commit lies beyond the follower's log commits nothing")]
    public void A_heartbeat_commit_beyond_the_log_commits_nothing()
    {
        var c = new RaftTestCluster(3);
        c.Elect(1);
        var committed = c[2].Committed;
        c[2].Step(new Message { Type = MessageType.Heartbeat, From = 1, To = 2, Term = c[1].Term, Commit = 1000 });
        c.ProcessReadies();
        Assert.Equal(committed, c[2].Committed);
    }

    [Fact(DisplayName = "Bad input: an append that claims term 0 for an index beyond the log is rejected, not accepted")]
    public void An_append_beyond_the_log_with_term_zero_is_rejected()
    {
        var c = new RaftTestCluster(3);
        c.Elect(1);
        var (committed, last) = (c[2].Committed, c[2].LastIndex);
        c[2].Step(new Message { Type = MessageType.App, From = 1, To = 2, Term = c[1].Term, Index = 10_000, LogTerm = 0, Commit = 10_000 });
        c[2].Step(new Message
        {
            Type = MessageType.App, From = 1, To = 2, Term = c[1].Term, Index = 10_000, LogTerm = 0, Commit = 10_001,
            Entries = [new Entry(c[1].Term, 10_001, EntryType.Normal, Data("gap"))],
        });
        c.ProcessReadies();
        Assert.Equal(committed, c[2].Committed);
        Assert.Equal(last, c[2].LastIndex);
        Assert.All(c.Take(MessageType.AppResp).Where(r => r.From == 2), r => Assert.True(r.Reject));
    }

    [Fact(DisplayName = "Bad input: a forwarded proposal with no entries is refused")]
    public void An_empty_forwarded_proposal_is_refused()
    {
        var c = new RaftTestCluster(3);
        c.Elect(1);
        var last = c[1].LastIndex;
        Assert.Equal(StepResult.MalformedMessage, c[1].Step(new Message { Type = MessageType.Prop, From = 2, To = 1, Entries = [] }));
        Assert.Equal(last, c[1].LastIndex);
        Assert.Equal(RaftRole.Leader, c[1].Role);
    }

    [Fact(DisplayName = "Bad input: a snapshot with an impossible configuration is refused before the log is touched")]
    public void A_snapshot_with_an_invalid_configuration_changes_nothing()
    {
        var c = new RaftTestCluster(3);
        c.Elect(1);
        c[1].Propose(Data("kept"));
        c.Stabilize();
        var (committed, last) = (c[2].Committed, c[2].LastIndex);
        var invalid = new ConfState([1, 2, 3], [3], [], [], false); // 3 both voter and learner
        var snapshot = new Snapshot(new SnapshotMetadata(50, c[1].Term, invalid), Data("x"));
        c[2].Step(new Message { Type = MessageType.Snap, From = 1, To = 2, Term = c[1].Term, Snapshot = snapshot });
        c.ProcessReadies();
        Assert.Equal(committed, c[2].Committed);
        Assert.Equal(last, c[2].LastIndex);
        Assert.Equal(1UL, c.Storage(2).Snapshot().Index);
        Assert.Equal(["kept"], c.AppliedText(2));
    }

    [Fact(DisplayName = "Bad input: an invalid-config snapshot naming an uncommitted entry of the log commits nothing (found by the simulator)")]
    public void An_invalid_snapshot_inside_the_log_commits_nothing()
    {
        var c = new RaftTestCluster(3);
        c.Elect(1);
        var (committed, last, term) = (c[2].Committed, c[2].LastIndex, c[1].Term);
        Assert.Equal(StorageStatus.Ok, c[2].Core.Log.Term(last, out var lastTerm));
        // An uncommitted entry on follower 2 only.
        var appended = c[2].Step(new Message
        {
            Type = MessageType.App, From = 1, To = 2, Term = term, Index = last, LogTerm = lastTerm, Commit = committed,
            Entries = [new Entry(term, last + 1, EntryType.Normal, Data("uncommitted"))],
        });
        Assert.Equal(StepResult.Ok, appended);
        Assert.Equal(last + 1, c[2].LastIndex);
        var invalid = new ConfState([1, 2, 3], [3], [], [], false);
        c[2].Step(new Message { Type = MessageType.Snap, From = 1, To = 2, Term = term, Snapshot = new Snapshot(new SnapshotMetadata(last + 1, term, invalid), Data("x")) });
        Assert.Equal(committed, c[2].Committed);
    }

    [Fact(DisplayName = "Section 4.1 (one change at a time): a refused batch leaves no pending change behind that blocks the next one")]
    public void A_refused_conf_change_batch_does_not_block_later_changes()
    {
        var c = new RaftTestCluster(3);
        c.Elect(1);
        var batch = new Message
        {
            Type = MessageType.Prop, From = 1, To = 1,
            Entries =
            [
                new Entry(0, 0, EntryType.ConfChange, ConfChange.Single(ConfChangeType.AddLearnerNode, 4).Encode()),
                new Entry(0, 0, EntryType.ConfChange, ConfChange.Single(ConfChangeType.AddLearnerNode, 5).Encode()),
            ],
        };
        var last = c[1].LastIndex;
        Assert.Equal(StepResult.ConfChangeRefused, c[1].Step(batch));
        Assert.Equal(last, c[1].LastIndex);
        Assert.Equal(StepResult.Ok, c[1].ProposeConfChange(ConfChange.Single(ConfChangeType.AddLearnerNode, 4)));
    }
}

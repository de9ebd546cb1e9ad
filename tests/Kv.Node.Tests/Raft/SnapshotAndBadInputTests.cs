using Kv.Node.Raft;
using static Kv.Node.Tests.Raft.RaftTestCluster;

namespace Kv.Node.Tests.Raft;

/// <summary>Log compaction and snapshots (dissertation chapter 5), and bad input handled by the rules, never by crashing.</summary>
public class SnapshotAndBadInputTests
{
    [Fact(DisplayName = "Dissertation 5.1: 'the leader ... sends snapshots to followers that are too far behind' and the follower continues from it")]
    public void A_follower_behind_the_leaders_compaction_point_is_sent_a_snapshot()
    {
        var c = new RaftTestCluster(3);
        c.Elect(1);
        c.Isolate(3);
        for (var i = 0; i < 5; i++)
        {
            c[1].Propose(Data($"e{i}"));
        }

        c.Stabilize();
        var applied = c[1].Applied;
        c.Storage(1).CreateSnapshot(applied, c[1].ConfState, Data("image"));
        c.Storage(1).Compact(applied);
        c.Heal();
        c.Tick(1, 1);
        c.Stabilize();
        Assert.Equal(applied, c.Storage(3).Snapshot().Index);
        Assert.Equal("image", System.Text.Encoding.UTF8.GetString(c.Storage(3).Snapshot().Data.Span));
        c[1].Propose(Data("after"));
        c.Stabilize();
        Assert.Equal(["after"], c.AppliedText(3));
    }

    [Fact(DisplayName = "Figure 13 (InstallSnapshot): a snapshot older than the follower's commit index is rejected and the leader told where the follower is")]
    public void A_stale_snapshot_is_rejected()
    {
        var c = new RaftTestCluster(3);
        c.Elect(1);
        for (var i = 0; i < 5; i++)
        {
            c[1].Propose(Data($"e{i}"));
        }

        c.Stabilize();
        var committed = c[2].Committed;
        var stale = new Snapshot(new SnapshotMetadata(3, c[1].Term, c[1].ConfState), Data("old"));
        c[2].Step(new Message { Type = MessageType.Snap, From = 1, To = 2, Term = c[1].Term, Snapshot = stale });
        var resp = Assert.Single(c.Take(MessageType.AppResp));
        Assert.Equal(committed, resp.Index);
        Assert.Equal(1UL, c.Storage(2).Snapshot().Index);
        Assert.Equal(committed, c[2].Committed);
    }

    [Fact(DisplayName = "Bad input: a snapshot whose configuration excludes the receiver is not installed")]
    public void A_snapshot_for_another_group_configuration_is_not_installed()
    {
        var c = new RaftTestCluster(3);
        c.Elect(1);
        var foreign = new Snapshot(new SnapshotMetadata(50, c[1].Term, ConfState.OfVoters(7, 8, 9)), Data("x"));
        c[2].Step(new Message { Type = MessageType.Snap, From = 1, To = 2, Term = c[1].Term, Snapshot = foreign });
        c.ProcessReadies();
        Assert.Equal(1UL, c.Storage(2).Snapshot().Index);
        Assert.True(c[2].LastIndex < 50);
    }

    [Fact(DisplayName = "Bad input: responses from an unknown member are refused and change nothing")]
    public void A_response_from_an_unknown_member_is_refused()
    {
        var c = new RaftTestCluster(3);
        c.Elect(1);
        var committed = c[1].Committed;
        Assert.Equal(StepResult.PeerNotFound, c[1].Step(new Message { Type = MessageType.AppResp, From = 99, To = 1, Term = c[1].Term, Index = 1000 }));
        Assert.Equal(StepResult.PeerNotFound, c[1].Step(new Message { Type = MessageType.HeartbeatResp, From = 99, To = 1, Term = c[1].Term }));
        Assert.Equal(committed, c[1].Committed);
        Assert.Equal(RaftRole.Leader, c[1].Role);
    }

    [Fact(DisplayName = "Bad input: a local-only message type arriving from the network is refused")]
    public void A_local_message_from_the_network_is_refused()
    {
        var c = new RaftTestCluster(3);
        Assert.Equal(StepResult.LocalMessageFromNetwork, c[2].Step(new Message { Type = MessageType.Hup, From = 3, To = 2 }));
        Assert.Equal(RaftRole.Follower, c[2].Role);
    }

    [Fact(DisplayName = "Bad input: an acknowledgement beyond the leader's log is ignored, not committed")]
    public void An_acknowledgement_of_an_index_the_leader_never_had_is_ignored()
    {
        var c = new RaftTestCluster(3);
        c.Elect(1);
        var committed = c[1].Committed;
        c[1].Step(new Message { Type = MessageType.AppResp, From = 2, To = 1, Term = c[1].Term, Index = 1_000_000 });
        c[1].Step(new Message { Type = MessageType.AppResp, From = 3, To = 1, Term = c[1].Term, Index = 1_000_000 });
        Assert.Equal(committed, c[1].Committed);
        Assert.True(c[1].Core.Tracker.Progress[2].Match <= c[1].LastIndex);
    }

    [Fact(DisplayName = "Bad input: an append far beyond the follower's log is rejected with a hint, not applied")]
    public void An_append_at_an_out_of_range_index_is_rejected()
    {
        var c = new RaftTestCluster(3);
        c.Elect(1);
        var last = c[2].LastIndex;
        c[2].Step(new Message { Type = MessageType.App, From = 1, To = 2, Term = c[1].Term, Index = 10_000, LogTerm = c[1].Term, Commit = 10_000, Entries = [new Entry(c[1].Term, 10_001, EntryType.Normal, Data("x"))] });
        var resp = Assert.Single(c.Take(MessageType.AppResp));
        Assert.True(resp.Reject);
        Assert.True(resp.RejectHint <= last);
        Assert.Equal(last, c[2].LastIndex);
    }

    [Fact(DisplayName = "Bad input: an append whose entries do not follow its index contiguously is ignored")]
    public void A_malformed_append_is_ignored()
    {
        var c = new RaftTestCluster(3);
        c.Elect(1);
        var last = c[2].LastIndex;
        var term = c[1].Term;
        c[2].Step(new Message { Type = MessageType.App, From = 1, To = 2, Term = term, Index = last, LogTerm = term, Entries = [new Entry(term, last + 5, EntryType.Normal, Data("gap"))] });
        c[2].Step(new Message { Type = MessageType.App, From = 1, To = 2, Term = term, Index = last, LogTerm = term, Entries = [new Entry(term + 7, last + 1, EntryType.Normal, Data("future-term"))] });
        Assert.Empty(c.Take(MessageType.AppResp));
        Assert.Equal(last, c[2].LastIndex);
    }

    [Fact(DisplayName = "Bad input: a term from the future on a learner does not make it campaign or vote itself into power")]
    public void A_future_term_on_a_learner_is_handled_by_the_rules()
    {
        var c = new RaftTestCluster(3, learners: 1);
        c.Elect(1);
        c.Tick(4, 20); // let the learner's leader lease expire, so the vote is not simply ignored
        c[4].Step(new Message { Type = MessageType.Vote, From = 2, To = 4, Term = 1000, Index = 1, LogTerm = 1 });
        Assert.Equal(1000UL, c[4].Term);
        Assert.Equal(RaftRole.Follower, c[4].Role);
        c.Tick(4, 100);
        c.ProcessReadies();
        Assert.DoesNotContain(c.InFlight, m => m.From == 4 && m.Type is MessageType.Vote or MessageType.PreVote);
    }

    [Fact(DisplayName = "Invariant: Ready() twice without Advance() fails fast with the invariant's name")]
    public void Calling_ready_twice_without_advance_names_the_broken_invariant()
    {
        var c = new RaftTestCluster(3);
        c[1].Campaign();
        c[1].Ready();
        var ex = Assert.Throws<RaftInvariantException>(() => c[1].Ready());
        Assert.Equal("one-ready-at-a-time", ex.Invariant);
    }

    [Fact(DisplayName = "Storage: entries, terms, compaction and snapshots of the in-memory log obey IRaftStorage's contract")]
    public void Memory_storage_honours_the_storage_contract()
    {
        var s = new MemoryRaftStorage();
        s.Append([new Entry(1, 1, EntryType.Normal, Data("a")), new Entry(1, 2, EntryType.Normal, Data("b")), new Entry(2, 3, EntryType.Normal, Data("c"))]);
        Assert.Equal(1UL, s.FirstIndex());
        Assert.Equal(3UL, s.LastIndex());
        Assert.Equal(StorageStatus.Ok, s.Term(3, out var t));
        Assert.Equal(2UL, t);
        Assert.Equal(StorageStatus.Unavailable, s.Term(4, out _));

        // An overwrite from index 2 drops the old suffix.
        s.Append([new Entry(3, 2, EntryType.Normal, Data("B"))]);
        Assert.Equal(2UL, s.LastIndex());

        Assert.True(s.CreateSnapshot(2, ConfState.OfVoters(1), Data("img")));
        Assert.False(s.CreateSnapshot(1, ConfState.OfVoters(1), Data("older")));
        Assert.True(s.Compact(2));
        Assert.Equal(3UL, s.FirstIndex());
        Assert.Equal(StorageStatus.Compacted, s.Term(1, out _));
        Assert.Equal(StorageStatus.Ok, s.Term(2, out t));
        Assert.Equal(3UL, t);
        var outList = new List<Entry>();
        Assert.Equal(StorageStatus.Compacted, s.Entries(2, 3, ulong.MaxValue, outList));
        Assert.False(s.ApplySnapshot(new Snapshot(new SnapshotMetadata(1, 1, ConfState.OfVoters(1)), Data("stale"))));
    }
}

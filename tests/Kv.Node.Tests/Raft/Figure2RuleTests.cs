using Kv.Node.Raft;
using static Kv.Node.Tests.Raft.RaftTestCluster;

namespace Kv.Node.Tests.Raft;

/// <summary>
/// One test per rule of figure 2 of the Raft paper (Ongaro and Ousterhout, "In Search of an
/// Understandable Consensus Algorithm"). Each display name quotes the sentence it checks.
/// </summary>
public class Figure2RuleTests
{
    private static RaftConfig NoPreVote(RaftConfig c) => c with { PreVote = false, CheckQuorum = false };

    /// <summary>A follower (node 2 of 3) whose stable log holds entries 2..n with the given terms and payloads.</summary>
    private static RaftTestCluster FollowerWithLog(ulong currentTerm, params (ulong Term, string Data)[] log)
    {
        var c = new RaftTestCluster(3);
        var s = c.Storage(2);
        s.Append(log.Select((e, i) => new Entry(e.Term, (ulong)i + 2, EntryType.Normal, Data(e.Data))).ToArray());
        s.SetHardState(new HardState(currentTerm, 0, 1));
        c.Restart(2);
        return c;
    }

    private static Message App(ulong term, ulong prevIndex, ulong prevTerm, ulong commit, params (ulong Term, ulong Index, string Data)[] ents) => new()
    {
        Type = MessageType.App,
        From = 1,
        To = 2,
        Term = term,
        Index = prevIndex,
        LogTerm = prevTerm,
        Commit = commit,
        Entries = ents.Select(e => new Entry(e.Term, e.Index, EntryType.Normal, Data(e.Data))).ToArray(),
    };

    // ---------------------------------------------------------------- all servers

    [Fact(DisplayName = "Figure 2, all servers: 'If commitIndex > lastApplied: increment lastApplied, apply log[lastApplied] to state machine'")]
    public void Committed_entries_are_applied_in_log_order_on_every_member()
    {
        var c = new RaftTestCluster(3);
        c.Elect(1);
        Assert.Equal(StepResult.Ok, c[1].Propose(Data("a")));
        Assert.Equal(StepResult.Ok, c[1].Propose(Data("b")));
        c.Stabilize();
        foreach (var id in c.Ids)
        {
            Assert.Equal(["a", "b"], c.AppliedText(id));
            var idx = c.Applied[id].Select(e => e.Index).ToArray();
            Assert.Equal(Enumerable.Range((int)idx[0], idx.Length).Select(i => (ulong)i), idx);
            Assert.Equal(c[id].Committed, c[id].Applied);
        }
    }

    [Fact(DisplayName = "Figure 2, all servers: 'If RPC request or response contains term T > currentTerm: set currentTerm = T, convert to follower'")]
    public void A_leader_seeing_a_higher_term_becomes_a_follower_of_that_term()
    {
        var c = new RaftTestCluster(3);
        c.Elect(1);
        var term = c[1].Term;
        c[1].Step(new Message { Type = MessageType.AppResp, From = 2, To = 1, Term = term + 3, Index = 1 });
        Assert.Equal(RaftRole.Follower, c[1].Role);
        Assert.Equal(term + 3, c[1].Term);

        var d = new RaftTestCluster(3);
        d.Elect(1);
        d[1].Step(new Message { Type = MessageType.Heartbeat, From = 3, To = 1, Term = term + 1 });
        Assert.Equal(RaftRole.Follower, d[1].Role);
        Assert.Equal(3UL, d[1].Lead);
    }

    // ---------------------------------------------------------------- followers

    [Fact(DisplayName = "Figure 2, followers: 'If election timeout elapses without receiving AppendEntries RPC from current leader or granting vote to candidate: convert to candidate'")]
    public void A_follower_that_hears_nothing_for_an_election_timeout_becomes_a_candidate()
    {
        var c = new RaftTestCluster(3, NoPreVote);
        var term = c[2].Term;
        c.Tick(2, 2 * 10); // the randomized timeout is in [10, 20)
        Assert.Equal(RaftRole.Candidate, c[2].Role);
        Assert.Equal(term + 1, c[2].Term);
    }

    [Fact(DisplayName = "Figure 2, followers: 'Respond to RPCs from candidates and leaders' (heartbeats keep a follower from timing out)")]
    public void A_follower_hearing_heartbeats_never_campaigns()
    {
        var c = new RaftTestCluster(3);
        c.Elect(1);
        var term = c[1].Term;
        for (var i = 0; i < 100; i++)
        {
            c.TickAll(1);
            c.Stabilize();
        }

        Assert.Equal(RaftRole.Leader, c[1].Role);
        Assert.Equal(term, c[2].Term);
        Assert.Equal(RaftRole.Follower, c[2].Role);
    }

    // ---------------------------------------------------------------- candidates

    [Fact(DisplayName = "Figure 2, candidates: 'On conversion to candidate, start election: Increment currentTerm, Vote for self, Reset election timer, Send RequestVote RPCs to all other servers'")]
    public void A_new_candidate_bumps_its_term_votes_for_itself_and_asks_everyone()
    {
        var c = new RaftTestCluster(3, NoPreVote);
        var term = c[1].Term;
        c[1].Campaign();
        var rd = c[1].Ready();
        Assert.Equal(new HardState(term + 1, 1, 1), rd.HardState);
        var votes = rd.Messages.Where(m => m.Type == MessageType.Vote).ToList();
        Assert.Equal([2UL, 3UL], votes.Select(m => m.To).Order());
        Assert.All(votes, m => Assert.Equal(term + 1, m.Term));
    }

    [Fact(DisplayName = "Figure 2, candidates: 'If votes received from majority of servers: become leader'")]
    public void A_candidate_with_a_majority_of_votes_leads_and_without_one_does_not()
    {
        var c = new RaftTestCluster(5, NoPreVote);
        c.Isolate(4);
        c.Isolate(5);
        c.Elect(1);
        Assert.Equal(RaftRole.Leader, c[1].Role);

        var d = new RaftTestCluster(5, NoPreVote);
        d.Isolate(3);
        d.Isolate(4);
        d.Isolate(5);
        d.Elect(1);
        Assert.Equal(RaftRole.Candidate, d[1].Role);
    }

    [Fact(DisplayName = "Figure 2, candidates: 'If AppendEntries RPC received from new leader: convert to follower'")]
    public void A_candidate_receiving_an_append_of_its_term_follows_the_sender()
    {
        var c = new RaftTestCluster(3, NoPreVote);
        c[2].Campaign();
        c.ProcessReadies();
        Assert.Equal(RaftRole.Candidate, c[2].Role);
        c[2].Step(new Message { Type = MessageType.App, From = 3, To = 2, Term = c[2].Term, Index = 1, LogTerm = 1 });
        Assert.Equal(RaftRole.Follower, c[2].Role);
        Assert.Equal(3UL, c[2].Lead);
    }

    [Fact(DisplayName = "Figure 2, candidates: 'If election timeout elapses: start new election'")]
    public void An_isolated_candidate_starts_another_election_after_a_timeout()
    {
        var c = new RaftTestCluster(3, NoPreVote);
        c.Isolate(1);
        c.Elect(1);
        var term = c[1].Term;
        Assert.Equal(RaftRole.Candidate, c[1].Role);
        c.Tick(1, 20);
        Assert.Equal(RaftRole.Candidate, c[1].Role);
        Assert.True(c[1].Term > term);
    }

    // ---------------------------------------------------------------- leaders

    [Fact(DisplayName = "Figure 2, leaders: 'Upon election: send initial empty AppendEntries RPCs (heartbeat) to each server; repeat during idle periods to prevent election timeouts'")]
    public void A_new_leader_appends_to_everyone_at_once_and_heartbeats_when_idle()
    {
        var c = new RaftTestCluster(3, NoPreVote);
        c[1].Campaign();
        c.ProcessReadies();
        foreach (var v in c.Take(MessageType.Vote))
        {
            c.Deliver(v);
        }

        foreach (var r in c.Take(MessageType.VoteResp))
        {
            c.Deliver(r);
        }

        Assert.Equal(RaftRole.Leader, c[1].Role);
        Assert.Equal([2UL, 3UL], c.Take(MessageType.App).Select(m => m.To).Order());
        c.Stabilize();
        c.Tick(1, 1); // HeartbeatTick = 1
        Assert.Equal([2UL, 3UL], c.Take(MessageType.Heartbeat).Select(m => m.To).Order());
    }

    [Fact(DisplayName = "Figure 2, leaders: 'If command received from client: append entry to local log, respond after entry applied to state machine'")]
    public void A_proposal_is_appended_at_once_and_applied_only_after_commit()
    {
        var c = new RaftTestCluster(3);
        c.Elect(1);
        var last = c[1].LastIndex;
        c.Isolate(2);
        c.Isolate(3);
        c[1].Propose(Data("x"));
        c.Stabilize();
        Assert.Equal(last + 1, c[1].LastIndex);
        Assert.Empty(c.AppliedText(1)); // not committed: no majority
        c.Heal();
        c.TickAll(1);
        c.Stabilize();
        Assert.Equal(["x"], c.AppliedText(1));
    }

    [Fact(DisplayName = "Figure 2, leaders: 'If last log index >= nextIndex for a follower: send AppendEntries RPC with log entries starting at nextIndex'")]
    public void A_lagging_follower_is_sent_the_entries_it_lacks()
    {
        var c = new RaftTestCluster(3);
        c.Elect(1);
        c.Isolate(3);
        c[1].Propose(Data("a"));
        c[1].Propose(Data("b"));
        c.Stabilize();
        Assert.Empty(c.AppliedText(3));
        c.Heal();
        c.Tick(1, 1);
        c.Stabilize();
        Assert.Equal(["a", "b"], c.AppliedText(3));
        Assert.Equal(c[1].LastIndex, c[3].LastIndex);
    }

    [Fact(DisplayName = "Figure 2, leaders: 'If successful: update nextIndex and matchIndex for follower'")]
    public void Acknowledged_appends_advance_match_and_next()
    {
        var c = new RaftTestCluster(3);
        c.Elect(1);
        c[1].Propose(Data("a"));
        c.Stabilize();
        var pr = c[1].Core.Tracker.Progress[2];
        Assert.Equal(c[1].LastIndex, pr.Match);
        Assert.Equal(c[1].LastIndex + 1, pr.Next);
    }

    [Fact(DisplayName = "Figure 2, leaders: 'If AppendEntries fails because of log inconsistency: decrement nextIndex and retry'; receiver: 'If an existing entry conflicts with a new one (same index but different terms), delete the existing entry and all that follow it'")]
    public void A_follower_with_a_conflicting_suffix_is_repaired_by_the_new_leader()
    {
        var c = new RaftTestCluster(3, NoPreVote);
        c.Elect(1);
        c.Isolate(1);
        c[1].Propose(Data("lost-1"));
        c[1].Propose(Data("lost-2"));
        c.ProcessReadies(); // persisted on the old leader only
        c.Elect(2);
        Assert.Equal(RaftRole.Leader, c[2].Role);
        c[2].Propose(Data("kept"));
        c.Stabilize();
        c.Heal();
        c.Tick(2, 1);
        c.Stabilize();
        Assert.Equal(RaftRole.Follower, c[1].Role);
        Assert.Equal(["kept"], c.AppliedText(1));
        Assert.Equal(c[2].LastIndex, c[1].LastIndex);
    }

    [Fact(DisplayName = "Figure 2, leaders: 'If there exists an N such that N > commitIndex, a majority of matchIndex[i] >= N, and log[N].term == currentTerm: set commitIndex = N'")]
    public void A_leader_does_not_commit_an_old_term_entry_by_counting_replicas()
    {
        // Node 1 holds entry 2 from term 1 (uncommitted) and wins term 2.
        var c = new RaftTestCluster(3, NoPreVote);
        var s = c.Storage(1);
        s.Append([new Entry(1, 2, EntryType.Normal, Data("old"))]);
        c.Restart(1);
        c[1].Campaign();
        c.ProcessReadies();
        c[1].Step(new Message { Type = MessageType.VoteResp, From = 2, To = 1, Term = c[1].Term });
        Assert.Equal(RaftRole.Leader, c[1].Role);
        Assert.Equal(3UL, c[1].LastIndex); // its no-op of term 2

        // A majority (1 and 2) now holds entry 2, but it is from term 1: not committed by counting.
        c[1].Step(new Message { Type = MessageType.AppResp, From = 2, To = 1, Term = c[1].Term, Index = 2 });
        Assert.Equal(1UL, c[1].Committed);

        // Once the current-term entry 3 is on a majority, 3 (and so 2) commits.
        c[1].Step(new Message { Type = MessageType.AppResp, From = 2, To = 1, Term = c[1].Term, Index = 3 });
        Assert.Equal(3UL, c[1].Committed);
    }

    // ---------------------------------------------------------------- AppendEntries receiver

    [Fact(DisplayName = "Figure 2, AppendEntries receiver 1: 'Reply false if term < currentTerm'")]
    public void An_append_from_an_older_term_is_answered_with_our_term_and_changes_nothing()
    {
        var c = FollowerWithLog(5, (5, "a"));
        c[2].Step(App(3, 2, 5, 2, (3, 3, "stale")));
        var resp = Assert.Single(c.Take(MessageType.AppResp));
        Assert.Equal(5UL, resp.Term); // the stale leader learns the newer term and steps down
        Assert.Equal(2UL, c[2].LastIndex);
        Assert.Equal(1UL, c[2].Committed);
    }

    [Fact(DisplayName = "Figure 2, AppendEntries receiver 2: 'Reply false if log doesn't contain an entry at prevLogIndex whose term matches prevLogTerm'")]
    public void An_append_whose_previous_entry_does_not_match_is_rejected()
    {
        var c = FollowerWithLog(2, (1, "a"), (2, "b"));
        c[2].Step(App(3, 3, 3, 0, (3, 4, "x")));
        var resp = Assert.Single(c.Take(MessageType.AppResp));
        Assert.True(resp.Reject);
        Assert.Equal(3UL, c[2].LastIndex);

        c[2].Step(App(3, 9, 3, 0, (3, 10, "far")));
        Assert.True(Assert.Single(c.Take(MessageType.AppResp)).Reject);
        Assert.Equal(3UL, c[2].LastIndex);
    }

    [Fact(DisplayName = "Figure 2, AppendEntries receiver 3: 'If an existing entry conflicts with a new one (same index but different terms), delete the existing entry and all that follow it'")]
    public void A_conflicting_entry_and_everything_after_it_are_replaced()
    {
        var c = FollowerWithLog(2, (1, "a"), (1, "b"), (1, "c"));
        c[2].Step(App(2, 2, 1, 0, (2, 3, "B")));
        Assert.False(Assert.Single(c.Take(MessageType.AppResp)).Reject);
        Assert.Equal(3UL, c[2].LastIndex);
        Assert.Equal(2UL, c.Storage(2).Term(3, out var t) == StorageStatus.Ok ? t : 0);
    }

    [Fact(DisplayName = "Figure 2, AppendEntries receiver 4: 'Append any new entries not already in the log'")]
    public void Entries_already_present_are_not_truncated_and_new_ones_are_appended()
    {
        var c = FollowerWithLog(1, (1, "a"), (1, "b"));
        c[2].Step(App(1, 1, 1, 0, (1, 2, "a"))); // a stale, duplicated append
        Assert.Equal(3UL, c[2].LastIndex);
        c[2].Step(App(1, 3, 1, 0, (1, 4, "c")));
        c.ProcessReadies();
        Assert.Equal(4UL, c.Storage(2).LastIndex());
    }

    [Fact(DisplayName = "Figure 2, AppendEntries receiver 5: 'If leaderCommit > commitIndex, set commitIndex = min(leaderCommit, index of last new entry)'")]
    public void The_commit_index_follows_the_leader_but_not_past_the_last_new_entry()
    {
        var c = FollowerWithLog(1);
        c[2].Step(App(1, 1, 1, 10, (1, 2, "a")));
        Assert.Equal(2UL, c[2].Committed);
        c[2].Step(App(1, 2, 1, 3, (1, 3, "b"), (1, 4, "c")));
        Assert.Equal(3UL, c[2].Committed);
    }

    // ---------------------------------------------------------------- RequestVote receiver

    private static Message VoteReq(ulong from, ulong term, ulong lastIndex, ulong lastTerm) =>
        new() { Type = MessageType.Vote, From = from, To = 2, Term = term, Index = lastIndex, LogTerm = lastTerm };

    [Fact(DisplayName = "Figure 2, RequestVote receiver 1: 'Reply false if term < currentTerm' (we stay silent, as etcd does; no vote is granted)")]
    public void A_vote_request_from_an_older_term_is_not_granted()
    {
        var c = FollowerWithLog(5, (5, "a"));
        c[2].Step(VoteReq(3, 4, 10, 4));
        Assert.DoesNotContain(c.Take(MessageType.VoteResp), m => !m.Reject);
        Assert.Equal(5UL, c[2].Term);
        Assert.Equal(0UL, c[2].Core.Vote);
    }

    [Fact(DisplayName = "Figure 2, RequestVote receiver 2: 'If votedFor is null or candidateId, and candidate's log is at least as up-to-date as receiver's log, grant vote'")]
    public void A_vote_is_granted_once_per_term_and_only_to_an_up_to_date_log()
    {
        var c = FollowerWithLog(2, (2, "a"), (2, "b"));

        // Older last term: refused, even with a longer log.
        c[2].Step(VoteReq(3, 3, 10, 1));
        Assert.True(Assert.Single(c.Take(MessageType.VoteResp)).Reject);

        // Same last term but shorter: refused.
        c[2].Step(VoteReq(3, 3, 2, 2));
        Assert.True(Assert.Single(c.Take(MessageType.VoteResp)).Reject);

        // At least as up to date: granted.
        c[2].Step(VoteReq(3, 3, 3, 2));
        Assert.False(Assert.Single(c.Take(MessageType.VoteResp)).Reject);

        // The same candidate again (a retransmission): granted again.
        c[2].Step(VoteReq(3, 3, 3, 2));
        Assert.False(Assert.Single(c.Take(MessageType.VoteResp)).Reject);

        // Another candidate in the same term: refused.
        c[2].Step(VoteReq(1, 3, 5, 3));
        Assert.True(Assert.Single(c.Take(MessageType.VoteResp)).Reject);
    }

    [Fact(DisplayName = "Figure 2, persistent state: '(Updated on stable storage before responding to RPCs)'")]
    public void A_granted_vote_is_in_the_same_ready_as_its_answer_and_must_be_synced_first()
    {
        var c = FollowerWithLog(2, (2, "a"));
        c[2].Step(VoteReq(3, 3, 2, 2));
        var rd = c[2].Ready();
        Assert.Contains(rd.Messages, m => m.Type == MessageType.VoteResp && !m.Reject);
        Assert.Equal(3UL, rd.HardState?.Term);
        Assert.Equal(3UL, rd.HardState?.Vote);
        Assert.True(rd.MustSync);
    }
}

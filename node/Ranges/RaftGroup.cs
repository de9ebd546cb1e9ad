using Kv.Node.Raft;
using Kv.Node.Ranges.RaftLog;

namespace Kv.Node.Ranges;

/// <summary>
/// One Raft group hosted by a <see cref="Store"/>: the core, its persistent log, the state
/// machine, and the requests waiting on it. Owned by the store's driver thread: nothing here
/// is touched from any other thread.
/// </summary>
internal sealed class RaftGroup
{
    public RaftGroup(ulong groupId, RaftNode node, EngineRaftStorage storage, IGroupStateMachine machine, Func<ulong, ulong> storeOfMember, ulong applied)
    {
        GroupId = groupId;
        Node = node;
        Storage = storage;
        Machine = machine;
        StoreOfMember = storeOfMember;
        Applied = applied;
        LastTerm = node.Term;
    }

    public ulong GroupId { get; }

    public RaftNode Node { get; }

    public EngineRaftStorage Storage { get; }

    public IGroupStateMachine Machine { get; }

    /// <summary>Maps a member id of this group to the store hosting it (0: unknown).</summary>
    public Func<ulong, ulong> StoreOfMember { get; set; }

    /// <summary>The applied index as persisted with the last written batch.</summary>
    public ulong Applied { get; set; }

    /// <summary>Last known leader (member id, 0 unknown); published for readers on other threads.</summary>
    public ulong Lead => Volatile.Read(ref lead);

    /// <summary>Whether this replica led its group at the end of the last round.</summary>
    public bool IsLeader => Volatile.Read(ref isLeader);

    /// <summary>Current term; published for readers on other threads.</summary>
    public ulong Term => Volatile.Read(ref term);

    // ---- driver-thread state ----

    private ulong lead;
    private bool isLeader;
    private ulong term;

    /// <summary>Term and role seen at the end of the last round; a change fails waiting requests.</summary>
    public ulong LastTerm { get; set; }

    public bool WasLeader { get; set; }

    /// <summary>Proposals waiting for their entry to apply, by proposal id, with the term they were proposed in.</summary>
    public Dictionary<ulong, (TaskCompletionSource<object?> Waiter, ulong Term)> Proposals { get; } = [];

    /// <summary>The membership change this replica proposed as leader, waiting for its entry (index, term) to apply.</summary>
    public (ulong Index, ulong Term, TaskCompletionSource<object?> Waiter)? PendingConfChange { get; set; }

    /// <summary>Reads that arrived this round; they share one ReadIndex request.</summary>
    public List<TaskCompletionSource> ReadsThisRound { get; } = [];

    /// <summary>ReadIndex requests sent and not yet answered: context -> waiters and the tick they were issued at.</summary>
    public Dictionary<ulong, (List<TaskCompletionSource> Waiters, long IssuedTick)> ReadsInFlight { get; } = [];

    /// <summary>Answered reads waiting for the applied index to reach their read index.</summary>
    public List<(ulong Index, List<TaskCompletionSource> Waiters)> ReadsAwaitingApply { get; } = [];

    public void PublishSoftState()
    {
        Volatile.Write(ref lead, Node.Lead);
        Volatile.Write(ref isLeader, Node.Role == RaftRole.Leader);
        Volatile.Write(ref term, Node.Term);
    }

    /// <summary>Fails every waiting request: this replica stopped leading, or the group is going away.</summary>
    public void FailWaiters(Exception reason)
    {
        foreach (var (waiter, _) in Proposals.Values)
        {
            waiter.TrySetException(reason);
        }

        Proposals.Clear();
        PendingConfChange?.Waiter.TrySetException(reason);
        PendingConfChange = null;
        FailReads(reason);
    }

    public void FailReads(Exception reason)
    {
        foreach (var r in ReadsThisRound)
        {
            r.TrySetException(reason);
        }

        ReadsThisRound.Clear();
        foreach (var (waiters, _) in ReadsInFlight.Values)
        {
            foreach (var r in waiters)
            {
                r.TrySetException(reason);
            }
        }

        ReadsInFlight.Clear();
        foreach (var (_, waiters) in ReadsAwaitingApply)
        {
            foreach (var r in waiters)
            {
                r.TrySetException(reason);
            }
        }

        ReadsAwaitingApply.Clear();
    }
}

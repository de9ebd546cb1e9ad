namespace Kv.Node.Raft;

/// <summary>How the leader currently replicates to one follower.</summary>
internal enum ProgressState : byte
{
    /// <summary>At most one append in flight until it is answered: we are finding where logs match.</summary>
    Probe,

    /// <summary>Optimistically stream appends, up to the inflight window.</summary>
    Replicate,

    /// <summary>A snapshot was sent; nothing else until it is reported applied or failed.</summary>
    Snapshot,
}

/// <summary>The leader's view of one follower (figure 2's nextIndex and matchIndex, plus flow control).</summary>
internal sealed class Progress
{
    public Progress(ulong next, int maxInflight, bool isLearner)
    {
        Next = next;
        Inflights = new Inflights(maxInflight);
        IsLearner = isLearner;
    }

    /// <summary>Highest index known replicated on the follower.</summary>
    public ulong Match { get; set; }

    /// <summary>Index of the next entry to send.</summary>
    public ulong Next { get; set; }

    public ProgressState State { get; private set; }

    /// <summary>In Snapshot state: the index of the snapshot sent.</summary>
    public ulong PendingSnapshot { get; set; }

    /// <summary>Heard from since the last check-quorum round.</summary>
    public bool RecentActive { get; set; }

    /// <summary>Probe state only: a probe is outstanding, so send nothing more until it is answered.</summary>
    public bool MsgAppFlowPaused { get; set; }

    public Inflights Inflights { get; }

    public bool IsLearner { get; set; }

    private void ResetState(ProgressState state)
    {
        MsgAppFlowPaused = false;
        PendingSnapshot = 0;
        State = state;
        Inflights.Reset();
    }

    public void BecomeProbe()
    {
        if (State == ProgressState.Snapshot)
        {
            // After a snapshot, the follower holds at least the snapshot's index.
            var pending = PendingSnapshot;
            ResetState(ProgressState.Probe);
            Next = Math.Max(Match + 1, pending + 1);
        }
        else
        {
            ResetState(ProgressState.Probe);
            Next = Match + 1;
        }
    }

    public void BecomeReplicate()
    {
        ResetState(ProgressState.Replicate);
        Next = Match + 1;
    }

    public void BecomeSnapshot(ulong snapshotIndex)
    {
        ResetState(ProgressState.Snapshot);
        PendingSnapshot = snapshotIndex;
    }

    /// <summary>Account for an append of entryCount entries just sent.</summary>
    public void SentEntries(int entryCount)
    {
        switch (State)
        {
            case ProgressState.Replicate:
                if (entryCount > 0)
                {
                    Next += (ulong)entryCount;
                    Inflights.Add(Next - 1);
                }

                break;
            case ProgressState.Probe:
                // Any append in probe state is a probe: wait for its answer (or a heartbeat response).
                MsgAppFlowPaused = true;
                break;
            default:
                throw new RaftInvariantException("no-append-in-snapshot-state", "sending entries to a follower in snapshot state");
        }
    }

    /// <summary>An acknowledgement up to n; false if it was stale.</summary>
    public bool MaybeUpdate(ulong n)
    {
        var updated = false;
        if (Match < n)
        {
            Match = n;
            updated = true;
            MsgAppFlowPaused = false;
        }

        Next = Math.Max(Next, n + 1);
        return updated;
    }

    /// <summary>A rejection of the append at index rejected; matchHint is the follower's guess. False if stale.</summary>
    public bool MaybeDecrTo(ulong rejected, ulong matchHint)
    {
        if (State == ProgressState.Replicate)
        {
            if (rejected <= Match)
            {
                return false;
            }

            Next = Match + 1;
            return true;
        }

        if (Next - 1 != rejected)
        {
            return false;
        }

        Next = Math.Max(Math.Min(rejected, matchHint + 1), Match + 1);
        MsgAppFlowPaused = false;
        return true;
    }

    public bool IsPaused() => State switch
    {
        ProgressState.Probe => MsgAppFlowPaused,
        ProgressState.Replicate => Inflights.Full,
        _ => true,
    };

    public override string ToString() =>
        $"{State} match={Match} next={Next}" + (IsLearner ? " learner" : "") + (State == ProgressState.Snapshot ? $" pendingSnap={PendingSnapshot}" : "")
        + (MsgAppFlowPaused ? " paused" : "") + (Inflights.Count > 0 ? $" inflight={Inflights.Count}" : "");
}

namespace Kv.Node.Raft;

internal enum VoteResult : byte
{
    Pending,
    Lost,
    Won,
}

/// <summary>Majority arithmetic over one voter set (figure 2: "a majority of servers").</summary>
internal static class Majority
{
    /// <summary>
    /// The largest index acknowledged by a majority of voters. An empty set commits everything
    /// (ulong.MaxValue) so that the min over a non-joint config's empty outgoing half is harmless.
    /// </summary>
    public static ulong CommittedIndex(SortedSet<ulong> voters, Dictionary<ulong, Progress> progress)
    {
        var n = voters.Count;
        if (n == 0)
        {
            return ulong.MaxValue;
        }

        // Small sets: stack buffer, no allocation on the commit path.
        Span<ulong> srt = n <= 16 ? stackalloc ulong[n] : new ulong[n];
        var i = 0;
        foreach (var id in voters)
        {
            srt[i++] = progress.TryGetValue(id, out var pr) ? pr.Match : 0;
        }

        srt.Sort();
        return srt[n - ((n / 2) + 1)];
    }

    public static VoteResult Vote(SortedSet<ulong> voters, Dictionary<ulong, bool> votes)
    {
        if (voters.Count == 0)
        {
            return VoteResult.Won;
        }

        int yes = 0, missing = 0;
        foreach (var id in voters)
        {
            if (!votes.TryGetValue(id, out var v))
            {
                missing++;
            }
            else if (v)
            {
                yes++;
            }
        }

        var q = (voters.Count / 2) + 1;
        if (yes >= q)
        {
            return VoteResult.Won;
        }

        return yes + missing >= q ? VoteResult.Pending : VoteResult.Lost;
    }

    /// <summary>Joint consensus: a decision needs both majorities (dissertation 4.3).</summary>
    public static VoteResult JointVote(SortedSet<ulong> incoming, SortedSet<ulong> outgoing, Dictionary<ulong, bool> votes)
    {
        var r1 = Vote(incoming, votes);
        var r2 = Vote(outgoing, votes);
        if (r1 == r2)
        {
            return r1;
        }

        return r1 == VoteResult.Lost || r2 == VoteResult.Lost ? VoteResult.Lost : VoteResult.Pending;
    }
}

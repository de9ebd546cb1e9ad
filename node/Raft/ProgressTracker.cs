namespace Kv.Node.Raft;

/// <summary>The leader's (or candidate's) bookkeeping: config, per-member progress, votes.</summary>
internal sealed class ProgressTracker
{
    private readonly int maxInflight;
    private ulong[] sortedIds = [];

    public ProgressTracker(int maxInflight)
    {
        this.maxInflight = maxInflight;
    }

    public TrackerConfig Config { get; private set; } = new();

    public Dictionary<ulong, Progress> Progress { get; private set; } = [];

    public Dictionary<ulong, bool> Votes { get; } = [];

    public int MaxInflight => maxInflight;

    /// <summary>All members with progress, ascending: sends go out in a deterministic order.</summary>
    public ReadOnlySpan<ulong> Ids => sortedIds;

    public void Set(TrackerConfig config, Dictionary<ulong, Progress> progress)
    {
        Config = config;
        Progress = progress;
        sortedIds = [.. progress.Keys];
        Array.Sort(sortedIds);
    }

    /// <summary>Voters of both halves, ascending.</summary>
    public ulong[] VoterIds()
    {
        var s = new SortedSet<ulong>(Config.Incoming);
        s.UnionWith(Config.Outgoing);
        return [.. s];
    }

    public bool IsSingleton => Config.Incoming.Count == 1 && Config.Outgoing.Count == 0;

    /// <summary>The highest index replicated on a majority of each half of the config.</summary>
    public ulong Committed() => Math.Min(
        Majority.CommittedIndex(Config.Incoming, Progress),
        Majority.CommittedIndex(Config.Outgoing, Progress));

    public void ResetVotes() => Votes.Clear();

    public void RecordVote(ulong id, bool granted) => Votes.TryAdd(id, granted);

    public VoteResult TallyVotes() => Majority.JointVote(Config.Incoming, Config.Outgoing, Votes);

    public VoteResult Tally(Dictionary<ulong, bool> votes) => Majority.JointVote(Config.Incoming, Config.Outgoing, votes);

    /// <summary>Whether a quorum was recently active (check-quorum); the leader counts itself.</summary>
    public bool QuorumActive(ulong self)
    {
        var votes = new Dictionary<ulong, bool>();
        foreach (var (id, pr) in Progress)
        {
            if (!pr.IsLearner)
            {
                votes[id] = id == self || pr.RecentActive;
            }
        }

        return Tally(votes) == VoteResult.Won;
    }
}

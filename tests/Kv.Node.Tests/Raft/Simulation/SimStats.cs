namespace Kv.Node.Tests.Raft.Simulation;

/// <summary>
/// What one run exercised. A passing seed proves little if the features it was meant to stress
/// never happened; the bulk test sums these over all seeds and asserts a floor for each, so a
/// simulator change that stops exercising a feature fails CI.
/// </summary>
internal sealed class SimStats
{
    /// <summary>Times the highest term among live nodes went up.</summary>
    public long TermChanges { get; set; }

    /// <summary>Persists that replaced a node's log suffix with entries of another term.</summary>
    public long TruncatedSuffixes { get; set; }

    public long SnapshotInstalls { get; set; }

    /// <summary>Conf change entries (by index) that took a node into a joint configuration.</summary>
    public long JointEntered { get; set; }

    public long JointLeft { get; set; }

    /// <summary>TimeoutNow recipients that then won the election they started.</summary>
    public long LeaderTransfers { get; set; }

    /// <summary>ReadIndex reads asked of a non-leader and answered.</summary>
    public long FollowerReads { get; set; }

    /// <summary>Crashes of a node that held entries it had not persisted yet.</summary>
    public long LossyCrashes { get; set; }

    public long NonZeroReads { get; set; }

    public long ClientOps { get; set; }

    /// <summary>Messages delivered after being held back for hundreds of steps.</summary>
    public long StaleDelivered { get; set; }

    /// <summary>Of those, the ones whose term was behind the receiver's.</summary>
    public long StaleByTerms { get; set; }

    /// <summary>Messages stepped into a node between its Ready() and Advance().</summary>
    public long StepsMidReady { get; set; }

    /// <summary>Crashes between Ready() and Advance() (after persisting, sending or applying part of it).</summary>
    public long CrashesMidReady { get; set; }

    /// <summary>Malformed messages handed to nodes (see Simulation.InjectMalformed).</summary>
    public long MalformedInjected { get; set; }

    public void Add(SimStats o)
    {
        TermChanges += o.TermChanges;
        TruncatedSuffixes += o.TruncatedSuffixes;
        SnapshotInstalls += o.SnapshotInstalls;
        JointEntered += o.JointEntered;
        JointLeft += o.JointLeft;
        LeaderTransfers += o.LeaderTransfers;
        FollowerReads += o.FollowerReads;
        LossyCrashes += o.LossyCrashes;
        NonZeroReads += o.NonZeroReads;
        ClientOps += o.ClientOps;
        StaleDelivered += o.StaleDelivered;
        StaleByTerms += o.StaleByTerms;
        StepsMidReady += o.StepsMidReady;
        CrashesMidReady += o.CrashesMidReady;
        MalformedInjected += o.MalformedInjected;
    }

    /// <summary>Each counter by name, in a fixed order (for printing and for the floors).</summary>
    public IEnumerable<(string Name, long Value)> Counters()
    {
        yield return (nameof(TermChanges), TermChanges);
        yield return (nameof(TruncatedSuffixes), TruncatedSuffixes);
        yield return (nameof(SnapshotInstalls), SnapshotInstalls);
        yield return (nameof(JointEntered), JointEntered);
        yield return (nameof(JointLeft), JointLeft);
        yield return (nameof(LeaderTransfers), LeaderTransfers);
        yield return (nameof(FollowerReads), FollowerReads);
        yield return (nameof(LossyCrashes), LossyCrashes);
        yield return (nameof(NonZeroReads), NonZeroReads);
        yield return (nameof(ClientOps), ClientOps);
        yield return (nameof(StaleDelivered), StaleDelivered);
        yield return (nameof(StaleByTerms), StaleByTerms);
        yield return (nameof(StepsMidReady), StepsMidReady);
        yield return (nameof(CrashesMidReady), CrashesMidReady);
        yield return (nameof(MalformedInjected), MalformedInjected);
    }

    public override string ToString() => string.Join(", ", Counters().Select(c => $"{c.Name}={c.Value}"));
}

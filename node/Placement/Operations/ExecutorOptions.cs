namespace Kv.Node.Placement.Operations;

/// <summary>Tunables of the <see cref="OperationExecutor"/>.</summary>
internal sealed record ExecutorOptions
{
    /// <summary>How long one ExecuteStep call may wait for long work (a catch-up) before answering transient.</summary>
    public TimeSpan StepWait { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>The first retry delay after a transient outcome; doubles up to <see cref="MaxBackoff"/>.</summary>
    public TimeSpan MinBackoff { get; init; } = TimeSpan.FromMilliseconds(100);

    public TimeSpan MaxBackoff { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>How often the executor looks at the operations even when nothing woke it.</summary>
    public TimeSpan IdleInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// A learner whose catch-up answers leave it at the same index this many times in a row is
    /// reported "snapshot failing" (rather than "in progress"): its snapshot is not arriving.
    /// </summary>
    public int SnapshotFailingAfter { get; init; } = 3;

    /// <summary>The longest a proposal or read barrier may take before the attempt is retried.</summary>
    public TimeSpan ProposalTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Finished operations are pruned from placement this long after they finished (the audit log keeps their history).</summary>
    public TimeSpan FinishedRetention { get; init; } = TimeSpan.FromMilliseconds(OperationRules.DefaultFinishedRetentionMs);

    /// <summary>At most this many finished operations are kept; the oldest finished are pruned first.</summary>
    public int MaxFinishedOperations { get; init; } = OperationRules.DefaultMaxFinished;

    /// <summary>How often the leader checks whether finished operations are due for pruning.</summary>
    public TimeSpan PruneInterval { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// Test-only broken variant (a negative control): skip the preflight re-check before a step
    /// that removes or demotes a voter. Never set outside tests.
    /// </summary>
    internal bool SkipStepPreflight { get; init; }

    /// <summary>Test-only broken variant (a negative control): let two operations work on one range at once.</summary>
    internal bool SkipRangeOwnership { get; init; }

    /// <summary>Test-only broken variant (a negative control): cancel without undoing the step that was running.</summary>
    internal bool SkipAbortOnCancel { get; init; }
}

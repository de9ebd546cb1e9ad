using Kv.Node.Placement;
using Kv.Proto.V1;

namespace Kv.Node.Tests.Placement;

/// <summary>
/// An <see cref="IPlacementGroup"/> without Raft that keeps the real group's semantics the
/// service depends on: proposals are applied one at a time, in the order they are accepted,
/// through a real <see cref="PlacementState"/> (so refusals are the state machine's own), and
/// their mutations are persisted as the host would; a proposal or read barrier on a node that
/// is not the leader throws <see cref="PlacementNotLeaderException"/>; a proposal held by
/// <see cref="HoldProposals"/> waits until released or cancelled, and fails with not-leader if
/// leadership is lost meanwhile (as a real proposal whose entry is overwritten does).
/// </summary>
internal sealed class FakePlacementGroup : IPlacementGroup
{
    private readonly Lock _lock = new();
    private readonly List<PlacementCommand> _applied = [];
    private TaskCompletionSource _release = NewGate(released: true);

    public FakePlacementGroup(ulong localMemberId, params PlacementMember[] members)
    {
        LocalMemberId = localMemberId;
        Members = members;
    }

    public bool IsMember => LocalMemberId != 0;

    public ulong LocalMemberId { get; }

    public IReadOnlyList<PlacementMember> Members { get; }

    public ulong LeaderId { get; private set; }

    public ulong LeaderTerm { get; private set; }

    public PlacementState State { get; private set; } = PlacementState.Empty;

    /// <summary>What Apply's mutations left, keyed by hex key: what the host would have in its Meta column family.</summary>
    public SortedDictionary<string, byte[]> Records { get; } = new(StringComparer.Ordinal);

    /// <summary>Read barriers served.</summary>
    public int Barriers { get; private set; }

    /// <summary>Commands applied so far, in order.</summary>
    public IReadOnlyList<PlacementCommand> Applied
    {
        get
        {
            lock (_lock)
            {
                return [.. _applied];
            }
        }
    }

    /// <summary>Completes when a proposal starts waiting on <see cref="HoldProposals"/>.</summary>
    public TaskCompletionSource ProposalWaiting { get; private set; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>This node becomes the leader in <paramref name="term"/>.</summary>
    public void Lead(ulong term)
    {
        lock (_lock)
        {
            LeaderTerm = term;
            LeaderId = LocalMemberId;
        }
    }

    /// <summary>This node stops leading; <paramref name="leaderId"/> leads (0: unknown).</summary>
    public void Follow(ulong leaderId)
    {
        lock (_lock)
        {
            LeaderTerm = 0;
            LeaderId = leaderId;
        }
    }

    /// <summary>Restarts the node: the state is rebuilt from the persisted records.</summary>
    public void Restart()
    {
        lock (_lock)
        {
            State = PlacementState.Load(PlacementTestData.AsRecords(Records));
        }
    }

    /// <summary>Proposals wait (not applied) until <see cref="ReleaseProposals"/>.</summary>
    public void HoldProposals()
    {
        _release = NewGate(released: false);
        ProposalWaiting = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    public void ReleaseProposals() => _release.TrySetResult();

    public async Task<PlacementApplyResult> ProposeAsync(PlacementCommand command, CancellationToken ct)
    {
        ulong term = RequireLeader();
        var gate = _release.Task;
        if (!gate.IsCompleted)
        {
            ProposalWaiting.TrySetResult();
            await gate.WaitAsync(ct);
        }

        lock (_lock)
        {
            if (LeaderTerm != term)
            {
                throw new PlacementNotLeaderException(LeaderId);
            }

            _applied.Add(command.Clone());
            return PlacementTestData.ApplyAndPersist(State, command, Records);
        }
    }

    public Task ReadBarrierAsync(CancellationToken ct)
    {
        ct.ThrowIfCancellationRequested();
        RequireLeader();
        lock (_lock)
        {
            Barriers++;
        }

        return Task.CompletedTask;
    }

    private ulong RequireLeader()
    {
        lock (_lock)
        {
            return LeaderTerm != 0 ? LeaderTerm : throw new PlacementNotLeaderException(LeaderId);
        }
    }

    private static TaskCompletionSource NewGate(bool released)
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        if (released)
        {
            gate.SetResult();
        }

        return gate;
    }
}

/// <summary>A clock tests move by hand.</summary>
internal sealed class ManualTimeProvider(long startUnixMs) : TimeProvider
{
    private long _nowMs = startUnixMs;

    public long NowMs
    {
        get => Interlocked.Read(ref _nowMs);
        set => Interlocked.Exchange(ref _nowMs, value);
    }

    public void Advance(long ms) => Interlocked.Add(ref _nowMs, ms);

    public override DateTimeOffset GetUtcNow() => DateTimeOffset.FromUnixTimeMilliseconds(NowMs);
}

using Kv.Node.Placement.Operations;
using Kv.Proto.V1;
using Microsoft.Extensions.Logging;

namespace Kv.Node.Placement.Scheduler;

/// <summary>
/// The scheduler on the placement leader: every <see cref="SchedulerLoopOptions.Interval"/> it
/// reads the cluster (after a read barrier), asks <see cref="SchedulerRules.Decide"/> what to do,
/// and submits each decision as an operation requested by "scheduler" through the same
/// <see cref="OperationsFront"/> an operator uses (so it is planned, preflighted, audited and
/// executed like any other). Pausing is a cluster setting, read every pass. One loop per leader term.
/// </summary>
internal sealed partial class SchedulerLoop
{
    private readonly PlacementLeadership _leadership;
    private readonly OperationsFront _front;
    private readonly SchedulerStatusBoard _board;
    private readonly SchedulerLoopOptions _options;
    private readonly ILogger _logger;
    private long _sequence;

    public SchedulerLoop(PlacementLeadership leadership, OperationsFront front, SchedulerStatusBoard board, SchedulerLoopOptions options, ILogger logger)
    {
        _leadership = leadership;
        _front = front;
        _board = board;
        _options = options;
        _logger = logger;
    }

    private IPlacementGroup Group => _leadership.Group;

    /// <summary>Runs passes while this node leads in <paramref name="session"/>'s term.</summary>
    public async Task RunTermAsync(LeaderSession session, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(session);
        while (!ct.IsCancellationRequested && Group.LeaderTerm == session.Term)
        {
            try
            {
                await Task.Delay(_options.Interval, _leadership.Time, ct).ConfigureAwait(false);
                using var pass = CancellationTokenSource.CreateLinkedTokenSource(ct);
                pass.CancelAfter(_options.Interval * 4 + TimeSpan.FromSeconds(10));
                await PassAsync(session, pass.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }
            catch (PlacementNotLeaderException)
            {
                return;
            }
            catch (OperationCanceledException)
            {
                // A slow pass (no quorum): the next one tries again.
            }
        }
    }

    /// <summary>One pass: decide, submit. Returns the ids submitted.</summary>
    internal async Task<List<string>> PassAsync(LeaderSession session, CancellationToken ct)
    {
        await Group.ReadBarrierAsync(ct).ConfigureAwait(false);
        var snapshot = Group.State.Snapshot;
        var submitted = new List<string>();
        if (!snapshot.IsBootstrapped)
        {
            return submitted;
        }

        long now = _leadership.Time.GetUtcNow().ToUnixTimeMilliseconds();
        var view = ClusterViews.Build(snapshot, session, now);
        var settings = new SchedulerSettings(
            Paused: snapshot.SchedulerPaused,
            StoreDownReplaceAfterMs: _board.StoreDownReplaceAfterMs,
            MaxSnapshotsPerStore: _options.MaxSnapshotsPerStore);
        var active = snapshot.ActiveOperations.Values.Select(e => e.ToRecord()).ToList();
        foreach (var decision in SchedulerRules.Decide(view, now, settings, active))
        {
            string id = $"scheduler-{session.Term}-{now}-{Interlocked.Increment(ref _sequence)}";
            var (operation, _, error) = await _front.SubmitAsync(id, decision.Spec, SchedulerRules.RequestedBy, decision.Reason, ct).ConfigureAwait(false);
            if (error is null && operation is not null)
            {
                submitted.Add(operation.Id);
                _board.Add(new SchedulerEvent { AtMs = now, OperationId = operation.Id, Reason = decision.Reason });
                LogSubmitted(_logger, operation.Id, decision.Reason);
            }
            else
            {
                _board.Add(new SchedulerEvent { AtMs = now, Reason = $"{decision.Reason}; not submitted: {error?.Message}" });
                LogNotSubmitted(_logger, decision.Reason, error?.Message ?? "no record");
            }
        }

        _board.Passed(now);
        return submitted;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Scheduler: submitted {OperationId}: {Reason}")]
    private static partial void LogSubmitted(ILogger logger, string operationId, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Scheduler: {Reason}; not submitted: {Error}")]
    private static partial void LogNotSubmitted(ILogger logger, string reason, string error);
}

/// <summary>Tunables of the <see cref="SchedulerLoop"/>.</summary>
internal sealed record SchedulerLoopOptions
{
    /// <summary>Time between passes.</summary>
    public TimeSpan Interval { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Moves and adds in flight into one store at most.</summary>
    public int MaxSnapshotsPerStore { get; init; } = 2;
}

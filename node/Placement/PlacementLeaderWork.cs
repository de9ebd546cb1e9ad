using Kv.Node.Placement.Operations;
using Kv.Node.Placement.Scheduler;
using Microsoft.Extensions.Logging;

namespace Kv.Node.Placement;

/// <summary>
/// Starts the placement leader's background work (the operation executor and the scheduler) when
/// this node becomes leader, and stops it when it loses leadership: one run per term, each with
/// its own cancellation, so nothing of a deposed term keeps acting (and whatever it still proposes
/// is fenced by the records' revisions). Leadership is sampled every <paramref name="checkInterval"/>.
/// </summary>
internal sealed partial class PlacementLeaderWork(
    PlacementLeadership leadership, OperationExecutor executor, SchedulerLoop scheduler, TimeSpan checkInterval, ILogger logger)
{
    /// <summary>Runs until <paramref name="ct"/> fires.</summary>
    public async Task RunAsync(CancellationToken ct)
    {
        ulong runningTerm = 0;
        CancellationTokenSource? termCts = null;
        Task running = Task.CompletedTask;
        try
        {
            while (!ct.IsCancellationRequested)
            {
                ulong term = leadership.Group.LeaderTerm;
                if (term != runningTerm)
                {
                    if (termCts is not null)
                    {
                        await termCts.CancelAsync().ConfigureAwait(false);
                        await running.ConfigureAwait(false);
                        termCts.Dispose();
                        termCts = null;
                    }

                    runningTerm = term;
                    if (term != 0 && leadership.Group.State.Snapshot.IsBootstrapped && leadership.Current() is { } session)
                    {
                        termCts = CancellationTokenSource.CreateLinkedTokenSource(ct);
                        var token = termCts.Token;
                        running = Task.WhenAll(
                            Task.Run(() => executor.RunTermAsync(session, token), CancellationToken.None),
                            Task.Run(() => scheduler.RunTermAsync(session, token), CancellationToken.None));
                    }
                    else
                    {
                        // Not bootstrapped yet: look again next time (the term stays the same).
                        runningTerm = term != 0 && !leadership.Group.State.Snapshot.IsBootstrapped ? 0 : term;
                    }
                }

                await Task.Delay(checkInterval, leadership.Time, ct).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
        finally
        {
            if (termCts is not null)
            {
                await termCts.CancelAsync().ConfigureAwait(false);
                try
                {
                    await running.ConfigureAwait(false);
                }
#pragma warning disable CA1031 // shutting down: the term's work ends however it ends
                catch (Exception e)
#pragma warning restore CA1031
                {
                    LogStopFailed(logger, e);
                }

                termCts.Dispose();
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Placement: the leader's background work ended with an error while stopping")]
    private static partial void LogStopFailed(ILogger logger, Exception e);
}

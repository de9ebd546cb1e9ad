namespace Kv.Node.Ranges;

/// <summary>
/// Waiting on a group's state without polling: <see cref="WaitForAsync{T}"/>.
///
/// Contract:
///  1. The condition runs on the driver thread, with the group, once when the wait is registered
///     and then at the end of every round that touched the group: a message from a peer was
///     stepped into it (an acknowledgement that moved a member's match index, a vote, a
///     heartbeat), or it had a Ready (entries applied, a membership change applied, a role or
///     term change, a leader learned). Every change of the state a condition may read (role,
///     lead, term, configuration, match indexes, applied index, pending change, descriptor)
///     happens in such a round, so no change is missed.
///  2. The first non-null result completes the wait with that result; the condition is not run
///     again. It must be cheap and must not block or throw (a throw fails the wait, not the driver).
///  3. The wait fails with <see cref="GroupNotFoundException"/> when the group is absent or is
///     destroyed meanwhile, completes with null when the timeout passes first, and is cancelled
///     by the token. A timed-out or cancelled wait is removed on the driver thread.
/// Nothing is evaluated for groups nobody waits on: the hot path pays one flag store per message.
/// </summary>
internal sealed partial class Store
{
    // Groups with at least one waiter (driver thread only); usually empty.
    private readonly Dictionary<ulong, List<ConditionWaiter>> conditions = [];

    // Groups touched this round that have waiters (driver thread only).
    private readonly HashSet<ulong> touched = [];

    /// <summary>
    /// Completes with condition's first non-null result for the group (see the contract above),
    /// or null when <paramref name="timeout"/> passes first.
    /// </summary>
    public async Task<T?> WaitForAsync<T>(ulong groupId, Func<RaftGroup, T?> condition, TimeSpan timeout, CancellationToken ct)
        where T : class
    {
        var waiter = new ConditionWaiter(g => condition(g));
        Post(() =>
        {
            if (!groups.TryGetValue(groupId, out var g))
            {
                waiter.Done.TrySetException(new GroupNotFoundException(groupId));
                return;
            }

            if (!Evaluate(waiter, g))
            {
                if (!conditions.TryGetValue(groupId, out var list))
                {
                    conditions[groupId] = list = [];
                }

                list.Add(waiter);
            }
        });

        try
        {
            return (T?)await waiter.Done.Task.WaitAsync(timeout, ct).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            return null;
        }
        finally
        {
            if (!waiter.Done.Task.IsCompleted)
            {
                waiter.Done.TrySetCanceled(CancellationToken.None);
                Post(() => RemoveWaiter(groupId, waiter));
            }
        }
    }

    /// <summary>Driver thread: marks a group whose state may have changed this round (cheap when nobody waits).</summary>
    private void Touch(ulong groupId)
    {
        if (conditions.Count > 0 && conditions.ContainsKey(groupId))
        {
            touched.Add(groupId);
        }
    }

    /// <summary>Driver thread, end of a round: runs the conditions of the groups touched in it.</summary>
    private void CheckConditions()
    {
        if (touched.Count == 0)
        {
            return;
        }

        foreach (var id in touched)
        {
            if (!conditions.TryGetValue(id, out var list))
            {
                continue;
            }

            if (!groups.TryGetValue(id, out var g))
            {
                FailConditions(id);
                continue;
            }

            list.RemoveAll(w => w.Done.Task.IsCompleted || Evaluate(w, g));
            if (list.Count == 0)
            {
                conditions.Remove(id);
            }
        }

        touched.Clear();
    }

    /// <summary>Driver thread: the group is gone; its waiters fail.</summary>
    private void FailConditions(ulong groupId)
    {
        if (conditions.Remove(groupId, out var list))
        {
            foreach (var w in list)
            {
                w.Done.TrySetException(new GroupNotFoundException(groupId));
            }
        }
    }

    private void RemoveWaiter(ulong groupId, ConditionWaiter waiter)
    {
        if (conditions.TryGetValue(groupId, out var list) && list.Remove(waiter) && list.Count == 0)
        {
            conditions.Remove(groupId);
        }
    }

    /// <summary>Runs one condition; true when the waiter is finished (completed or failed).</summary>
    private static bool Evaluate(ConditionWaiter waiter, RaftGroup g)
    {
        try
        {
            if (waiter.Condition(g) is { } result)
            {
                waiter.Done.TrySetResult(result);
                return true;
            }

            return false;
        }
#pragma warning disable CA1031 // the waiter gets the exception; the driver goes on
        catch (Exception e)
#pragma warning restore CA1031
        {
            waiter.Done.TrySetException(e);
            return true;
        }
    }

    private sealed class ConditionWaiter(Func<RaftGroup, object?> condition)
    {
        public Func<RaftGroup, object?> Condition { get; } = condition;

        public TaskCompletionSource<object?> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}

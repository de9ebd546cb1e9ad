using Kv.Client;
using Kv.Client.Administration;
using Kv.Client.Cluster;
using Kv.Client.Views;
using Kv.Proto.V1;

namespace Kv.Node.Tests.TestSupport;

/// <summary>
/// Range changes for tests, through the operation API as kvctl makes them: each call submits one
/// operation (<see cref="KvAdminClient.RunAsync"/>: submit, then watch it until it finishes) and
/// returns what tests assert on, the range(s) after the change as placement's directory holds
/// them. That read is exact, not eventual: the executor writes a step's resulting descriptors to
/// the directory before it records the step done, so once the operation succeeded they are there.
/// A refusal at submit is the <see cref="KvAdminException"/> (code and message of the planner); an
/// operation that failed is the <see cref="KvOperationFailedException"/> with its final record. A
/// call that has not finished within its patience throws TimeoutException naming the last record.
/// </summary>
internal sealed class RangeOperations : IAsyncDisposable
{
    private const string Who = "tests";

    private static readonly TimeSpan DefaultPatience = TimeSpan.FromMinutes(3);

    private readonly KvClient _reader;

    private RangeOperations(KvAdminClient admin, KvClient reader)
    {
        Admin = admin;
        _reader = reader;
    }

    public KvAdminClient Admin { get; }

    public static RangeOperations Connect(IReadOnlyList<string> addresses, KvClientOptions? options = null) =>
        new(KvAdminClient.Connect(addresses, options ?? new KvClientOptions { RequestTimeout = TimeSpan.FromSeconds(30) }, who: Who),
            KvClient.Connect(addresses, options ?? new KvClientOptions { RequestTimeout = TimeSpan.FromSeconds(30) }));

    /// <summary>
    /// Splits the range holding <paramref name="key"/> (or range <paramref name="rangeId"/> when
    /// not 0) at the key; returns the left half (the range's id, [start, key)) and the right half
    /// ([key, end)).
    /// </summary>
    public async Task<(RangeDescriptor Left, RangeDescriptor Right)> SplitAsync(ReadOnlyMemory<byte> key, ulong rangeId = 0, TimeSpan? patience = null)
    {
        var id = rangeId != 0 ? rangeId : (await RangeHoldingAsync(key)).RangeId;
        await RunAsync(OperationRequest.Split(new RangeId(id), key), patience);
        var left = await RangeAsync(id);
        var right = await RangeHoldingAsync(key);
        Assert.True(left.EndKey.Span.SequenceEqual(key.Span), $"after the split, range {id} should end at the split key: {left}");
        Assert.True(right.StartKey.Span.SequenceEqual(key.Span), $"after the split, a range should start at the split key: {right}");
        return (left, right);
    }

    public async Task<RangeDescriptor> AddAsync(ulong rangeId, ulong storeId, TimeSpan? patience = null)
    {
        await RunAsync(OperationRequest.AddReplica(new RangeId(rangeId), new StoreId(storeId)), patience);
        return await RangeAsync(rangeId);
    }

    /// <summary>
    /// Removes the replica on <paramref name="storeId"/>. Removing one of three voters lowers the
    /// range's failure tolerance to none, which the preflight refuses: pass
    /// <paramref name="forceReason"/> to override it (the override is audited).
    /// </summary>
    public async Task<RangeDescriptor> RemoveAsync(ulong rangeId, ulong storeId, string? forceReason = null, TimeSpan? patience = null)
    {
        var request = OperationRequest.RemoveReplica(new RangeId(rangeId), new StoreId(storeId));
        await RunAsync(forceReason is null ? request : request with { Force = true, Reason = forceReason }, patience);
        return await RangeAsync(rangeId);
    }

    public async Task<RangeDescriptor> MoveAsync(ulong rangeId, ulong fromStoreId, ulong toStoreId, TimeSpan? patience = null)
    {
        await RunAsync(OperationRequest.MoveReplica(new RangeId(rangeId), new StoreId(fromStoreId), new StoreId(toStoreId)), patience);
        return await RangeAsync(rangeId);
    }

    /// <summary>Moves the range's leadership to its voter on <paramref name="toStoreId"/>; the step completes only once that voter leads.</summary>
    public Task<OperationView> TransferLeadershipAsync(ulong rangeId, ulong toStoreId, TimeSpan? patience = null) =>
        RunAsync(OperationRequest.TransferLeader(new RangeId(rangeId), new StoreId(toStoreId)), patience);

    /// <summary>Submits and waits for the operation; see the class comment for what it throws.</summary>
    public async Task<OperationView> RunAsync(OperationRequest request, TimeSpan? patience = null)
    {
        OperationView? last = null;
        using var timeout = new CancellationTokenSource(patience ?? DefaultPatience);
        try
        {
            return await Admin.RunAsync(request, new SynchronousProgress(v => last = v), timeout.Token);
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested)
        {
            throw new TimeoutException($"the {request.Kind} operation did not finish within {patience ?? DefaultPatience}; last seen: {last?.State} {last?.Failure} stuck: {string.Join("; ", last?.Stuck.Select(s => $"range {s.RangeId}: {s.Reason}") ?? [])}");
        }
    }

    /// <summary>The operations this helper submitted (requested by "tests"); the scheduler's are left out.</summary>
    public async Task<IReadOnlyList<OperationView>> ListOwnAsync() =>
        [.. (await Admin.ListAsync()).Where(o => o.RequestedBy == Who)];

    /// <summary>Placement's descriptor of range <paramref name="rangeId"/>.</summary>
    public async Task<RangeDescriptor> RangeAsync(ulong rangeId) =>
        (await _reader.GetRangeAsync(rangeId))?.Range ?? throw new InvalidOperationException($"placement does not know range {rangeId}");

    /// <summary>Placement's descriptor of the range holding <paramref name="key"/>.</summary>
    public async Task<RangeDescriptor> RangeHoldingAsync(ReadOnlyMemory<byte> key)
    {
        foreach (var info in await _reader.ListRangesAsync())
        {
            var r = info.Range;
            if (r.StartKey.Span.SequenceCompareTo(key.Span) <= 0 && (r.EndKey.IsEmpty || key.Span.SequenceCompareTo(r.EndKey.Span) < 0))
            {
                return r;
            }
        }

        throw new InvalidOperationException("placement lists no range holding the key");
    }

    public async ValueTask DisposeAsync()
    {
        await Admin.DisposeAsync();
        await _reader.DisposeAsync();
    }

    /// <summary>Reports on the calling thread (Progress&lt;T&gt; would post to the thread pool, and the last report could arrive late).</summary>
    private sealed class SynchronousProgress(Action<OperationView> report) : IProgress<OperationView>
    {
        public void Report(OperationView value) => report(value);
    }
}

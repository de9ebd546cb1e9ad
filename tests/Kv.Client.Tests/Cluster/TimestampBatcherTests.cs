using Kv.Client.Cluster;

namespace Kv.Client.Tests.Cluster;

public class TimestampBatcherTests
{
    [Fact]
    public void Distribute_hands_out_the_batch_in_arrival_order()
    {
        var stamps = TimestampBatcher.Distribute(last: 104, count: 5, waiters: 5, lastIssued: new Timestamp(99));
        Assert.Equal([100UL, 101, 102, 103, 104], stamps.Select(s => s.Value));
    }

    [Fact]
    public void Distribute_uses_the_lowest_values_of_a_larger_batch_and_all_of_a_smaller_one()
    {
        Assert.Equal([10UL, 11], TimestampBatcher.Distribute(13, 4, 2, Timestamp.Zero).Select(s => s.Value));
        Assert.Equal([12UL, 13], TimestampBatcher.Distribute(13, 2, 5, Timestamp.Zero).Select(s => s.Value));
    }

    [Fact]
    public void Distribute_refuses_an_oracle_that_goes_backwards_or_answers_nonsense()
    {
        Assert.Equal(KvErrorKind.Internal, Assert.Throws<KvException>(() => TimestampBatcher.Distribute(104, 5, 5, new Timestamp(100))).Kind);
        Assert.Contains("backwards", Assert.Throws<KvException>(() => TimestampBatcher.Distribute(50, 1, 1, new Timestamp(50))).Message, StringComparison.Ordinal);
        Assert.Throws<KvException>(() => TimestampBatcher.Distribute(3, 0, 1, Timestamp.Zero));
        Assert.Throws<KvException>(() => TimestampBatcher.Distribute(3, 5, 1, Timestamp.Zero));
    }

    [Fact]
    public async Task Callers_waiting_behind_an_rpc_share_the_next_one()
    {
        var counts = new List<uint>();
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        ulong next = 1000;
        var batcher = new TimestampBatcher(async count =>
        {
            lock (counts)
            {
                counts.Add(count);
            }

            if (counts.Count == 1)
            {
                await gate.Task;
            }

            next += count;
            return (next - 1, count);
        }, maxBatch: 100);

        var first = batcher.GetAsync(CancellationToken.None);
        await WaitUntil(() => batcher.PendingCount == 0 && counts.Count == 1); // the first RPC is in flight
        var rest = Enumerable.Range(0, 7).Select(_ => batcher.GetAsync(CancellationToken.None)).ToList(); // queued synchronously
        Assert.Equal(7, batcher.PendingCount);
        gate.SetResult();

        var all = new List<Timestamp> { await first };
        foreach (var t in rest)
        {
            all.Add(await t);
        }

        Assert.Equal([1u, 7u], counts);
        Assert.Equal(all.OrderBy(t => t.Value), all); // arrival order = timestamp order
        Assert.Equal(8, all.Distinct().Count());
    }

    [Fact]
    public async Task Batches_are_capped_and_a_failed_batch_fails_only_its_waiters()
    {
        var counts = new List<uint>();
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        ulong next = 1;
        var calls = 0;
        var batcher = new TimestampBatcher(async count =>
        {
            counts.Add(count);
            if (++calls == 1)
            {
                await gate.Task;
            }

            if (calls == 2)
            {
                throw new KvException(KvErrorKind.Unavailable, "oracle down");
            }

            next += count;
            return (next - 1, count);
        }, maxBatch: 3);

        var first = batcher.GetAsync(CancellationToken.None);
        await WaitUntil(() => counts.Count == 1);
        var queued = Enumerable.Range(0, 5).Select(_ => batcher.GetAsync(CancellationToken.None)).ToList();
        gate.SetResult();

        await first;
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(KvErrorKind.Unavailable, (await Assert.ThrowsAsync<KvException>(() => queued[i])).Kind);
        }

        Assert.True(await queued[4] > await queued[3]);
        Assert.Equal([1u, 3u, 2u], counts);
    }

    [Fact]
    public async Task A_caller_that_cancels_stops_waiting_and_the_others_still_get_timestamps()
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        ulong oracle = 100;
        var batcher = new TimestampBatcher(async count =>
        {
            await gate.Task;
            oracle += count; // batches are requested one at a time
            return (oracle, count);
        }, maxBatch: 10);
        using var cts = new CancellationTokenSource();
        var cancelled = batcher.GetAsync(cts.Token);
        var other = batcher.GetAsync(CancellationToken.None);
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled);
        gate.SetResult();
        Assert.True((await other).Value > 0);
    }

    internal static async Task WaitUntil(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "condition not reached within 30 s");
            await Task.Delay(5);
        }
    }
}

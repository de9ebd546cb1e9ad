using System.Collections.Concurrent;
using System.Text;
using Kv.Client.Cluster;

namespace Kv.System.Tests.Cluster;

/// <summary>
/// A steady write load: several writer tasks, each with its own KvClient, putting unique keys
/// (<c>w{writer}-{n}</c> = <c>v{writer}-{n}</c>) one after another. A put that returns is
/// acknowledged and recorded; a put that fails (KvException: unavailable within its 30 s
/// deadline) has an unknown outcome and is neither recorded nor counted as lost.
/// </summary>
public sealed class WriteLoad : IAsyncDisposable
{
    private static readonly TimeSpan PutDeadline = TimeSpan.FromSeconds(30);
    private readonly ConcurrentQueue<string> _acked = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly Task[] _writers;
    private int _unknown;

    private WriteLoad(TestCluster cluster, int writers)
    {
        _writers = [.. Enumerable.Range(0, writers).Select(w => Task.Run(() => WriteAsync(cluster, w)))];
    }

    public int AckedCount => _acked.Count;

    public int UnknownCount => Volatile.Read(ref _unknown);

    public IReadOnlyCollection<string> Acked => _acked;

    public static WriteLoad Start(TestCluster cluster, int writers) => new(cluster, writers);

    public static byte[] Key(string name) => Encoding.UTF8.GetBytes(name);

    public static byte[] ValueOf(string key) => Encoding.UTF8.GetBytes("v" + key[1..]);

    /// <summary>Waits until <paramref name="more"/> acknowledgements beyond the current count arrive; fails at the deadline saying how many did.</summary>
    public async Task WaitForMoreAcksAsync(int more, TimeSpan timeout, string when)
    {
        var target = AckedCount + more;
        var deadline = DateTime.UtcNow + timeout;
        await Eventually.TrueAsync(() =>
        {
            FailIfAWriterFailed();
            return (AckedCount >= target, $"writes did not resume {when}: {AckedCount} of {target} acknowledged, {UnknownCount} outcomes unknown");
        }, deadline);
    }

    public async Task StopAsync()
    {
        await _stop.CancelAsync();
        try
        {
            await Task.WhenAll(_writers);
        }
        catch (OperationCanceledException)
        {
            // the writers end on cancellation
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        _stop.Dispose();
    }

    private void FailIfAWriterFailed()
    {
        var failed = _writers.FirstOrDefault(w => w.IsFaulted);
        if (failed is not null)
        {
            throw new InvalidOperationException("a writer failed", failed.Exception);
        }
    }

    private async Task WriteAsync(TestCluster cluster, int writer)
    {
        await using var client = cluster.Client(PutDeadline);
        for (var n = 0; !_stop.IsCancellationRequested; n++)
        {
            var key = $"w{writer:D2}-{n:D6}";
            try
            {
                await client.PutAsync(Key(key), ValueOf(key), _stop.Token);
                _acked.Enqueue(key);
            }
            catch (KvException)
            {
                Interlocked.Increment(ref _unknown);
            }
            catch (OperationCanceledException) when (_stop.IsCancellationRequested)
            {
                return; // stopped mid-put: outcome unknown, not recorded
            }
        }
    }
}

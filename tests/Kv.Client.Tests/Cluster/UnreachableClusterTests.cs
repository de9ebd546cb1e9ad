using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Kv.Client.Cluster;

namespace Kv.Client.Tests.Cluster;

public class UnreachableClusterTests
{
    /// <summary>A 127.0.0.1 port nothing listens on (bound, then released).</summary>
    internal static string ClosedEndpoint()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return $"127.0.0.1:{port}";
    }

    [Fact]
    public async Task A_closed_port_gives_a_typed_Unavailable_naming_the_endpoint_within_the_deadline()
    {
        var endpoint = ClosedEndpoint();
        var timeout = TimeSpan.FromSeconds(1);
        await using var client = KvClient.Connect([endpoint], new KvClientOptions { RequestTimeout = timeout, RandomSeed = 1 });

        var watch = Stopwatch.StartNew();
        var e = await Assert.ThrowsAsync<KvException>(() => client.GetAsync(Encoding.UTF8.GetBytes("k")));
        watch.Stop();

        Assert.Equal(KvErrorKind.Unavailable, e.Kind);
        Assert.Contains(endpoint, e.Message, StringComparison.Ordinal);
        Assert.Contains("last error", e.Message, StringComparison.Ordinal);
        // Bounded by the deadline (generous slack for a loaded machine; this is not a speed assertion).
        Assert.True(watch.Elapsed < timeout + TimeSpan.FromSeconds(10), $"took {watch.Elapsed}");
    }

    [Fact]
    public async Task Every_operation_reports_Unavailable_and_none_hangs()
    {
        await using var client = KvClient.Connect([ClosedEndpoint(), ClosedEndpoint()], new KvClientOptions { RequestTimeout = TimeSpan.FromMilliseconds(300) });
        Func<Task>[] operations =
        [
            () => client.GetClusterInfoAsync(),
            () => client.ListStoresAsync(),
            () => client.ListRangesAsync(),
            () => client.GetRangeAsync(1),
            () => client.PutAsync(new byte[] { 1 }, new byte[] { 2 }),
            () => client.DeleteAsync(new byte[] { 1 }),
            () => client.ScanAsync(default, default, 10, reverse: true),
            () => client.BootstrapAsync(),
            () => client.GetTimestampAsync(),
        ];
        foreach (var operation in operations)
        {
            var e = await Assert.ThrowsAsync<KvException>(operation);
            Assert.Equal(KvErrorKind.Unavailable, e.Kind);
        }

        Assert.Null(client.ClusterId);
    }

    [Fact]
    public async Task Cancellation_by_the_caller_is_OperationCanceled_not_Unavailable()
    {
        await using var client = KvClient.Connect([ClosedEndpoint()], new KvClientOptions { RequestTimeout = TimeSpan.FromSeconds(30) });
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => client.GetAsync(new byte[] { 1 }, cts.Token));
    }

    [Theory]
    [InlineData("")]
    [InlineData("localhost")]
    [InlineData("localhost:0")]
    [InlineData("localhost:99999")]
    [InlineData("host name:80")]
    [InlineData(":80")]
    public void Malformed_endpoints_are_refused_with_what_to_write_instead(string endpoint)
    {
        var e = Assert.Throws<ArgumentException>(() => KvClient.Connect([endpoint]));
        Assert.Contains("host:port", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Endpoints_are_normalized_and_deduplicated()
    {
        await using var client = KvClient.Connect(["http://127.0.0.1:5000/", "127.0.0.1:5000", " [::1]:6000 "]);
        Assert.Equal(["127.0.0.1:5000", "[::1]:6000"], client.Endpoints);
    }

    [Fact]
    public void Bad_options_and_arguments_are_refused()
    {
        Assert.Throws<ArgumentException>(() => KvClient.Connect([], null));
        Assert.Throws<ArgumentException>(() => KvClient.Connect(["a:1"], new KvClientOptions { RequestTimeout = TimeSpan.Zero }));
        Assert.Throws<ArgumentException>(() => KvClient.Connect(["a:1"], new KvClientOptions { BackoffBase = TimeSpan.FromSeconds(2), BackoffMax = TimeSpan.FromSeconds(1) }));
    }

    [Fact]
    public async Task Empty_keys_and_negative_limits_are_refused_before_any_rpc()
    {
        await using var client = KvClient.Connect([ClosedEndpoint()]);
        await Assert.ThrowsAsync<ArgumentException>(() => client.GetAsync(ReadOnlyMemory<byte>.Empty));
        await Assert.ThrowsAsync<ArgumentException>(() => client.PutAsync(ReadOnlyMemory<byte>.Empty, new byte[] { 1 }));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => client.ScanAsync(default, default, -1, false));
        Assert.Empty(await client.ScanAsync(new byte[] { 5 }, new byte[] { 5 }, 10, false)); // empty span: nothing to ask
    }

    [Fact]
    public async Task Dispose_is_idempotent_and_later_operations_are_refused()
    {
        var client = KvClient.Connect([ClosedEndpoint()]);
        await client.DisposeAsync();
        await client.DisposeAsync();
        await Assert.ThrowsAsync<ObjectDisposedException>(() => client.GetAsync(new byte[] { 1 }));
        await Assert.ThrowsAsync<ObjectDisposedException>(() => client.GetTimestampAsync());
    }

    /// <summary>
    /// Regression (seen once in the cluster bench): disposing the client while timestamp requests
    /// were in flight threw ObjectDisposedException for the client's internal CancellationTokenSource.
    /// </summary>
    [Fact]
    public async Task Disposing_while_timestamp_requests_are_in_flight_ends_them_cleanly()
    {
        var client = KvClient.Connect([ClosedEndpoint()], new KvClientOptions { RequestTimeout = TimeSpan.FromSeconds(30), RandomSeed = 3 });
        var calls = Enumerable.Range(0, 16).Select(_ => client.GetTimestampAsync()).ToArray();

        await client.DisposeAsync(); // must not throw
        var late = await Record.ExceptionAsync(() => client.GetTimestampAsync());
        Assert.IsType<ObjectDisposedException>(late);
        Assert.Equal(typeof(KvClient).FullName, ((ObjectDisposedException)late).ObjectName);

        foreach (var call in calls)
        {
            var e = await Record.ExceptionAsync(() => call.WaitAsync(TimeSpan.FromSeconds(20)));
            Assert.NotNull(e);
            Assert.IsNotType<TimeoutException>(e);
            Assert.False(e is ObjectDisposedException { ObjectName: var name } && name.Contains("CancellationTokenSource", StringComparison.Ordinal), e.ToString());
        }
    }
}

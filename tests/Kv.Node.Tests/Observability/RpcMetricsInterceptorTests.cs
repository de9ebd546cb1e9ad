using Grpc.Core;
using Kv.Node.Server.Observability;

namespace Kv.Node.Tests.Observability;

/// <summary>
/// The RPC interceptor called directly, as Grpc.AspNetCore would call it, for each call shape:
/// what it counts, under which status code, and that it passes results and exceptions through.
/// </summary>
public sealed class RpcMetricsInterceptorTests
{
    private const string Get = "/kv.v1.RawKv/Get";

    private readonly NodeMetrics metrics = new();

    private RpcMetricsInterceptor Interceptor => new(metrics.Rpc);

    private static string Handled(string method, string type, string code) =>
        $"kv_rpc_server_handled_total{{service=\"kv.v1.RawKv\",method=\"{method}\",type=\"{type}\",code=\"{code}\"}}";

    private static string Latency(string method, string type) =>
        $"kv_rpc_server_handling_seconds_count{{service=\"kv.v1.RawKv\",method=\"{method}\",type=\"{type}\"}}";

    private static string Started(string method, string type) =>
        $"kv_rpc_server_started_total{{service=\"kv.v1.RawKv\",method=\"{method}\",type=\"{type}\"}}";

    [Fact]
    public async Task A_unary_call_that_returns_is_counted_OK_with_its_latency_and_its_response_passes_through()
    {
        var response = await Interceptor.UnaryServerHandler("req", new TestServerCallContext(Get), (string r, ServerCallContext _) => Task.FromResult(r + "-answered"));

        Assert.Equal("req-answered", response);
        var s = await MetricsText.CollectAsync(metrics.Registry);
        Assert.Equal(1, s.Value(Started("Get", "unary")));
        Assert.Equal(1, s.Value(Handled("Get", "unary", "OK")));
        Assert.Equal(1, s.Value(Latency("Get", "unary")));
    }

    [Fact]
    public async Task A_handler_that_throws_RpcException_NotFound_is_counted_NotFound_not_OK_and_the_exception_reaches_the_server()
    {
        var thrown = new RpcException(new Status(StatusCode.NotFound, "no such range"));

        var e = await Assert.ThrowsAsync<RpcException>(() => Interceptor.UnaryServerHandler<string, string>("req", new TestServerCallContext(Get), (_, _) => throw thrown));

        Assert.Same(thrown, e);
        var s = await MetricsText.CollectAsync(metrics.Registry);
        Assert.Equal(1, s.Value(Handled("Get", "unary", "NotFound")));
        Assert.Equal(0, s.Value(Handled("Get", "unary", "OK")));
        Assert.False(s.ContainsKey(Handled("Get", "unary", "OK")), "no OK series is made for a call that failed");
        Assert.Equal(1, s.Value(Latency("Get", "unary")));
    }

    [Fact]
    public async Task A_status_the_handler_sets_on_the_context_is_the_calls_code()
    {
        var context = new TestServerCallContext(Get);

        await Interceptor.UnaryServerHandler("req", context, (string r, ServerCallContext c) =>
        {
            c.Status = new Status(StatusCode.PermissionDenied, "not for this role");
            return Task.FromResult(r);
        });

        var s = await MetricsText.CollectAsync(metrics.Registry);
        Assert.Equal(1, s.Value(Handled("Get", "unary", "PermissionDenied")));
    }

    [Fact]
    public async Task Other_exceptions_are_Unknown_as_Grpc_AspNetCore_sends_them_and_cancellation_is_DeadlineExceeded_or_Cancelled()
    {
        await Assert.ThrowsAsync<InvalidOperationException>(() =>
            Interceptor.UnaryServerHandler<string, string>("req", new TestServerCallContext(Get), (_, _) => throw new InvalidOperationException("bug")));

        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();
        var pastDeadline = new TestServerCallContext(Get, DateTime.UtcNow.AddSeconds(-1), cancelled.Token);
        await Assert.ThrowsAsync<OperationCanceledException>(() =>
            Interceptor.UnaryServerHandler<string, string>("req", pastDeadline, (_, c) => throw new OperationCanceledException(c.CancellationToken)));
        var clientLeft = new TestServerCallContext(Get, DateTime.MaxValue, cancelled.Token);
        await Assert.ThrowsAsync<TaskCanceledException>(() =>
            Interceptor.UnaryServerHandler<string, string>("req", clientLeft, (_, c) => throw new TaskCanceledException()));
        // Not cancelled: a handler's own OperationCanceledException is a handler failure.
        await Assert.ThrowsAsync<OperationCanceledException>(() =>
            Interceptor.UnaryServerHandler<string, string>("req", new TestServerCallContext(Get), (_, _) => throw new OperationCanceledException()));

        var s = await MetricsText.CollectAsync(metrics.Registry);
        Assert.Equal(2, s.Value(Handled("Get", "unary", "Unknown")));
        Assert.Equal(1, s.Value(Handled("Get", "unary", "DeadlineExceeded")));
        Assert.Equal(1, s.Value(Handled("Get", "unary", "Cancelled")));
        Assert.Equal(4, s.Value(Started("Get", "unary")));
    }

    [Fact]
    public async Task Each_streaming_shape_is_counted_under_its_type_with_its_status()
    {
        // The interceptor never touches the streams; the continuations here ignore them too.
        var interceptor = Interceptor;
        var sum = await interceptor.ClientStreamingServerHandler<string, string>(null!, new TestServerCallContext("/kv.v1.RawKv/Upload"), (_, _) => Task.FromResult("done"));
        Assert.Equal("done", sum);
        await Assert.ThrowsAsync<RpcException>(() => interceptor.ClientStreamingServerHandler<string, string>(null!, new TestServerCallContext("/kv.v1.RawKv/Upload"),
            (_, _) => throw new RpcException(new Status(StatusCode.ResourceExhausted, "too big"))));

        var wrote = false;
        await interceptor.ServerStreamingServerHandler<string, string>("req", null!, new TestServerCallContext("/kv.v1.RawKv/Watch"), (_, _, _) =>
        {
            wrote = true;
            return Task.CompletedTask;
        });
        Assert.True(wrote);
        await Assert.ThrowsAsync<RpcException>(() => interceptor.ServerStreamingServerHandler<string, string>("req", null!, new TestServerCallContext("/kv.v1.RawKv/Watch"),
            (_, _, _) => throw new RpcException(new Status(StatusCode.Unavailable, "leader moved"))));

        await interceptor.DuplexStreamingServerHandler<string, string>(null!, null!, new TestServerCallContext("/kv.v1.RawKv/Chat"), (_, _, _) => Task.CompletedTask);
        await Assert.ThrowsAsync<InvalidDataException>(() => interceptor.DuplexStreamingServerHandler<string, string>(null!, null!, new TestServerCallContext("/kv.v1.RawKv/Chat"),
            (_, _, _) => throw new InvalidDataException("bad frame")));

        var s = await MetricsText.CollectAsync(metrics.Registry);
        Assert.Equal(1, s.Value(Handled("Upload", "client_stream", "OK")));
        Assert.Equal(1, s.Value(Handled("Upload", "client_stream", "ResourceExhausted")));
        Assert.Equal(1, s.Value(Handled("Watch", "server_stream", "OK")));
        Assert.Equal(1, s.Value(Handled("Watch", "server_stream", "Unavailable")));
        Assert.Equal(1, s.Value(Handled("Chat", "bidi_stream", "OK")));
        Assert.Equal(1, s.Value(Handled("Chat", "bidi_stream", "Unknown")));
        Assert.Equal(2, s.Value(Latency("Chat", "bidi_stream")));
    }

    [Fact]
    public async Task Spellings_of_one_method_that_routing_matches_share_one_series()
    {
        await Interceptor.UnaryServerHandler("req", new TestServerCallContext(Get), (string r, ServerCallContext _) => Task.FromResult(r));
        await Interceptor.UnaryServerHandler("req", new TestServerCallContext("/KV.V1.RAWKV/GET"), (string r, ServerCallContext _) => Task.FromResult(r));

        var s = await MetricsText.CollectAsync(metrics.Registry);
        Assert.Equal(2, s.Value(Handled("Get", "unary", "OK")));
        Assert.DoesNotContain(s.Keys, k => k.Contains("GET", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Two_nodes_in_one_process_keep_separate_series()
    {
        var other = new NodeMetrics();
        await new RpcMetricsInterceptor(other.Rpc).UnaryServerHandler("req", new TestServerCallContext(Get), (string r, ServerCallContext _) => Task.FromResult(r));

        Assert.Equal(1, (await MetricsText.CollectAsync(other.Registry)).Value(Handled("Get", "unary", "OK")));
        Assert.Equal(0, (await MetricsText.CollectAsync(metrics.Registry)).Value(Handled("Get", "unary", "OK")));
    }
}

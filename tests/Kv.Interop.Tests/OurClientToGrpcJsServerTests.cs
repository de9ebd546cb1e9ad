using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using Kv.Client.Transport;
using Kv.Proto.V1;

namespace Kv.Interop.Tests;

/// <summary>Our client (Grpc.Net.Client with our channel settings) calls a standard gRPC server (grpc-js).</summary>
public sealed class OurClientToGrpcJsServerTests : IClassFixture<GrpcJsServerFixture>, IDisposable
{
    private readonly GrpcJsServerFixture _server;
    private readonly GrpcChannel _channel;
    private readonly Echo.EchoClient _client;

    public OurClientToGrpcJsServerTests(GrpcJsServerFixture server)
    {
        _server = server;
        _channel = KvChannels.Create(server.Address);
        _client = new Echo.EchoClient(_channel);
    }

    public void Dispose() => _channel.Dispose();

    [Fact]
    public async Task Unary()
    {
        var response = await _client.UnaryAsync(new EchoRequest { Message = "hello from kv", Payload = ByteString.CopyFromUtf8("abc") });

        Assert.Equal("hello from kv", response.Message);
        Assert.Equal("abc", response.Payload.ToStringUtf8());
    }

    [Fact]
    public async Task Server_streaming()
    {
        using var call = _client.ServerStream(new EchoRequest { Count = 5, ResponseSize = 10 });

        var indexes = new List<long>();
        await foreach (var response in call.ResponseStream.ReadAllAsync())
        {
            indexes.Add(response.Index);
        }

        Assert.Equal([0L, 1, 2, 3, 4], indexes);
        Assert.Equal(StatusCode.OK, call.GetStatus().StatusCode);
    }

    [Fact]
    public async Task Client_streaming()
    {
        using var call = _client.ClientStream();
        for (var i = 0; i < 10; i++)
        {
            await call.RequestStream.WriteAsync(new EchoRequest { Payload = ByteString.CopyFrom(new byte[i]) });
        }

        await call.RequestStream.CompleteAsync();
        var response = await call;

        Assert.Equal(10, response.Count);
        Assert.Equal(45, response.TotalBytes);
    }

    [Fact]
    public async Task Bidirectional_streaming()
    {
        using var call = _client.Bidi();
        for (var i = 0; i < 5; i++)
        {
            await call.RequestStream.WriteAsync(new EchoRequest { Message = $"m{i}" });
            Assert.True(await call.ResponseStream.MoveNext());
            Assert.Equal($"m{i}", call.ResponseStream.Current.Message);
        }

        await call.RequestStream.CompleteAsync();
        Assert.False(await call.ResponseStream.MoveNext());
        Assert.Equal(StatusCode.OK, call.GetStatus().StatusCode);
    }

    [Fact]
    public async Task Error_status_with_a_non_ASCII_message()
    {
        const string message = "räksmörgås 100% ✓ 日本";

        var ex = await Assert.ThrowsAsync<RpcException>(() =>
            _client.UnaryAsync(new EchoRequest { FailCode = (int)StatusCode.FailedPrecondition, FailMessage = message }).ResponseAsync);

        Assert.Equal(StatusCode.FailedPrecondition, ex.StatusCode);
        Assert.Equal(message, ex.Status.Detail);
    }

    [Fact]
    public async Task Error_in_the_middle_of_a_client_stream()
    {
        using var call = _client.ClientStream();
        await call.RequestStream.WriteAsync(new EchoRequest { Payload = ByteString.CopyFromUtf8("x") });
        await call.RequestStream.WriteAsync(new EchoRequest { FailCode = (int)StatusCode.InvalidArgument, FailMessage = "bad request #2" });

        var ex = await Assert.ThrowsAsync<RpcException>(() => call.ResponseAsync);

        Assert.Equal(StatusCode.InvalidArgument, ex.StatusCode);
        Assert.Equal("bad request #2", ex.Status.Detail);
    }

    [Fact]
    public async Task Deadline_exceeded_reaches_the_grpc_js_handler()
    {
        var tag = Guid.NewGuid().ToString();
        await _client.UnaryAsync(new EchoRequest());   // connect first: the deadline is for the handler

        var ex = await Assert.ThrowsAsync<RpcException>(() =>
            _client.UnaryAsync(new EchoRequest { DelayMs = -1, Tag = tag }, deadline: DateTime.UtcNow.AddMilliseconds(300)).ResponseAsync);

        Assert.Equal(StatusCode.DeadlineExceeded, ex.StatusCode);
        Assert.Equal("cancelled", await _server.CallEndedAsync(tag));
    }

    [Fact]
    public async Task Cancellation_reaches_the_grpc_js_handler()
    {
        var tag = Guid.NewGuid().ToString();
        using var cts = new CancellationTokenSource();
        using var call = _client.ServerStream(new EchoRequest { Count = 0, Tag = tag }, cancellationToken: cts.Token);
        Assert.True(await call.ResponseStream.MoveNext());

        await cts.CancelAsync();

        Assert.Equal("cancelled", await _server.CallEndedAsync(tag));
        var ex = await Assert.ThrowsAsync<RpcException>(async () =>
        {
            while (await call.ResponseStream.MoveNext())
            {
            }
        });
        Assert.Equal(StatusCode.Cancelled, ex.StatusCode);
    }

    [Fact]
    public async Task Request_just_under_the_grpc_js_limit_is_accepted()
    {
        var payload = ByteString.CopyFrom(new byte[GrpcJsServerFixture.MaxReceive - 16]);

        var response = await _client.UnaryAsync(new EchoRequest { Payload = payload });

        Assert.Equal(payload.Length, response.Payload.Length);
    }

    [Fact]
    public async Task Request_over_the_grpc_js_limit_is_RESOURCE_EXHAUSTED()
    {
        var ex = await Assert.ThrowsAsync<RpcException>(() =>
            _client.UnaryAsync(new EchoRequest { Payload = ByteString.CopyFrom(new byte[GrpcJsServerFixture.MaxReceive + 1]) }).ResponseAsync);

        Assert.Equal(StatusCode.ResourceExhausted, ex.StatusCode);
    }

    [Fact]
    public async Task Response_near_and_over_our_limit()
    {
        using var channel = KvChannels.Create(_server.Address, new KvChannelOptions { MaxReceiveMessageSize = 2 * 1024 * 1024 });
        var client = new Echo.EchoClient(channel);

        var near = await client.UnaryAsync(new EchoRequest { ResponseSize = (2 * 1024 * 1024) - 16 });
        var ex = await Assert.ThrowsAsync<RpcException>(() => client.UnaryAsync(new EchoRequest { ResponseSize = (2 * 1024 * 1024) + 1 }).ResponseAsync);

        Assert.Equal((2 * 1024 * 1024) - 16, near.Payload.Length);
        Assert.Equal(StatusCode.ResourceExhausted, ex.StatusCode);
    }

    [Fact]
    public async Task Many_concurrent_calls()
    {
        var calls = Enumerable.Range(0, 500)
            .Select(i => _client.UnaryAsync(new EchoRequest { Message = i.ToString(System.Globalization.CultureInfo.InvariantCulture) }).ResponseAsync)
            .ToArray();

        var responses = await Task.WhenAll(calls);

        Assert.All(Enumerable.Range(0, 500), i => Assert.Equal(i.ToString(System.Globalization.CultureInfo.InvariantCulture), responses[i].Message));
    }

    [Fact]
    public async Task Unknown_method_is_UNIMPLEMENTED()
    {
        var missing = new Method<EchoRequest, EchoResponse>(MethodType.Unary, "kv.v1.Echo", "NoSuchMethod",
            Marshallers.Create(m => m.ToByteArray(), EchoRequest.Parser.ParseFrom), Marshallers.Create(m => m.ToByteArray(), EchoResponse.Parser.ParseFrom));

        var ex = await Assert.ThrowsAsync<RpcException>(() => _channel.CreateCallInvoker().AsyncUnaryCall(missing, null, default, new EchoRequest()).ResponseAsync);

        Assert.Equal(StatusCode.Unimplemented, ex.StatusCode);
    }
}

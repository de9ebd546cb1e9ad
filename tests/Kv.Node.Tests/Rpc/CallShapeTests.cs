using Google.Protobuf;
using Grpc.Core;
using Kv.Proto.V1;

namespace Kv.Node.Tests.Rpc;

/// <summary>Grpc.Net.Client against the node's Grpc.AspNetCore server: the four call shapes and metadata.</summary>
public sealed class CallShapeTests(EchoServerFixture server) : IClassFixture<EchoServerFixture>
{
    [Fact]
    public async Task Unary_echoes_payload_and_message()
    {
        var response = await server.Client.UnaryAsync(new EchoRequest { Message = "hello", Payload = ByteString.CopyFromUtf8("abc") });

        Assert.Equal("hello", response.Message);
        Assert.Equal("abc", response.Payload.ToStringUtf8());
    }

    [Fact]
    public async Task Server_streaming_delivers_every_message_in_order_then_OK()
    {
        using var call = server.Client.ServerStream(new EchoRequest { Count = 5, ResponseSize = 10 });

        var indexes = new List<long>();
        await foreach (var response in call.ResponseStream.ReadAllAsync())
        {
            Assert.Equal(10, response.Payload.Length);
            indexes.Add(response.Index);
        }

        Assert.Equal([0L, 1, 2, 3, 4], indexes);
        Assert.Equal(StatusCode.OK, call.GetStatus().StatusCode);
    }

    [Fact]
    public async Task Server_streaming_error_before_any_message_arrives_as_trailers_only_status()
    {
        using var call = server.Client.ServerStream(new EchoRequest { FailCode = (int)StatusCode.NotFound, FailMessage = "nothing here" });

        var ex = await Assert.ThrowsAsync<RpcException>(async () => await call.ResponseStream.MoveNext());

        Assert.Equal(StatusCode.NotFound, ex.StatusCode);
        Assert.Equal("nothing here", ex.Status.Detail);
    }

    [Fact]
    public async Task Client_streaming_counts_every_request()
    {
        using var call = server.Client.ClientStream();
        for (var i = 0; i < 10; i++)
        {
            await call.RequestStream.WriteAsync(new EchoRequest { Payload = ByteString.CopyFrom(new byte[i]) });
        }

        await call.RequestStream.CompleteAsync();
        var response = await call;

        Assert.Equal(10, response.Count);
        Assert.Equal(45, response.TotalBytes);
        Assert.Equal(StatusCode.OK, call.GetStatus().StatusCode);
    }

    [Fact]
    public async Task Bidi_answers_each_request_before_the_next_is_sent()
    {
        using var call = server.Client.Bidi();
        for (var i = 0; i < 5; i++)
        {
            await call.RequestStream.WriteAsync(new EchoRequest { Message = $"m{i}" });
            Assert.True(await call.ResponseStream.MoveNext());
            Assert.Equal($"m{i}", call.ResponseStream.Current.Message);
            Assert.Equal(i, call.ResponseStream.Current.Index);
        }

        await call.RequestStream.CompleteAsync();
        Assert.False(await call.ResponseStream.MoveNext());
        Assert.Equal(StatusCode.OK, call.GetStatus().StatusCode);
    }

    [Fact]
    public async Task Headers_and_trailers_carry_custom_metadata_both_ways()
    {
        var headers = new Metadata { { "x-echo", "ping" }, { "x-data-bin", new byte[] { 0, 1, 255 } } };
        using var call = server.Invoker.AsyncUnaryCall(FaultyService.MetadataMethod, null, new CallOptions(headers: headers), new EchoRequest { Message = "x" });

        await call;

        var responseHeaders = await call.ResponseHeadersAsync;
        Assert.Equal("h1", responseHeaders.GetValue("x-header"));
        Assert.Equal("ping", call.GetTrailers().GetValue("x-trailer"));
        Assert.Equal(new byte[] { 0, 1, 255 }, call.GetTrailers().GetValueBytes("x-data-bin"));
    }

    [Fact]
    public async Task Many_concurrent_unary_calls_share_the_channel()
    {
        var calls = Enumerable.Range(0, 500)
            .Select(i => server.Client.UnaryAsync(new EchoRequest { Message = i.ToString(System.Globalization.CultureInfo.InvariantCulture) }).ResponseAsync)
            .ToArray();

        var responses = await Task.WhenAll(calls);

        for (var i = 0; i < responses.Length; i++)
        {
            Assert.Equal(i.ToString(System.Globalization.CultureInfo.InvariantCulture), responses[i].Message);
        }
    }
}

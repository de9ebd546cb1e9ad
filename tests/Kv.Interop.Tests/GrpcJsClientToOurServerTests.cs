using System.Text.Json;
using Grpc.Core;

namespace Kv.Interop.Tests;

/// <summary>A standard gRPC client (grpc-js) calls the node's Grpc.AspNetCore server.</summary>
public sealed class GrpcJsClientToOurServerTests(OurServerFixture server) : IClassFixture<OurServerFixture>
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task Unary()
    {
        var result = await NodePeer.RunClientAsync(server.Target, "unary");

        Assert.Equal("hello from grpc-js", result.GetProperty("message").GetString());
        Assert.Equal("abc", result.GetProperty("payload").GetString());
    }

    [Fact]
    public async Task Server_streaming()
    {
        var result = await NodePeer.RunClientAsync(server.Target, "server-stream");

        Assert.Equal([0, 1, 2, 3, 4], Ints(result.GetProperty("indexes")));
        Assert.Equal([10, 10, 10, 10, 10], Ints(result.GetProperty("sizes")));
        Assert.Equal(0, result.GetProperty("status").GetInt32());
    }

    [Fact]
    public async Task Client_streaming()
    {
        var result = await NodePeer.RunClientAsync(server.Target, "client-stream");

        Assert.Equal(10, result.GetProperty("count").GetInt32());
        Assert.Equal(45, result.GetProperty("totalBytes").GetInt32());
    }

    [Fact]
    public async Task Bidirectional_streaming()
    {
        var result = await NodePeer.RunClientAsync(server.Target, "bidi");

        var replies = result.GetProperty("replies").EnumerateArray().ToArray();
        Assert.Equal(5, replies.Length);
        for (var i = 0; i < replies.Length; i++)
        {
            Assert.Equal($"m{i}", replies[i].GetProperty("message").GetString());
            Assert.Equal(i, replies[i].GetProperty("index").GetInt32());
        }

        Assert.Equal(0, result.GetProperty("status").GetInt32());
    }

    [Fact]
    public async Task Error_status_with_a_non_ASCII_message()
    {
        var result = await NodePeer.RunClientAsync(server.Target, "error");

        Assert.Equal((int)StatusCode.FailedPrecondition, result.GetProperty("code").GetInt32());
        Assert.Equal("räksmörgås 100% ✓ 日本", result.GetProperty("details").GetString());
    }

    [Fact]
    public async Task Deadline_exceeded_reaches_our_handler()
    {
        var tag = Guid.NewGuid().ToString();

        var result = await NodePeer.RunClientAsync(server.Target, "deadline", "--arg", "300", "--tag", tag);

        Assert.Equal((int)StatusCode.DeadlineExceeded, result.GetProperty("code").GetInt32());
        Assert.Contains(await server.Echo.CallEnded(tag).WaitAsync(Patience), new[] { StatusCode.DeadlineExceeded, StatusCode.Cancelled });
    }

    [Fact]
    public async Task Cancellation_reaches_our_handler()
    {
        var tag = Guid.NewGuid().ToString();

        var result = await NodePeer.RunClientAsync(server.Target, "cancel", "--tag", tag);

        Assert.Equal((int)StatusCode.Cancelled, result.GetProperty("code").GetInt32());
        Assert.Equal(1, result.GetProperty("received").GetInt32());
        Assert.Equal(StatusCode.Cancelled, await server.Echo.CallEnded(tag).WaitAsync(Patience));
    }

    [Fact]
    public async Task Request_just_under_our_limit_is_accepted()
    {
        var size = OurServerFixture.MaxReceive - 16;

        var result = await NodePeer.RunClientAsync(server.Target, "large", "--arg", size.ToString(System.Globalization.CultureInfo.InvariantCulture));

        Assert.Equal(size, result.GetProperty("length").GetInt32());
    }

    [Fact]
    public async Task Request_over_our_limit_is_RESOURCE_EXHAUSTED()
    {
        var size = OurServerFixture.MaxReceive + 1;

        var result = await NodePeer.RunClientAsync(server.Target, "large", "--arg", size.ToString(System.Globalization.CultureInfo.InvariantCulture));

        Assert.Equal((int)StatusCode.ResourceExhausted, result.GetProperty("code").GetInt32());
    }

    [Fact]
    public async Task Large_response()
    {
        var result = await NodePeer.RunClientAsync(server.Target, "large-response", "--arg", "4000000");

        Assert.Equal(4_000_000, result.GetProperty("length").GetInt32());
    }

    [Fact]
    public async Task Many_concurrent_calls()
    {
        var result = await NodePeer.RunClientAsync(server.Target, "concurrent", "--arg", "300");

        Assert.Equal(300, result.GetProperty("correct").GetInt32());
    }

    [Fact]
    public async Task Unknown_method_is_UNIMPLEMENTED()
    {
        var result = await NodePeer.RunClientAsync(server.Target, "unimplemented");

        Assert.Equal((int)StatusCode.Unimplemented, result.GetProperty("code").GetInt32());
    }

    private static int[] Ints(JsonElement array) => array.EnumerateArray().Select(e => e.GetInt32()).ToArray();
}

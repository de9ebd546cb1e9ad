using System.Net;
using Google.Protobuf;
using Grpc.Core;
using Kv.Proto.V1;

namespace Kv.Node.Tests.Rpc;

/// <summary>
/// Bad input against our server: every case gets the right status (or a closed stream or
/// connection), and afterwards the server still serves a well-behaved client.
/// </summary>
public sealed class RobustnessTests(EchoServerFixture server) : IClassFixture<EchoServerFixture>
{
    private const string Unary = "/kv.v1.Echo/Unary";
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30); // bounds waits on conditions; passing runs take milliseconds

    private static byte[] ValidRequest => new EchoRequest { Message = "m" }.ToByteArray();

    [Fact]
    public async Task Length_prefix_beyond_the_limit_is_RESOURCE_EXHAUSTED_without_reading_the_message()
    {
        var response = await RawGrpc.PostAsync(server.Server.Address, Unary, RawGrpc.Frame([1, 2, 3], declaredLength: EchoServerFixture.MaxReceive + 1));

        Assert.Equal(HttpStatusCode.OK, response.HttpStatus);
        Assert.Equal(((int)StatusCode.ResourceExhausted).ToString(System.Globalization.CultureInfo.InvariantCulture), response.GrpcStatus);
        await AssertStillServingAsync();
    }

    [Fact]
    public async Task Length_prefix_beyond_any_message_size_is_refused()
    {
        var response = await RawGrpc.PostAsync(server.Server.Address, Unary, RawGrpc.Frame([1, 2, 3], declaredLength: uint.MaxValue));

        // Changed with the move to Grpc.AspNetCore: the old stack answered RESOURCE_EXHAUSTED for
        // every prefix over the limit; Grpc.AspNetCore refuses a prefix above int.MaxValue (no
        // message can be that long) as a malformed frame, UNKNOWN. Still refused, nothing read.
        Assert.Equal(HttpStatusCode.OK, response.HttpStatus);
        Assert.Equal(((int)StatusCode.Unknown).ToString(System.Globalization.CultureInfo.InvariantCulture), response.GrpcStatus);
        await AssertStillServingAsync();
    }

    [Fact]
    public async Task Message_shorter_than_its_prefix_is_INTERNAL()
    {
        var response = await RawGrpc.PostAsync(server.Server.Address, Unary, RawGrpc.Frame(ValidRequest, declaredLength: 100));

        Assert.Equal("13", response.GrpcStatus);
        // Grpc.AspNetCore's words (the old stack said "ended inside a message").
        Assert.Equal("Incomplete message.", response.GrpcMessage);
        await AssertStillServingAsync();
    }

    [Fact]
    public async Task Truncated_prefix_is_INTERNAL()
    {
        var response = await RawGrpc.PostAsync(server.Server.Address, Unary, [0, 0, 0]);

        Assert.Equal("13", response.GrpcStatus);
        await AssertStillServingAsync();
    }

    [Fact]
    public async Task Empty_body_for_a_unary_method_is_INTERNAL()
    {
        var response = await RawGrpc.PostAsync(server.Server.Address, Unary, []);

        Assert.Equal("13", response.GrpcStatus);
        // Grpc.AspNetCore's words (the old stack said "without a message").
        Assert.Equal("Incomplete message.", response.GrpcMessage);
        await AssertStillServingAsync();
    }

    [Fact]
    public async Task Two_messages_for_a_unary_method_is_INTERNAL()
    {
        var frame = RawGrpc.Frame(ValidRequest);

        var response = await RawGrpc.PostAsync(server.Server.Address, Unary, [.. frame, .. frame]);

        Assert.Equal("13", response.GrpcStatus);
        await AssertStillServingAsync();
    }

    [Fact]
    public async Task Bytes_that_are_not_protobuf_are_INTERNAL()
    {
        var response = await RawGrpc.PostAsync(server.Server.Address, Unary, RawGrpc.Frame([0xFF, 0xFF, 0xFF, 0xFF, 0xFF]));

        Assert.Equal("13", response.GrpcStatus);
        Assert.Contains("deserialize", response.GrpcMessage, StringComparison.Ordinal);
        Assert.Contains("kv.v1.EchoRequest", response.GrpcMessage, StringComparison.Ordinal);
        await AssertStillServingAsync();
    }

    [Fact]
    public async Task Bytes_that_are_not_protobuf_in_a_request_stream_are_INTERNAL()
    {
        // A streaming request is parsed in the handler's read, not before the call as a unary one:
        // the refusal must be the same on both paths.
        var tag = Guid.NewGuid().ToString();
        var body = RawGrpc.Frame(new EchoRequest { Tag = tag }.ToByteArray()).Concat(RawGrpc.Frame([0xFF, 0xFF, 0xFF, 0xFF, 0xFF])).ToArray();

        var response = await RawGrpc.PostAsync(server.Server.Address, "/kv.v1.Echo/ClientStream", body);

        Assert.Equal("13", response.GrpcStatus);
        Assert.Contains("deserialize", response.GrpcMessage, StringComparison.Ordinal);
        Assert.Equal(StatusCode.Internal, await server.Echo.CallEnded(tag).WaitAsync(Patience));
        await AssertStillServingAsync();
    }

    [Fact]
    public async Task Compressed_message_without_a_supported_encoding_is_UNIMPLEMENTED()
    {
        // Grpc.AspNetCore supports gzip and deflate (the old stack supported none, and this test
        // sent gzip); snappy is one it does not support.
        var response = await RawGrpc.PostAsync(server.Server.Address, Unary, RawGrpc.Frame(ValidRequest, flag: 1),
            headers: [new("grpc-encoding", "snappy")]);

        Assert.Equal("12", response.GrpcStatus);
        await AssertStillServingAsync();
    }

    [Fact]
    public async Task Invalid_compressed_flag_is_refused()
    {
        var response = await RawGrpc.PostAsync(server.Server.Address, Unary, RawGrpc.Frame(ValidRequest, flag: 7));

        // Changed with the move to Grpc.AspNetCore: INTERNAL before, UNKNOWN now (its frame reader
        // throws InvalidDataException, reported like a handler exception). Still refused.
        Assert.Equal("2", response.GrpcStatus);
        await AssertStillServingAsync();
    }

    [Fact]
    public async Task Wrong_content_type_is_HTTP_415()
    {
        var response = await RawGrpc.PostAsync(server.Server.Address, Unary, RawGrpc.Frame(ValidRequest), contentType: "application/json");

        Assert.Equal(HttpStatusCode.UnsupportedMediaType, response.HttpStatus);
        // Grpc.AspNetCore also names the reason in grpc-status/grpc-message (the old stack sent none).
        Assert.Equal("13", response.GrpcStatus);
        Assert.Contains("application/json", response.GrpcMessage, StringComparison.Ordinal);
        await AssertStillServingAsync();
    }

    [Fact]
    public async Task Content_type_with_a_suffix_is_accepted()
    {
        var response = await RawGrpc.PostAsync(server.Server.Address, Unary, RawGrpc.Frame(ValidRequest), contentType: "application/grpc+proto");

        Assert.Equal("0", response.GrpcStatus);
    }

    [Fact]
    public async Task GET_is_HTTP_404()
    {
        var response = await RawGrpc.PostAsync(server.Server.Address, Unary, [], method: HttpMethod.Get);

        // Changed with the move to Grpc.AspNetCore: 405 before; gRPC endpoints are routes for POST
        // only, so endpoint routing finds no endpoint for a GET and answers 404. Never a gRPC call.
        Assert.Equal(HttpStatusCode.NotFound, response.HttpStatus);
        Assert.Null(response.GrpcStatus);
        await AssertStillServingAsync();
    }

    [Theory]
    [InlineData("soon")]
    [InlineData("1")]
    [InlineData("123456789S")] // 9 digits: Grpc.AspNetCore alone would take it
    [InlineData("10x")]
    [InlineData("-1S")]
    public async Task Malformed_grpc_timeout_is_INTERNAL(string timeout)
    {
        var tag = Guid.NewGuid().ToString();
        var request = new EchoRequest { Message = "m", Tag = tag }.ToByteArray();

        var response = await RawGrpc.PostAsync(server.Server.Address, Unary, RawGrpc.Frame(request), headers: [new("grpc-timeout", timeout)]);

        Assert.Equal("13", response.GrpcStatus);
        Assert.Contains("grpc-timeout", response.GrpcMessage, StringComparison.Ordinal);
        Assert.False(server.Echo.CallStarted(tag).IsCompleted, "the handler ran");
        await AssertStillServingAsync();
    }

    [Fact]
    public async Task Well_formed_grpc_timeout_of_8_digits_is_served()
    {
        var response = await RawGrpc.PostAsync(server.Server.Address, Unary, RawGrpc.Frame(ValidRequest), headers: [new("grpc-timeout", "99999999m")]);

        Assert.Equal("0", response.GrpcStatus);
    }

    [Fact]
    public async Task Server_enforces_grpc_timeout_on_its_own()
    {
        // No client-side timer here: only the server's grpc-timeout handling can end this call.
        var tag = Guid.NewGuid().ToString();
        var request = new EchoRequest { DelayMs = -1, Tag = tag }.ToByteArray();

        var response = await RawGrpc.PostAsync(server.Server.Address, Unary, RawGrpc.Frame(request), headers: [new("grpc-timeout", "200m")]);

        Assert.Equal("4", response.GrpcStatus);
        Assert.Equal(StatusCode.DeadlineExceeded, await server.Echo.CallEnded(tag).WaitAsync(Patience));
    }

    [Fact]
    public async Task HTTP_1_1_on_the_cleartext_HTTP_2_endpoint_is_refused()
    {
        using var client = new HttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(server.Server.Address, Unary))
        {
            Version = HttpVersion.Version11,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = new ByteArrayContent(RawGrpc.Frame(ValidRequest)),
        };
        request.Content.Headers.TryAddWithoutValidation("Content-Type", "application/grpc");

        // Kestrel answers an HTTP/1.x request on an HTTP/2-only endpoint with a 400-class
        // response or closes the connection; either way, never a gRPC success.
        HttpStatusCode? status = null;
        try
        {
            using var response = await client.SendAsync(request);
            status = response.StatusCode;
        }
        catch (HttpRequestException)
        {
            status = null;
        }

        Assert.NotEqual(HttpStatusCode.OK, status);
        await AssertStillServingAsync();
    }

    [Fact]
    public async Task Garbage_bytes_on_the_socket_close_the_connection()
    {
        await using var raw = await RawHttp2Connection.ConnectAsync(server.Server.Address);

        // Seeded random bytes: reproducible garbage. (Kestrel waits for a line end before it
        // decides whether a short, newline-free blob is an HTTP/1.x request line.)
        var garbage = new byte[20_000];
        new Random(42).NextBytes(garbage);
        await raw.WriteRawAsync(garbage);

        Assert.True(await raw.ClosedByPeerAsync(Patience));
        await AssertStillServingAsync();
    }

    [Fact]
    public async Task Garbage_frames_after_a_valid_preface_end_with_GOAWAY()
    {
        await using var raw = await RawHttp2Connection.ConnectAsync(server.Server.Address);
        await raw.HandshakeAsync();

        // A DATA frame on stream 0 is a connection error (RFC 9113 6.1).
        await raw.WriteFrameAsync(RawHttp2Connection.Data, 0, 0, [1, 2, 3]);

        var goAway = await raw.ReadUntilAsync((type, _) => type == RawHttp2Connection.GoAway, Patience);
        Assert.True(goAway is null || goAway.Value.Type == RawHttp2Connection.GoAway);
        await AssertStillServingAsync();
    }

    [Fact]
    public async Task Invalid_header_block_ends_the_connection()
    {
        await using var raw = await RawHttp2Connection.ConnectAsync(server.Server.Address);
        await raw.HandshakeAsync();

        // 0xFF 0xFF... is an indexed header field far beyond any table: a COMPRESSION_ERROR.
        await raw.WriteFrameAsync(RawHttp2Connection.Headers, RawHttp2Connection.EndHeaders | RawHttp2Connection.EndStream, 1, [0xFF, 0xFF, 0xFF, 0xFF, 0x0F]);

        var goAway = await raw.ReadUntilAsync((type, _) => type == RawHttp2Connection.GoAway, Patience);
        Assert.True(goAway is null || goAway.Value.Type == RawHttp2Connection.GoAway);
        await AssertStillServingAsync();
    }

    [Fact]
    public async Task Client_that_opens_many_streams_and_never_reads_does_not_block_others()
    {
        // A window of 0 bytes: the server can send headers but no DATA, so every handler's
        // first flush waits on flow control for as long as this client lives.
        var tags = Enumerable.Range(0, 50).Select(_ => Guid.NewGuid().ToString()).ToArray();
        var raw = await RawHttp2Connection.ConnectAsync(server.Server.Address);
        await raw.HandshakeAsync(initialWindowSize: 0);
        for (var i = 0; i < tags.Length; i++)
        {
            var streamId = (2 * i) + 1;
            await raw.OpenGrpcStreamAsync(streamId, "/kv.v1.Echo/ServerStream");
            await raw.SendDataAsync(streamId, RawGrpc.Frame(new EchoRequest { Count = 0, ResponseSize = 65536, Tag = tags[i] }.ToByteArray()), endStream: true);
        }

        // Every handler is running (and stalled on flow control) before anything else is checked:
        // a stream that never reached its handler could not show that handlers are released.
        await Task.WhenAll(tags.Select(server.Echo.CallStarted)).WaitAsync(Patience);

        // Meanwhile another client is served normally, including a stream that needs flow control.
        await AssertStillServingAsync();
        using (var call = server.Client.ServerStream(new EchoRequest { Count = 20, ResponseSize = 65536 }))
        {
            var n = 0;
            await foreach (var _ in call.ResponseStream.ReadAllAsync())
            {
                n++;
            }

            Assert.Equal(20, n);
        }

        // When the stalled client goes away, every one of its handlers is released.
        await raw.DisposeAsync();
        foreach (var tag in tags)
        {
            Assert.Equal(StatusCode.Cancelled, await server.Echo.CallEnded(tag).WaitAsync(Patience));
        }
    }

    [Fact]
    public async Task Client_reset_in_the_middle_of_a_request_message_releases_the_handler()
    {
        var tag = Guid.NewGuid().ToString();
        await using var raw = await RawHttp2Connection.ConnectAsync(server.Server.Address);
        await raw.HandshakeAsync();
        await raw.OpenGrpcStreamAsync(1, "/kv.v1.Echo/Bidi");
        await raw.SendDataAsync(1, RawGrpc.Frame(new EchoRequest { Tag = tag }.ToByteArray()), endStream: false);
        var first = await raw.ReadUntilAsync((type, id) => type == RawHttp2Connection.Data && id == 1, Patience);
        Assert.NotNull(first);

        // Half a message, then RST_STREAM(CANCEL).
        await raw.SendDataAsync(1, [0, 0, 0, 0, 50, 1, 2], endStream: false);
        await raw.WriteFrameAsync(RawHttp2Connection.RstStream, 0, 1, [0, 0, 0, 8]);

        Assert.Equal(StatusCode.Cancelled, await server.Echo.CallEnded(tag).WaitAsync(Patience));
        await AssertStillServingAsync();
    }

    private async Task AssertStillServingAsync()
    {
        var response = await server.Client.UnaryAsync(new EchoRequest { Message = "still here", Payload = ByteString.CopyFromUtf8("p") });
        Assert.Equal("still here", response.Message);
    }
}

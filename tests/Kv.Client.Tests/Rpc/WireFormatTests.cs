using Kv.Client.Rpc;
using Kv.Client.Rpc.Wire;

namespace Kv.Client.Tests.Rpc;

/// <summary>The small wire formats of PROTOCOL-HTTP2.md: grpc-timeout, grpc-message, content type, prefix.</summary>
public sealed class WireFormatTests
{
    [Theory]
    [InlineData(1, "100n")]
    [InlineData(10_000, "1000000n")]           // 1 ms in nanoseconds still fits 8 digits
    [InlineData(10_000_000, "1000000u")]       // 1 s
    [InlineData(36_000_000_000, "3600000m")]   // 1 h
    public void Timeout_is_encoded_in_the_finest_unit_that_fits(long ticks, string expected) =>
        Assert.Equal(expected, GrpcTimeout.Encode(TimeSpan.FromTicks(ticks)));

    [Fact]
    public void Timeout_encoding_never_exceeds_8_digits_and_rounds_up()
    {
        foreach (var t in new[] { TimeSpan.FromTicks(12_345_678_901), TimeSpan.FromDays(3000), TimeSpan.MaxValue })
        {
            var encoded = GrpcTimeout.Encode(t);
            Assert.InRange(encoded.Length, 2, 9);
            Assert.True(GrpcTimeout.TryParse(encoded, out var parsed));
            Assert.True(parsed >= t || encoded.EndsWith('H'), $"{t} encoded as {encoded} parses back shorter: {parsed}");
        }
    }

    [Theory]
    [InlineData("1H", 36_000_000_000L)]
    [InlineData("2M", 1_200_000_000L)]
    [InlineData("3S", 30_000_000L)]
    [InlineData("250m", 2_500_000L)]
    [InlineData("7u", 70L)]
    [InlineData("100n", 1L)]
    [InlineData("99999999S", 999_999_990_000_000L)]
    public void Timeout_parses_every_unit(string header, long ticks)
    {
        Assert.True(GrpcTimeout.TryParse(header, out var timeout));
        Assert.Equal(ticks, timeout.Ticks);
    }

    [Theory]
    [InlineData("")]
    [InlineData("S")]
    [InlineData("10")]
    [InlineData("10s")]
    [InlineData("-1S")]
    [InlineData("123456789S")]
    [InlineData("1.5S")]
    [InlineData("soon")]
    public void Timeout_rejects_malformed_values(string header) =>
        Assert.False(GrpcTimeout.TryParse(header, out _));

    [Theory]
    [InlineData("plain ascii", "plain ascii")]
    [InlineData("100%", "100%25")]
    [InlineData("a\r\nb", "a%0D%0Ab")]
    [InlineData("ä", "%C3%A4")]
    [InlineData("✓", "%E2%9C%93")]
    public void Status_message_is_percent_encoded_as_UTF_8(string message, string wire)
    {
        Assert.Equal(wire, StatusMessageEncoding.Encode(message));
        Assert.Equal(message, StatusMessageEncoding.Decode(wire));
    }

    [Theory]
    [InlineData("50%", "50%")]
    [InlineData("%zz", "%zz")]
    [InlineData("%4", "%4")]
    public void Status_message_decoding_keeps_malformed_escapes(string wire, string expected) =>
        Assert.Equal(expected, StatusMessageEncoding.Decode(wire));

    [Theory]
    [InlineData("application/grpc", true)]
    [InlineData("application/grpc+proto", true)]
    [InlineData("application/grpc; charset=utf-8", true)]
    [InlineData("APPLICATION/GRPC", true)]
    [InlineData("application/grpcx", false)]
    [InlineData("application/json", false)]
    [InlineData(null, false)]
    public void Content_type_is_recognised(string? contentType, bool isGrpc) =>
        Assert.Equal(isGrpc, GrpcProtocol.IsGrpcContentType(contentType));

    [Fact]
    public void Message_prefix_round_trips_big_endian()
    {
        var header = new byte[5];
        MessageFrame.WriteHeader(header, 0x01020304);

        Assert.Equal(new byte[] { 0, 1, 2, 3, 4 }, header);
        MessageFrame.ReadHeader(header, out var flag, out var length);
        Assert.Equal(0, flag);
        Assert.Equal(0x01020304, length);
    }

    [Fact]
    public void Metadata_refuses_reserved_and_malformed_keys_and_values()
    {
        var metadata = new Metadata();

        Assert.Throws<ArgumentException>(() => metadata.Add("grpc-status", "0"));
        Assert.Throws<ArgumentException>(() => metadata.Add("bad key", "v"));
        Assert.Throws<ArgumentException>(() => metadata.Add("x-text", "ä"));
        Assert.Throws<ArgumentException>(() => metadata.Add("x-text", new byte[] { 1 }));
        Assert.Throws<ArgumentException>(() => metadata.Add("x-bin", "text"));
        metadata.Add("X-Mixed-Case", "v");
        Assert.Equal("x-mixed-case", metadata[0].Key);
    }

    [Theory]
    [InlineData(400, StatusCode.Internal)]
    [InlineData(401, StatusCode.Unauthenticated)]
    [InlineData(403, StatusCode.PermissionDenied)]
    [InlineData(404, StatusCode.Unimplemented)]
    [InlineData(429, StatusCode.Unavailable)]
    [InlineData(503, StatusCode.Unavailable)]
    [InlineData(415, StatusCode.Unknown)]
    public void HTTP_status_maps_per_the_gRPC_spec(int http, StatusCode expected) =>
        Assert.Equal(expected, StatusMapping.FromHttpStatus((System.Net.HttpStatusCode)http));
}

using System.Net.Security;
using Kv.Client.Transport;

namespace Kv.Client.Tests.Transport;

/// <summary>How callers' addresses and options become GrpcChannels (the wire itself is Grpc.Net.Client's).</summary>
public sealed class KvChannelsTests
{
    [Theory]
    [InlineData("http://127.0.0.1:20160")]
    [InlineData("https://node-1.example:20160")]
    public void Http_and_https_addresses_make_a_channel(string address)
    {
        using var channel = KvChannels.Create(new Uri(address));

        Assert.Equal(new Uri(address).Authority, channel.Target);
    }

    [Theory]
    [InlineData("ftp://127.0.0.1:20160")]
    [InlineData("unix:///tmp/kv.sock")]
    public void Other_schemes_are_refused_with_the_address_in_the_message(string address)
    {
        var ex = Assert.Throws<ArgumentException>(() => KvChannels.Create(new Uri(address)));

        Assert.Contains(address, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Options_use_TLS_when_they_name_a_root_a_client_certificate_or_a_validator()
    {
        var validate = new RemoteCertificateValidationCallback((_, _, _, errors) => errors == SslPolicyErrors.None);

        Assert.False(new KvChannelOptions().UsesTls);
        Assert.True(new KvChannelOptions { ServerCertificateValidation = validate }.UsesTls);
    }
}

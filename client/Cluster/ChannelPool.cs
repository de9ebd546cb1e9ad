using System.Collections.Concurrent;
using System.Globalization;
using Kv.Client.Transport;

namespace Kv.Client.Cluster;

/// <summary>
/// One channel (with its generated stubs) per node address ("host:port"), created on first use
/// and shared: a GrpcChannel owns a pool of HTTP/2 connections, so one per address is all a
/// client needs.
/// </summary>
internal sealed class ChannelPool(KvChannelOptions? options) : IDisposable
{
    private readonly ConcurrentDictionary<string, NodeStubs> _channels = new(StringComparer.Ordinal);
    private readonly KvChannelOptions? _options = options;

    public NodeStubs Get(string address) =>
        _channels.GetOrAdd(address, static (a, pool) => new NodeStubs(KvChannels.ForHostPort(a, pool._options)), this);

    public void Dispose()
    {
        foreach (var channel in _channels.Values)
        {
            channel.Dispose();
        }

        _channels.Clear();
    }

    /// <summary>
    /// Checks and normalizes an endpoint: "host:port" (an http:// or https:// prefix is accepted
    /// and dropped). Throws ArgumentException saying what is wrong.
    /// </summary>
    public static string Normalize(string endpoint)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        var text = endpoint.Trim();
        foreach (var prefix in (ReadOnlySpan<string>)["http://", "https://"])
        {
            if (text.StartsWith(prefix, StringComparison.OrdinalIgnoreCase))
            {
                text = text[prefix.Length..].TrimEnd('/');
            }
        }

        var colon = text.LastIndexOf(':');
        if (colon <= 0 || colon == text.Length - 1
            || !int.TryParse(text.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var port)
            || port is < 1 or > 65535
            || Uri.CheckHostName(text[..colon].Trim('[', ']')) == UriHostNameType.Unknown)
        {
            throw new ArgumentException($"endpoint '{endpoint}' is not host:port (for example 127.0.0.1:20160)");
        }

        return text;
    }
}

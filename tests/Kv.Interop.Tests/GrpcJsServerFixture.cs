namespace Kv.Interop.Tests;

/// <summary>A grpc-js Echo server (tests/interop/server.js) on 127.0.0.1, free port, 1 MiB receive limit.</summary>
public sealed class GrpcJsServerFixture : IAsyncLifetime
{
    public const int MaxReceive = 1024 * 1024;

    private NodePeer _peer = null!;

    public Uri Address { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        _peer = NodePeer.Start("server.js", "--max-receive", MaxReceive.ToString(System.Globalization.CultureInfo.InvariantCulture));
        var listening = await _peer.WaitForLineAsync(l => l.StartsWith("LISTENING ", StringComparison.Ordinal), TimeSpan.FromSeconds(30));
        Address = new Uri($"http://127.0.0.1:{listening["LISTENING ".Length..]}");
    }

    /// <summary>Waits until server.js reports how the handler of a tagged call ended.</summary>
    public async Task<string> CallEndedAsync(string tag)
    {
        var line = await _peer.WaitForLineAsync(l => l.StartsWith($"ENDED {tag} ", StringComparison.Ordinal), TimeSpan.FromSeconds(10));
        return line[$"ENDED {tag} ".Length..];
    }

    public async Task DisposeAsync() => await _peer.DisposeAsync();
}

using System.Net;
using System.Net.Sockets;
using Kv.Node.Server.Hosting;
using Kv.Proto.V1;

namespace Kv.Node.Tests.Server;

public sealed class PlacementCallerTests
{
    /// <summary>
    /// Regression: a call cut short by the caller's token surfaced as RpcException(Cancelled),
    /// which the first-start amnesia check did not expect, and a member failed to start when its
    /// peers were slow to answer.
    /// </summary>
    [Fact]
    public async Task A_call_cut_short_by_the_callers_token_is_an_OperationCanceledException()
    {
        // Accepts connections and never answers: the call is in flight when the token fires.
        using var silent = new TcpListener(IPAddress.Loopback, 0);
        silent.Start();
        var address = $"127.0.0.1:{((IPEndPoint)silent.LocalEndpoint).Port}";
        using var caller = new PlacementCaller([address]);
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() =>
            caller.CallAsync(static (s, r, o) => s.Placement.GetClusterInfoAsync(r, o), new GetClusterInfoRequest { Header = new() }, r => r.Header, cts.Token));
    }
}

using System.Collections.Concurrent;
using Kv.Node.Ranges.Transport;

namespace Kv.Node.Server.Hosting;

/// <summary>
/// Store id to address: placement members are known from configuration (store id = member id),
/// every other store from placement's store list, refreshed by the heartbeat loop.
/// </summary>
internal sealed class StoreDirectory : IStoreResolver
{
    private readonly ConcurrentDictionary<ulong, string> addresses = new();

    public StoreDirectory(IReadOnlyList<string> members)
    {
        for (var i = 0; i < members.Count; i++)
        {
            addresses[(ulong)(i + 1)] = members[i];
        }
    }

    public string? AddressOf(ulong storeId) => addresses.TryGetValue(storeId, out var a) ? a : null;

    public void Learn(ulong storeId, string address)
    {
        if (storeId != 0 && address.Length > 0)
        {
            addresses[storeId] = address;
        }
    }
}

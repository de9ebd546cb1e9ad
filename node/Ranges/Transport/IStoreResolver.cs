namespace Kv.Node.Ranges.Transport;

/// <summary>Where a store can be reached: host:port, or null while unknown. Thread-safe.</summary>
internal interface IStoreResolver
{
    string? AddressOf(ulong storeId);
}

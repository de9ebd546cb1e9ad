namespace Kv.Node.Server.Services;

/// <summary>Limits of the raw key-value API; requests beyond them are refused with INVALID_ARGUMENT and change nothing.</summary>
internal sealed record RawKvOptions
{
    public int MaxKeyBytes { get; init; } = 4096;

    public int MaxValueBytes { get; init; } = 1 << 20;

    /// <summary>Page size of a scan that asks for limit 0.</summary>
    public int DefaultScanLimit { get; init; } = 256;

    /// <summary>Largest page a scan may ask for.</summary>
    public int MaxScanLimit { get; init; } = 10_000;
}

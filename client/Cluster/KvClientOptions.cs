using Kv.Client.Transport;

namespace Kv.Client.Cluster;

/// <summary>Settings of a <see cref="KvClient"/>; checked by <see cref="KvClient.Connect"/>.</summary>
public sealed class KvClientOptions
{
    /// <summary>
    /// The overall deadline of one logical operation (a Get, a Scan, a placement read), including
    /// every retry and backoff. When it passes, the operation fails with <see cref="KvErrorKind.Unavailable"/>.
    /// </summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Cap on a single RPC attempt; each attempt's deadline is min(time left, this).</summary>
    public TimeSpan AttemptTimeout { get; init; } = TimeSpan.FromSeconds(3);

    /// <summary>First backoff step; step n is drawn uniformly from [0, min(BackoffMax, BackoffBase * 2^n)] (full jitter).</summary>
    public TimeSpan BackoffBase { get; init; } = TimeSpan.FromMilliseconds(20);

    /// <summary>Largest backoff step.</summary>
    public TimeSpan BackoffMax { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Most timestamps one batched GetTimestamp RPC asks for.</summary>
    public int MaxTimestampBatch { get; init; } = 1024;

    /// <summary>Settings of the per-address RPC channels (TLS, message limits); defaults when null.</summary>
    public KvChannelOptions? Channel { get; init; }

    /// <summary>Seeds the backoff jitter (tests); a shared random source when null.</summary>
    public int? RandomSeed { get; init; }

    internal void Validate()
    {
        Positive(RequestTimeout, nameof(RequestTimeout));
        Positive(AttemptTimeout, nameof(AttemptTimeout));
        Positive(BackoffBase, nameof(BackoffBase));
        Positive(BackoffMax, nameof(BackoffMax));
        if (BackoffMax < BackoffBase)
        {
            throw new ArgumentException($"KvClientOptions.BackoffMax ({BackoffMax}) must be at least BackoffBase ({BackoffBase})");
        }

        if (MaxTimestampBatch is < 1 or > 1 << 18)
        {
            throw new ArgumentException($"KvClientOptions.MaxTimestampBatch must be between 1 and {1 << 18}, not {MaxTimestampBatch}");
        }
    }

    private static void Positive(TimeSpan value, string name)
    {
        if (value <= TimeSpan.Zero)
        {
            throw new ArgumentException($"KvClientOptions.{name} must be positive, not {value}");
        }
    }
}

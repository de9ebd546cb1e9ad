namespace Kv.Node.Server.Configuration;

/// <summary>
/// Everything a kv-node process is told at start. Sources, highest precedence first: command-line
/// flags, KV_NODE_* environment variables, the YAML file named by --config, the defaults here
/// (see <see cref="NodeConfigLoader"/>). Validated as a whole before anything starts.
/// </summary>
internal sealed record NodeConfig
{
    /// <summary>Where the store's RocksDB lives; created on first start.</summary>
    public required string DataDir { get; init; }

    /// <summary>host:port to listen on.</summary>
    public string Listen { get; init; } = "127.0.0.1:20160";

    /// <summary>host:port peers and clients dial; defaults to Listen.</summary>
    public string? Advertise { get; init; }

    /// <summary>
    /// The placement members' advertise addresses, identical (same order) on every node and across
    /// restarts: a member's id is its 1-based position. A node whose advertise address is listed is
    /// a member, and its store id is its member id.
    /// </summary>
    public required IReadOnlyList<string> Join { get; init; }

    /// <summary>Where this store sits (zone, host, ...), validated by Kv.Client.Cluster.StoreLabels; sent to placement with every store heartbeat.</summary>
    public IReadOnlyDictionary<string, string> Labels { get; init; } = new Dictionary<string, string>();

    /// <summary>Set: asserts membership (true) or non-membership (false) so a typo cannot silently change the role.</summary>
    public bool? Placement { get; init; }

    public int TickIntervalMs { get; init; } = 100;

    public int ElectionTicks { get; init; } = 10;

    public int HeartbeatTicks { get; init; } = 1;

    public int StoreHeartbeatIntervalMs { get; init; } = 1000;

    public int StoreDownAfterMs { get; init; } = 10_000;

    /// <summary>The scheduler replaces the replicas of a store Down this long (not during its maintenance window).</summary>
    public long StoreDownReplaceAfterMs { get; init; } = 30 * 60 * 1000;

    /// <summary>Time between the placement leader's scheduler passes.</summary>
    public int SchedulerIntervalMs { get; init; } = 5000;

    /// <summary>GC keeps replaced versions this long: the candidate safe point is the TSO's now minus it.</summary>
    public long GcLifeTimeMs { get; init; } = 10 * 60 * 1000;

    /// <summary>The longest TTL a service safe point may ask for.</summary>
    public long GcMaxServiceTtlMs { get; init; } = 86_400_000;

    public int MaxKeyBytes { get; init; } = 4096;

    public int MaxValueBytes { get; init; } = 1 << 20;

    /// <summary>Applied entries a range's Raft log keeps before it is compacted (StoreOptions.RaftLogCompactThreshold).</summary>
    public ulong RaftLogCompactThreshold { get; init; } = 10_000;

    /// <summary>Snapshots a store sends at once, and (a separate limit of the same number) receives at once (StoreOptions.MaxConcurrentSnapshots).</summary>
    public int MaxConcurrentSnapshots { get; init; } = 4;
    /// <summary>A range's leader splits it in the middle once it holds about this many MiB; 0 disables size splits.</summary>
    public int RangeSplitSizeMb { get; init; } = 96;

    /// <summary>A range's leader splits it at a sampled key once it serves this many key requests per second over a check window; 0 disables load splits.</summary>
    public int RangeSplitQps { get; init; } = 2500;

    /// <summary>How often leaders check their ranges' size and load (the load window).</summary>
    public int RangeSplitCheckIntervalMs { get; init; } = 10_000;

    /// <summary>
    /// host:port of the plain HTTP/1.1 listener for /metrics, /healthz and /readyz; null: the
    /// --listen host with its port + <see cref="MetricsPortOffset"/> (20160 gives 20180). Port 0: any free port.
    /// </summary>
    public string? MetricsAddr { get; init; }

    /// <summary>The default metrics port's distance from the RPC port (TiKV's 20160/20180 convention).</summary>
    public const int MetricsPortOffset = 20;

    /// <summary>Secure mode: this node's certificate (PEM, role node), used to serve and to dial peers. Set with <see cref="TlsKey"/> and <see cref="TlsClientCa"/>, or none of them.</summary>
    public string? TlsCert { get; init; }

    /// <summary>Secure mode: the private key of <see cref="TlsCert"/> (PEM).</summary>
    public string? TlsKey { get; init; }

    /// <summary>Secure mode: the cluster CA (PEM); callers' certificates and peers' server certificates must chain to it (the system trust store is never used).</summary>
    public string? TlsClientCa { get; init; }

    /// <summary>True when the node serves mutual TLS only (the three --tls-* settings are given).</summary>
    public bool Secure => TlsCert is not null;

    public string AdvertiseAddress => Advertise ?? Listen;

    /// <summary>1-based position of this node in Join, or 0 when it is not a placement member.</summary>
    public ulong MemberId
    {
        get
        {
            for (var i = 0; i < Join.Count; i++)
            {
                if (string.Equals(Join[i], AdvertiseAddress, StringComparison.OrdinalIgnoreCase))
                {
                    return (ulong)(i + 1);
                }
            }

            return 0;
        }
    }
}

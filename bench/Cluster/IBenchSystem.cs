namespace Kv.Bench.Cluster;

/// <summary>
/// A running 3-member cluster under test and the one client object its load goes through. Every
/// worker of a run shares that client (ours: one <c>KvClient</c>; etcd: one GrpcChannel), so both
/// systems are driven the same way.
/// </summary>
internal interface IBenchSystem : IAsyncDisposable
{
    /// <summary>Column heading in the report.</summary>
    string Name { get; }

    /// <summary>The server processes, whose CPU time the suite reads around each run.</summary>
    IReadOnlyList<ServerProcess> Servers { get; }

    /// <summary>A durable (fsynced on a quorum) write, acknowledged once committed.</summary>
    Task PutAsync(byte[] key, byte[] value, CancellationToken cancellationToken);

    /// <summary>A linearizable read; the value's length, or -1 when the key is absent.</summary>
    Task<int> GetAsync(byte[] key, CancellationToken cancellationToken);
}

namespace Kv.Node.Server.Observability;

/// <summary>
/// What /healthz and /readyz answer (docs/OBSERVABILITY.md), set by NodeHost as it starts and stops:
/// <list type="bullet">
/// <item>healthy: the process serves and its store has not failed (a failed store or a refused
///   identity makes it unhealthy: restart it, or read its log);</item>
/// <item>ready: healthy, the store is open, the RPC server is serving, and the node has joined a
///   bootstrapped cluster (it knows the cluster id), and it is not stopping.</item>
/// </list>
/// Thread-safe: written by the host, read by the endpoints; a change and its
/// <see cref="ReadinessChanged"/> call happen under one lock, so the last call made is the
/// current readiness.
/// </summary>
public sealed class NodeHealth
{
    private readonly Lock gate = new();
    private volatile string? failure;
    private volatile bool storeOpen;
    private volatile bool serving;
    private volatile string clusterId = "";
    private volatile bool stopping;
    private volatile string? waiting;

    /// <summary>Null while healthy; otherwise why not.</summary>
    public string? Failure => failure;

    /// <summary>Null when ready; otherwise a short reason for the 503.</summary>
    public string? NotReadyReason =>
        failure is { } f ? "failed: " + f
        : stopping ? "stopping"
        : waiting is { } w ? "waiting: " + w
        : !storeOpen ? "starting: the store is not open yet"
        : !serving ? "starting: the RPC server is not serving yet"
        : clusterId.Length == 0 ? "not joined: the cluster is not bootstrapped yet, or placement has not answered this node"
        : null;

    /// <summary>The cluster this node joined ("" until known).</summary>
    public string ClusterId => clusterId;

    /// <summary>Told, after each change, whether the node is now ready (grpc.health.v1 follows it); may repeat a value.</summary>
    public Action<bool>? ReadinessChanged { get; set; }

    /// <summary>The node waits for something outside it before it can start (null: no longer); says what, for /readyz.</summary>
    public void Waiting(string? what) => Change(() => waiting = what);

    public void StoreOpened() => Change(() => storeOpen = true);

    public void Serving() => Change(() => serving = true);

    public void Joined(string id) => Change(() => clusterId = id ?? "");

    public void Stopping() => Change(() => stopping = true);

    /// <summary>The store failed or the node's identity was refused; the first reason stays.</summary>
    public void Failed(string reason) => Change(() => Interlocked.CompareExchange(ref failure, reason, null));

    private void Change(Action change)
    {
        lock (gate)
        {
            change();
            ReadinessChanged?.Invoke(NotReadyReason is null);
        }
    }
}

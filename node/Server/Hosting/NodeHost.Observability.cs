using Kv.Node.Server.Configuration;
using Kv.Node.Server.Observability;

namespace Kv.Node.Server.Hosting;

/// <summary>The node's metrics, health and their HTTP listener (docs/OBSERVABILITY.md).</summary>
internal sealed partial class NodeHost
{
    private readonly NodeMetrics metrics = new();
    private readonly NodeHealth health = new();
    private ObservabilityServer? observability;

    /// <summary>This node's metrics (its own registry).</summary>
    internal NodeMetrics Metrics => metrics;

    /// <summary>What /healthz and /readyz answer.</summary>
    internal NodeHealth Health => health;

    /// <summary>The plain HTTP/1.1 address of /metrics, /healthz and /readyz (null until started).</summary>
    public Uri? MetricsAddress => observability?.Address;

    private async Task StartObservabilityAsync(CancellationToken ct)
    {
        var endPoint = NodeConfigLoader.MetricsEndPoint(config);
        try
        {
            observability = await ObservabilityServer.StartAsync(endPoint, metrics, health, ct).ConfigureAwait(false);
        }
        catch (IOException e)
        {
            throw new NodeConfigException($"the metrics listener cannot bind {endPoint}: {e.Message}; choose another address with --metrics-addr", e);
        }

        LogObservability(observability.Address);
    }

    /// <summary>Records a store failure for /healthz before the host's handler runs; without a handler the store stops the process (the default), and health is moot.</summary>
    private Action<string, Exception?>? ObserveFailure(Action<string, Exception?>? handler) =>
        handler is null ? null : (message, e) =>
        {
            health.Failed(message);
            handler(message, e);
        };

    [Microsoft.Extensions.Logging.LoggerMessage(Level = Microsoft.Extensions.Logging.LogLevel.Information, Message = "metrics and health at {Address}metrics, /healthz, /readyz")]
    private partial void LogObservability(Uri address);
}

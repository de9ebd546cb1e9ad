using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Prometheus;

namespace Kv.Node.Server.Observability;

/// <summary>/metrics, /healthz and /readyz (docs/OBSERVABILITY.md) as middleware in front of whatever else a host serves.</summary>
public static class ObservabilityEndpoints
{
    /// <summary>
    /// Serves <c>/metrics</c> (this node's registry, Prometheus text or OpenMetrics as the scraper
    /// asks), <c>/healthz</c> and <c>/readyz</c> (200 "ok", or 503 with a one-line reason);
    /// every other path goes on down the pipeline. Needs no services from DI, so it works on an
    /// empty WebApplication as well as a Grpc.AspNetCore one.
    /// </summary>
    public static IApplicationBuilder UseNodeObservability(this IApplicationBuilder app, NodeMetrics metrics, NodeHealth health)
    {
        ArgumentNullException.ThrowIfNull(app);
        ArgumentNullException.ThrowIfNull(metrics);
        ArgumentNullException.ThrowIfNull(health);
        app.UseMetricServer(settings => settings.Registry = metrics.Registry, "/metrics");
        app.Map("/healthz", branch => branch.Run(context => AnswerAsync(context, health.Failure)));
        app.Map("/readyz", branch => branch.Run(context => AnswerAsync(context, health.NotReadyReason)));
        return app;
    }

    private static Task AnswerAsync(HttpContext context, string? problem)
    {
        context.Response.StatusCode = problem is null ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable;
        context.Response.ContentType = "text/plain; charset=utf-8";
        context.Response.Headers.CacheControl = "no-store";
        return HttpMethods.IsHead(context.Request.Method) ? Task.CompletedTask : context.Response.WriteAsync((problem ?? "ok") + "\n", context.RequestAborted);
    }
}

using System.Collections.Concurrent;
using System.Diagnostics;
using Grpc.Core;
using Prometheus;

namespace Kv.Node.Server.Observability;

/// <summary>
/// Server-side RPC series per method (docs/OBSERVABILITY.md), recorded by
/// <see cref="RpcMetricsInterceptor"/>. A method's series are resolved on its first call and kept,
/// so a call allocates nothing here. Method names come from the server's routing, so they are the
/// services' own methods; routing matches paths case-insensitively, so the cache does too, and it
/// is capped (<see cref="MaxMethods"/>) in case a client invents spellings.
/// </summary>
public sealed class RpcMetrics
{
    /// <summary>Distinct methods tracked; calls of any further method share the "other" series.</summary>
    public const int MaxMethods = 512;

    private static readonly string[] TypeNames = ["unary", "client_stream", "server_stream", "bidi_stream"];
    private static readonly string[] CodeNames = BuildCodeNames();

    private readonly Counter started;
    private readonly Counter handled;
    private readonly Histogram seconds;
    private readonly ConcurrentDictionary<string, MethodSeries> methods = new(StringComparer.OrdinalIgnoreCase);
    private readonly MethodSeries[] other = new MethodSeries[TypeNames.Length];

    public RpcMetrics(IMetricFactory factory)
    {
        ArgumentNullException.ThrowIfNull(factory);
        string[] labels = ["service", "method", "type"];
        started = factory.CreateCounter("kv_rpc_server_started_total", "RPCs started on this node (in flight: started minus handled).", labels);
        handled = factory.CreateCounter("kv_rpc_server_handled_total", "RPCs completed on this node, by gRPC status code (code: OK, NotFound, Unavailable, ...).", [.. labels, "code"]);
        seconds = factory.CreateHistogram(
            "kv_rpc_server_handling_seconds",
            "Time from an RPC's start to its status on this node (for streams: the whole stream).",
            labels,
            new HistogramConfiguration { Buckets = Histogram.ExponentialBuckets(0.00005, 2, 18) });
    }

    /// <summary>The kinds of call, as the <c>type</c> label names them.</summary>
    public enum CallType
    {
        Unary,
        ClientStreaming,
        ServerStreaming,
        DuplexStreaming,
    }

    /// <summary>The series of <paramref name="fullMethod"/> (<c>/package.Service/Method</c>).</summary>
    public MethodSeries For(string fullMethod, CallType type)
    {
        if (methods.TryGetValue(fullMethod, out var series))
        {
            return series;
        }

        if (methods.Count >= MaxMethods)
        {
            return other[(int)type] ??= new MethodSeries(this, "other", "other", TypeNames[(int)type]);
        }

        var slash = fullMethod.LastIndexOf('/');
        var service = slash > 0 ? fullMethod[(fullMethod[0] == '/' ? 1 : 0)..slash] : "";
        var method = slash >= 0 ? fullMethod[(slash + 1)..] : fullMethod;
        return methods.GetOrAdd(fullMethod, _ => new MethodSeries(this, service, method, TypeNames[(int)type]));
    }

    /// <summary>
    /// The status a call that threw ends with, as Grpc.AspNetCore decides it: an RpcException's
    /// own code; any other exception is Unknown ("Exception was thrown by handler."). A handler
    /// that gives up because its call was cancelled ended with what the server already sent:
    /// DeadlineExceeded once the deadline passed, Cancelled when the client went away.
    /// </summary>
    public static StatusCode StatusOf(Exception exception, ServerCallContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        return exception switch
        {
            RpcException rpc => rpc.StatusCode,
            OperationCanceledException when context.CancellationToken.IsCancellationRequested =>
                context.Deadline <= DateTime.UtcNow ? StatusCode.DeadlineExceeded : StatusCode.Cancelled,
            _ => StatusCode.Unknown,
        };
    }

    private static string[] BuildCodeNames()
    {
        var names = new string[17];
        for (var i = 0; i < names.Length; i++)
        {
            names[i] = ((StatusCode)i).ToString();
        }

        return names;
    }

    /// <summary>One method's series: started, latency, and one handled counter per status code (made on first use).</summary>
    public sealed class MethodSeries
    {
        private readonly RpcMetrics owner;
        private readonly string[] labels;
        private readonly Counter.Child started;
        private readonly Histogram.Child seconds;
        private readonly Counter.Child?[] handled = new Counter.Child?[CodeNames.Length];

        internal MethodSeries(RpcMetrics owner, string service, string method, string type)
        {
            this.owner = owner;
            labels = [service, method, type];
            started = owner.started.WithLabels(labels);
            seconds = owner.seconds.WithLabels(labels);
        }

        /// <summary>Counts the call's start; returns the timestamp to pass to <see cref="Handled"/>.</summary>
        public long Start()
        {
            started.Inc();
            return Stopwatch.GetTimestamp();
        }

        /// <summary>Records the call's end with <paramref name="code"/>.</summary>
        public void Handled(StatusCode code, long startTimestamp)
        {
            seconds.Observe(Stopwatch.GetElapsedTime(startTimestamp).TotalSeconds);
            var i = (uint)code < (uint)handled.Length ? (int)code : (int)StatusCode.Unknown;
            // A race creates the same child twice: WithLabels returns the registered one.
            (handled[i] ??= owner.handled.WithLabels(labels[0], labels[1], labels[2], CodeNames[i])).Inc();
        }
    }
}

using Grpc.Core;

namespace Kv.Node.Tests.Observability;

/// <summary>A Grpc.Core ServerCallContext for calling interceptors directly: a method name, a deadline and a cancellation token.</summary>
internal sealed class TestServerCallContext(string method, DateTime deadline, CancellationToken cancellationToken) : ServerCallContext
{
    private readonly Metadata trailers = [];

    public TestServerCallContext(string method)
        : this(method, DateTime.MaxValue, CancellationToken.None)
    {
    }

    protected override string MethodCore => method;

    protected override string HostCore => "localhost";

    protected override string PeerCore => "ipv4:127.0.0.1:1";

    protected override DateTime DeadlineCore => deadline;

    protected override Metadata RequestHeadersCore { get; } = [];

    protected override CancellationToken CancellationTokenCore => cancellationToken;

    protected override Metadata ResponseTrailersCore => trailers;

    protected override Status StatusCore { get; set; }

    protected override WriteOptions? WriteOptionsCore { get; set; }

    protected override AuthContext AuthContextCore { get; } = new(null, []);

    protected override ContextPropagationToken CreatePropagationTokenCore(ContextPropagationOptions? options) =>
        throw new NotSupportedException("no propagation in these tests");

    protected override Task WriteResponseHeadersAsyncCore(Metadata responseHeaders) => Task.CompletedTask;
}

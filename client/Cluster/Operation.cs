using System.Globalization;
using System.Text;
using Grpc.Core;

namespace Kv.Client.Cluster;

/// <summary>
/// One logical operation's retry budget: its deadline, the attempts made, the addresses tried
/// and the last error seen, so that giving up produces a message that says what was tried.
/// Not thread-safe: one operation runs its attempts one after another.
/// </summary>
internal sealed class Operation
{
    private readonly KvClientOptions _options;
    private readonly Func<double> _random;
    private readonly List<string> _tried = [];
    private readonly HashSet<string> _failed = new(StringComparer.Ordinal);

    public Operation(string what, KvClientOptions options, Func<double> random, CancellationToken cancellationToken)
    {
        What = what;
        _options = options;
        _random = random;
        CancellationToken = cancellationToken;
        Deadline = DateTime.UtcNow + options.RequestTimeout;
    }

    /// <summary>What the operation does, for messages ("get key", "list stores").</summary>
    public string What { get; }

    public DateTime Deadline { get; }

    public CancellationToken CancellationToken { get; }

    /// <summary>Retries that waited (hint-following retries do not count).</summary>
    public int Backoffs { get; private set; }

    public string? LastError { get; private set; }

    public TimeSpan Remaining => Deadline - DateTime.UtcNow;

    /// <summary>True when an attempt at address failed in transport during this operation.</summary>
    public bool HasFailed(string address) => _failed.Contains(address);

    /// <summary>Options for the next RPC: deadline min(time left, attempt cap); throws Unavailable when no time is left.</summary>
    public CallOptions StartAttempt(string address)
    {
        CancellationToken.ThrowIfCancellationRequested();
        var remaining = Remaining;
        if (remaining <= TimeSpan.Zero)
        {
            throw GiveUp();
        }

        if (!_tried.Contains(address))
        {
            _tried.Add(address);
        }

        var attempt = remaining < _options.AttemptTimeout ? remaining : _options.AttemptTimeout;
        return new CallOptions(deadline: DateTime.UtcNow + attempt, cancellationToken: CancellationToken);
    }

    /// <summary>Records why an attempt failed; transport failures also mark the address to avoid.</summary>
    public void Note(string address, string error, bool transport)
    {
        LastError = $"{address}: {error}";
        if (transport)
        {
            _failed.Add(address);
        }
    }

    /// <summary>
    /// Records a failed RPC. An attempt cut short by the operation's own deadline keeps the
    /// previous error as the last one, since that one says why the cluster could not be reached.
    /// </summary>
    public void Note(string address, RpcException e)
    {
        ArgumentNullException.ThrowIfNull(e);
        if (e.StatusCode == StatusCode.DeadlineExceeded && Remaining <= TimeSpan.Zero && LastError is not null)
        {
            return;
        }

        _failed.Add(address);
        LastError = $"{address}: {e.Status.Detail}";
    }

    /// <summary>Waits one backoff step (full jitter, capped, bounded by the deadline); throws Unavailable when the deadline has passed.</summary>
    public async Task BackoffAsync()
    {
        var remaining = Remaining;
        if (remaining <= TimeSpan.Zero)
        {
            throw GiveUp();
        }

        var delay = Backoff.Delay(Backoffs, _options.BackoffBase, _options.BackoffMax, remaining, _random());
        Backoffs++;
        if (delay > TimeSpan.Zero)
        {
            await Task.Delay(delay, CancellationToken).ConfigureAwait(false);
        }

        if (Remaining <= TimeSpan.Zero)
        {
            throw GiveUp();
        }
    }

    /// <summary>The Unavailable error that ends the operation: what, how long, where, and the last error.</summary>
    public KvException GiveUp()
    {
        CancellationToken.ThrowIfCancellationRequested();
        var message = new StringBuilder();
        message.Append(CultureInfo.InvariantCulture, $"cluster unavailable: could not {What} within {_options.RequestTimeout.TotalSeconds:0.###} s");
        message.Append(CultureInfo.InvariantCulture, $"; tried {(_tried.Count == 0 ? "no endpoint" : string.Join(", ", _tried))}");
        if (LastError is not null)
        {
            message.Append(CultureInfo.InvariantCulture, $"; last error: {LastError}");
        }

        message.Append("; check that the nodes are running and reachable (kvctl local status, or the --endpoint you passed)");
        return new KvException(KvErrorKind.Unavailable, message.ToString());
    }

    /// <summary>
    /// True when the RPC failure may be transient and the operation can retry elsewhere or later:
    /// the transport failed, the attempt's own deadline passed, or the server was unavailable.
    /// A cancellation the caller asked for is not retryable.
    /// </summary>
    public bool IsRetryable(RpcException e) =>
        !CancellationToken.IsCancellationRequested && e.StatusCode is StatusCode.Unavailable or StatusCode.DeadlineExceeded or StatusCode.Cancelled or StatusCode.Aborted;

    /// <summary>Maps a non-retryable RPC failure to the client's error kinds.</summary>
    public KvException Fail(string address, RpcException e)
    {
        CancellationToken.ThrowIfCancellationRequested();
        return e.StatusCode switch
        {
            StatusCode.InvalidArgument or StatusCode.OutOfRange or StatusCode.ResourceExhausted =>
                new KvException(KvErrorKind.InvalidArgument, $"{address} refused the request to {What}: {e.Status.Detail}", e),
            StatusCode.FailedPrecondition =>
                new KvException(KvErrorKind.Refused, $"{address} refused the request to {What} in the cluster's current state: {e.Status.Detail}", e),
            StatusCode.NotFound => new KvException(KvErrorKind.NotFound, $"{address}: {e.Status.Detail}", e),
            StatusCode.Unimplemented => new KvException(KvErrorKind.Internal, $"{address} does not serve the request to {What} ({e.Status.Detail}); is it a kv-node of a compatible version?", e),
            _ => new KvException(KvErrorKind.Internal, $"{address} failed the request to {What}: {e.Status.StatusCode}: {e.Status.Detail}", e),
        };
    }
}

namespace Kv.Client.Rpc;

/// <summary>
/// Per-call options. <see cref="Deadline"/> is an absolute UTC time: it is sent to the server
/// as <c>grpc-timeout</c> and enforced locally, so a call ends with DEADLINE_EXCEEDED at the
/// deadline even when the server or network does not answer.
/// </summary>
public readonly record struct CallOptions(Metadata? Headers = null, DateTime? Deadline = null, CancellationToken CancellationToken = default)
{
    /// <summary>Options whose deadline is <paramref name="timeout"/> from now.</summary>
    public static CallOptions WithTimeout(TimeSpan timeout, CancellationToken cancellationToken = default) =>
        new(Deadline: DateTime.UtcNow + timeout, CancellationToken: cancellationToken);
}

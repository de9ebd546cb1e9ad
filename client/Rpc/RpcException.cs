namespace Kv.Client.Rpc;

/// <summary>
/// A call ended with a non-OK status. Thrown by clients when a call fails and by server
/// handlers to end a call with a chosen status; the trailers travel with it.
/// </summary>
public sealed class RpcException : Exception
{
    public RpcException()
        : this(new Status(StatusCode.Unknown, string.Empty))
    {
    }

    public RpcException(string message)
        : this(new Status(StatusCode.Unknown, message))
    {
    }

    public RpcException(string message, Exception innerException)
        : base(message, innerException)
    {
        Status = new Status(StatusCode.Unknown, message);
        Trailers = new Metadata();
    }

    public RpcException(Status status, Metadata? trailers = null, Exception? innerException = null)
        : base(status.ToString(), innerException)
    {
        Status = status;
        Trailers = trailers ?? new Metadata();
    }

    /// <summary>The status the call ended with.</summary>
    public Status Status { get; }

    /// <summary>Shortcut for <c>Status.StatusCode</c>.</summary>
    public StatusCode StatusCode => Status.StatusCode;

    /// <summary>Trailing metadata the server sent (or a handler wants sent) with the status.</summary>
    public Metadata Trailers { get; }
}

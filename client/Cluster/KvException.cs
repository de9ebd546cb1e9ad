namespace Kv.Client.Cluster;

/// <summary>
/// A logical operation of <see cref="KvClient"/> failed. Expected outcomes (a missing key, an
/// already bootstrapped cluster) are results, not exceptions; this is for what the caller must
/// act on. The message says what happened and what to do.
/// </summary>
public class KvException : Exception
{
    public KvException()
        : this(KvErrorKind.Internal, "the key-value client failed")
    {
    }

    public KvException(string message)
        : this(KvErrorKind.Internal, message)
    {
    }

    public KvException(string message, Exception innerException)
        : this(KvErrorKind.Internal, message, innerException)
    {
    }

    public KvException(KvErrorKind kind, string message, Exception? innerException = null)
        : base(message, innerException)
    {
        Kind = kind;
    }

    public KvErrorKind Kind { get; }
}

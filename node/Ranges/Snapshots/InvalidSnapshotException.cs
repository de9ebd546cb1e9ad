namespace Kv.Node.Ranges.Snapshots;

/// <summary>
/// A snapshot manifest, chunk or staged file was refused: the message says what was wrong and
/// what to do. A refusal changes nothing on the receiver (a bad completed file is discarded so
/// that it is resent, which the message says).
/// </summary>
public sealed class InvalidSnapshotException : Exception
{
    public InvalidSnapshotException()
    {
    }

    public InvalidSnapshotException(string message)
        : base(message)
    {
    }

    public InvalidSnapshotException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

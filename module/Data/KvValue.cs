using Kv.Client;
using Kv.Client.Views;

namespace Kv.PowerShell.Data;

/// <summary>
/// A key and its value as the data cmdlets write them. Key and Value are text as kvctl prints
/// them (UTF-8 when printable, else 0x-hex); KeyBytes and ValueBytes are the exact bytes.
/// Value is null for a key written as deleted (Remove-KvValue -PassThru). Timestamp is the
/// snapshot a read saw (its transaction's start_ts) or the commit_ts of a write.
/// </summary>
public sealed class KvValue
{
    internal KvValue(byte[] key, byte[]? value, Timestamp timestamp)
    {
        KeyBytes = key;
        ValueBytes = value;
        Timestamp = timestamp;
    }

    public string Key => KeyFormat.Printable(KeyBytes);

    public string? Value => ValueBytes is null ? null : KeyFormat.Printable(ValueBytes);

    public byte[] KeyBytes { get; }

    public byte[]? ValueBytes { get; }

    public Timestamp Timestamp { get; }

    public override string ToString() => $"{Key}={Value}";
}

/// <summary>What Invoke-KvTransaction -PassThru writes after the commit: the snapshot, the commit timestamp and the writes committed ("put k", "delete k").</summary>
public sealed class KvTransactionResult
{
    internal KvTransactionResult(Timestamp startTs, Timestamp commitTs, IReadOnlyList<string> writes)
    {
        StartTs = startTs;
        CommitTs = commitTs;
        Writes = writes;
    }

    public Timestamp StartTs { get; }

    /// <summary>The commit timestamp; StartTs for a transaction that wrote nothing (nothing to commit).</summary>
    public Timestamp CommitTs { get; }

    public IReadOnlyList<string> Writes { get; }
}

using Kv.Bench.Cluster;

namespace Kv.Bench.Txn;

/// <summary>
/// One system's way of running the three transactional workloads of the transaction suite, on a
/// running 3-member cluster. Each call is one logical operation that the load generator times as a
/// whole, retries included; it returns how many times it had to start over because another
/// transaction got in the way (a write conflict, a lock, a failed compare), which the suite reports.
/// </summary>
internal interface ITxnSystem
{
    /// <summary>Column heading in the report.</summary>
    string Name { get; }

    /// <summary>The cluster under test: its servers (for CPU time).</summary>
    IBenchSystem Cluster { get; }

    /// <summary>(a) One transaction that writes one key. Returns the retries.</summary>
    Task<int> PutAsync(byte[] key, byte[] value, CancellationToken cancellationToken);

    /// <summary>
    /// (b) Moves <paramref name="amount"/> from account <paramref name="from"/> to account
    /// <paramref name="to"/> (distinct keys): reads both, writes both, atomically, retried until it
    /// commits. Returns the retries.
    /// </summary>
    Task<int> TransferAsync(byte[] from, byte[] to, long amount, CancellationToken cancellationToken);

    /// <summary>
    /// (c) Reads both keys from one consistent snapshot. Returns the retries and the two values'
    /// lengths (-1 for an absent key), which the load generator checks.
    /// </summary>
    Task<(int Retries, int LengthA, int LengthB)> ReadPairAsync(byte[] a, byte[] b, CancellationToken cancellationToken);
}

/// <summary>
/// The account values: <see cref="TxnLoad.ValueSize"/> bytes whose first 8 are the balance
/// (little-endian), so a transfer does real read-modify-write work on both keys.
/// </summary>
internal static class Account
{
    public static long Balance(ReadOnlySpan<byte> value) =>
        value.Length >= 8
            ? System.Buffers.Binary.BinaryPrimitives.ReadInt64LittleEndian(value)
            : throw new InvalidOperationException($"an account value has {value.Length} bytes, fewer than the 8 of a balance: the transfer is not reading what the preload wrote");

    public static byte[] WithBalance(ReadOnlySpan<byte> value, long balance)
    {
        var updated = value.ToArray();
        System.Buffers.Binary.BinaryPrimitives.WriteInt64LittleEndian(updated, balance);
        return updated;
    }
}

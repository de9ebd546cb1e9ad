using System.Buffers.Binary;

namespace Kv.Node.Tests.Raft.Simulation;

/// <summary>
/// The replicated register the simulated clients use. A command is (client, seq, value); a
/// command is applied only if seq is newer than the client's last applied one, so proposals the
/// network duplicated (or that a client gave up on and retried) take effect at most once.
/// Volatile: on restart it is rebuilt from the snapshot and the log.
/// </summary>
internal sealed class RegisterStateMachine
{
    private readonly Dictionary<int, ulong> lastSeq = [];

    public ulong Value { get; private set; }

    public ulong Applied { get; set; }

    public static byte[] EncodeWrite(int client, ulong seq, ulong value)
    {
        var b = new byte[20];
        BinaryPrimitives.WriteInt32LittleEndian(b, client);
        BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(4), seq);
        BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(12), value);
        return b;
    }

    public static (int Client, ulong Seq, ulong Value) DecodeWrite(ReadOnlySpan<byte> b) =>
        (BinaryPrimitives.ReadInt32LittleEndian(b), BinaryPrimitives.ReadUInt64LittleEndian(b[4..]), BinaryPrimitives.ReadUInt64LittleEndian(b[12..]));

    /// <summary>Applies a normal entry's data; returns the write it carried (if any) and whether it took effect.</summary>
    public bool Apply(ReadOnlySpan<byte> data, out (int Client, ulong Seq, ulong Value) write)
    {
        write = default;
        if (data.Length != 20)
        {
            return false; // leader no-op entries
        }

        write = DecodeWrite(data);
        if (lastSeq.TryGetValue(write.Client, out var s) && s >= write.Seq)
        {
            return false;
        }

        lastSeq[write.Client] = write.Seq;
        Value = write.Value;
        return true;
    }

    public byte[] Snapshot()
    {
        var b = new byte[8 + 4 + (lastSeq.Count * 12)];
        BinaryPrimitives.WriteUInt64LittleEndian(b, Value);
        BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(8), lastSeq.Count);
        var i = 12;
        foreach (var (c, s) in lastSeq.OrderBy(kv => kv.Key))
        {
            BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(i), c);
            BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(i + 4), s);
            i += 12;
        }

        return b;
    }

    public void Restore(ReadOnlySpan<byte> b, ulong index)
    {
        lastSeq.Clear();
        Applied = index;
        if (b.IsEmpty)
        {
            Value = 0;
            return;
        }

        Value = BinaryPrimitives.ReadUInt64LittleEndian(b);
        var n = BinaryPrimitives.ReadInt32LittleEndian(b[8..]);
        for (var i = 0; i < n; i++)
        {
            var at = 12 + (i * 12);
            lastSeq[BinaryPrimitives.ReadInt32LittleEndian(b[at..])] = BinaryPrimitives.ReadUInt64LittleEndian(b[(at + 4)..]);
        }
    }
}

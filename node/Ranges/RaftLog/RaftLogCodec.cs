using System.Buffers.Binary;
using Kv.Node.Raft;

namespace Kv.Node.Ranges.RaftLog;

/// <summary>
/// Keys and values of a Raft group's records in the Engine's raft column family.
///
/// Keys: 'r' (0x72) + groupId (8 bytes big-endian) + kind (1 byte) [+ index (8 bytes big-endian)].
/// Big-endian ids and indexes make keys sort by group, then kind, then index, so one group's
/// records are one contiguous key range and its entries iterate in log order.
///   kind 0x01  hard state          (term, vote, commit)
///   kind 0x02  truncated state     (index, term of the last compacted entry: FirstIndex()-1)
///   kind 0x03  snapshot            (index, term, ConfState, data)
///   kind 0x04  applied conf state  (a snapshot record without data: the ConfState after the conf change applied at index)
///   kind 0x10  entry + index       (term, type, data)
/// Kinds 0x20 to 0xFE are left to the range layer (apply state and the like), which writes them
/// in the same batch; this codec never reads or deletes them.
///
/// Values start with a version byte (1). Integers are unsigned LEB128 varints. Entry: version,
/// type, term, then the data to the end of the value (the index is in the key). Hard state:
/// version, term, vote, commit. Truncated state: version, index, term. Snapshot: version, index,
/// term, the five ConfState lists (count then ids), auto-leave (0/1), then data to the end.
/// A value that is short, has trailing bytes, or an unknown version or type is refused.
/// </summary>
internal static class RaftLogCodec
{
    public const byte Prefix = (byte)'r';
    public const byte KindHardState = 0x01;
    public const byte KindTruncatedState = 0x02;
    public const byte KindSnapshot = 0x03;
    public const byte KindEntry = 0x10;

    /// <summary>The configuration after the last applied conf change, encoded as a snapshot record without data (index = that entry's).</summary>
    public const byte KindAppliedConfState = 0x04;
    public const int StateKeyLength = 10;
    public const int EntryKeyLength = 18;
    private const byte Version = 1;

    public static byte[] StateKey(ulong groupId, byte kind)
    {
        var key = new byte[StateKeyLength];
        key[0] = Prefix;
        BinaryPrimitives.WriteUInt64BigEndian(key.AsSpan(1), groupId);
        key[9] = kind;
        return key;
    }

    public static void EntryKey(ulong groupId, ulong index, Span<byte> key)
    {
        key[0] = Prefix;
        BinaryPrimitives.WriteUInt64BigEndian(key[1..], groupId);
        key[9] = KindEntry;
        BinaryPrimitives.WriteUInt64BigEndian(key[10..], index);
    }

    public static byte[] EntryKey(ulong groupId, ulong index)
    {
        var key = new byte[EntryKeyLength];
        EntryKey(groupId, index, key);
        return key;
    }

    /// <summary>The first key of a group (inclusive) and the first key after it (exclusive); kinds stay below 0xFF.</summary>
    public static (byte[] Start, byte[] End) GroupBounds(ulong groupId)
    {
        var start = new byte[9];
        start[0] = Prefix;
        BinaryPrimitives.WriteUInt64BigEndian(start.AsSpan(1), groupId);
        return (start, [.. start, 0xFF]);
    }

    public static ulong IndexOfEntryKey(ReadOnlySpan<byte> key) => BinaryPrimitives.ReadUInt64BigEndian(key[10..]);

    public static byte[] EncodeEntry(in Entry e)
    {
        var data = e.Data.Span;
        var buf = new byte[2 + VarintLength(e.Term) + data.Length];
        buf[0] = Version;
        buf[1] = (byte)e.Type;
        var pos = WriteVarint(buf, 2, e.Term);
        data.CopyTo(buf.AsSpan(pos));
        return buf;
    }

    public static Entry DecodeEntry(ulong groupId, ulong index, ReadOnlySpan<byte> value)
    {
        var term = DecodeEntryHeader(groupId, index, value, out var type, out var pos);
        return new Entry(term, index, type, value[pos..].ToArray());
    }

    public static ulong DecodeEntryTerm(ulong groupId, ulong index, ReadOnlySpan<byte> value) =>
        DecodeEntryHeader(groupId, index, value, out _, out _);

    public static byte[] EncodeHardState(HardState hs)
    {
        var buf = new byte[1 + VarintLength(hs.Term) + VarintLength(hs.Vote) + VarintLength(hs.Commit)];
        buf[0] = Version;
        var pos = WriteVarint(buf, 1, hs.Term);
        pos = WriteVarint(buf, pos, hs.Vote);
        WriteVarint(buf, pos, hs.Commit);
        return buf;
    }

    public static HardState DecodeHardState(ulong groupId, ReadOnlySpan<byte> value)
    {
        var r = new Reader(groupId, "hard state", value);
        var hs = new HardState(r.Varint(), r.Varint(), r.Varint());
        r.End();
        return hs;
    }

    public static byte[] EncodeTruncatedState(ulong index, ulong term)
    {
        var buf = new byte[1 + VarintLength(index) + VarintLength(term)];
        buf[0] = Version;
        WriteVarint(buf, WriteVarint(buf, 1, index), term);
        return buf;
    }

    public static (ulong Index, ulong Term) DecodeTruncatedState(ulong groupId, ReadOnlySpan<byte> value)
    {
        var r = new Reader(groupId, "truncated state", value);
        var result = (r.Varint(), r.Varint());
        r.End();
        return result;
    }

    public static byte[] EncodeSnapshot(Snapshot snap)
    {
        var m = snap.Metadata;
        var cs = m.ConfState;
        var len = 1 + VarintLength(m.Index) + VarintLength(m.Term) + 1 + snap.Data.Length;
        foreach (var list in new[] { cs.Voters, cs.Learners, cs.VotersOutgoing, cs.LearnersNext })
        {
            len += VarintLength((ulong)list.Length);
            foreach (var id in list)
            {
                len += VarintLength(id);
            }
        }

        var buf = new byte[len];
        buf[0] = Version;
        var pos = WriteVarint(buf, 1, m.Index);
        pos = WriteVarint(buf, pos, m.Term);
        foreach (var list in new[] { cs.Voters, cs.Learners, cs.VotersOutgoing, cs.LearnersNext })
        {
            pos = WriteVarint(buf, pos, (ulong)list.Length);
            foreach (var id in list)
            {
                pos = WriteVarint(buf, pos, id);
            }
        }

        buf[pos++] = cs.AutoLeave ? (byte)1 : (byte)0;
        snap.Data.Span.CopyTo(buf.AsSpan(pos));
        return buf;
    }

    public static Snapshot DecodeSnapshot(ulong groupId, ReadOnlySpan<byte> value)
    {
        var r = new Reader(groupId, "snapshot", value);
        var index = r.Varint();
        var term = r.Varint();
        var voters = r.Ids();
        var learners = r.Ids();
        var outgoing = r.Ids();
        var learnersNext = r.Ids();
        var autoLeave = r.Byte() switch
        {
            0 => false,
            1 => true,
            var b => throw r.Corrupt($"auto-leave flag {b} is neither 0 nor 1"),
        };
        var data = r.Rest();
        return new Snapshot(new SnapshotMetadata(index, term, new ConfState(voters, learners, outgoing, learnersNext, autoLeave)), data);
    }

    private static ulong DecodeEntryHeader(ulong groupId, ulong index, ReadOnlySpan<byte> value, out EntryType type, out int pos)
    {
        var r = new Reader(groupId, $"entry {index}", value);
        var t = r.Byte();
        if (t > (byte)EntryType.ConfChange)
        {
            throw r.Corrupt($"unknown entry type {t}");
        }

        type = (EntryType)t;
        var term = r.Varint();
        pos = r.Position;
        return term;
    }

    private static int VarintLength(ulong v)
    {
        var n = 1;
        while (v >= 0x80)
        {
            v >>= 7;
            n++;
        }

        return n;
    }

    private static int WriteVarint(byte[] buf, int pos, ulong v)
    {
        while (v >= 0x80)
        {
            buf[pos++] = (byte)(v | 0x80);
            v >>= 7;
        }

        buf[pos++] = (byte)v;
        return pos;
    }

    /// <summary>Reads one record, throwing a RaftLogCorruptException naming group and record on any defect.</summary>
    private ref struct Reader
    {
        private readonly ulong groupId;
        private readonly string record;
        private readonly ReadOnlySpan<byte> value;

        public Reader(ulong groupId, string record, ReadOnlySpan<byte> value)
        {
            this.groupId = groupId;
            this.record = record;
            this.value = value;
            if (value.Length == 0)
            {
                throw Corrupt("empty value");
            }

            if (value[0] != Version)
            {
                throw Corrupt($"unknown version {value[0]} (this build reads version {Version})");
            }

            Position = 1;
        }

        public int Position { get; private set; }

        public byte Byte()
        {
            if (Position >= value.Length)
            {
                throw Corrupt($"short record ({value.Length} bytes)");
            }

            return value[Position++];
        }

        public ulong Varint()
        {
            ulong v = 0;
            for (var shift = 0; shift < 64; shift += 7)
            {
                var b = Byte();
                v |= (ulong)(b & 0x7F) << shift;
                if (b < 0x80)
                {
                    return v;
                }
            }

            throw Corrupt("varint longer than 10 bytes");
        }

        public ulong[] Ids()
        {
            var count = Varint();
            if (count > (ulong)(value.Length - Position))
            {
                throw Corrupt($"id list of {count} longer than the record");
            }

            var ids = new ulong[count];
            for (var i = 0; i < ids.Length; i++)
            {
                ids[i] = Varint();
            }

            return ids;
        }

        public byte[] Rest()
        {
            var rest = value[Position..].ToArray();
            Position = value.Length;
            return rest;
        }

        public readonly void End()
        {
            if (Position != value.Length)
            {
                throw Corrupt($"{value.Length - Position} trailing bytes");
            }
        }

        public readonly RaftLogCorruptException Corrupt(string detail) => new(groupId, record, detail);
    }
}

using System.Buffers.Binary;

namespace Kv.Node.Raft;

internal enum ConfChangeType : byte
{
    AddNode = 0,
    AddLearnerNode = 1,
    RemoveNode = 2,
}

/// <summary>How a conf change enters effect (etcd's ConfChangeTransition).</summary>
internal enum ConfChangeTransition : byte
{
    /// <summary>A single voter change is applied directly; anything more goes through a joint config left automatically.</summary>
    Auto = 0,

    /// <summary>Always go through a joint config, left automatically once it is applied.</summary>
    JointImplicit = 1,

    /// <summary>Go through a joint config and stay there until the application proposes an empty change.</summary>
    JointExplicit = 2,
}

internal readonly record struct ConfChangeSingle(ConfChangeType Type, ulong NodeId);

/// <summary>
/// A membership change: one or more single changes applied atomically. No changes with
/// Transition Auto means "leave the joint configuration". <see cref="Context"/> is opaque to
/// the core: the application puts there what it must apply together with the change (a range
/// puts its descriptor update), and gets it back when the entry is applied.
/// </summary>
internal sealed record ConfChange(ConfChangeTransition Transition, ConfChangeSingle[] Changes)
{
    /// <summary>Opaque application bytes carried with the change (empty: none).</summary>
    public ReadOnlyMemory<byte> Context { get; init; }

    public static readonly ConfChange LeaveJointChange = new(ConfChangeTransition.Auto, []);

    public static ConfChange Single(ConfChangeType type, ulong nodeId) => new(ConfChangeTransition.Auto, [new ConfChangeSingle(type, nodeId)]);

    public bool IsLeaveJoint => Transition == ConfChangeTransition.Auto && Changes.Length == 0;

    /// <summary>Whether this change goes through a joint config, and if so whether it is left automatically.</summary>
    public bool EntersJoint(out bool autoLeave)
    {
        if (Transition != ConfChangeTransition.Auto || Changes.Length > 1)
        {
            autoLeave = Transition != ConfChangeTransition.JointExplicit;
            return true;
        }

        autoLeave = false;
        return false;
    }

    /// <summary>
    /// Encoding: transition byte, count (u16), then per change: type byte, node id (u64), little
    /// endian; then the context's bytes, if any, to the end of the buffer. Entries written before
    /// contexts existed end right after the changes, so they decode with an empty context.
    /// </summary>
    public byte[] Encode()
    {
        var buf = new byte[3 + (Changes.Length * 9) + Context.Length];
        buf[0] = (byte)Transition;
        BinaryPrimitives.WriteUInt16LittleEndian(buf.AsSpan(1), checked((ushort)Changes.Length));
        for (var i = 0; i < Changes.Length; i++)
        {
            buf[3 + (i * 9)] = (byte)Changes[i].Type;
            BinaryPrimitives.WriteUInt64LittleEndian(buf.AsSpan(4 + (i * 9)), Changes[i].NodeId);
        }

        Context.Span.CopyTo(buf.AsSpan(3 + (Changes.Length * 9)));
        return buf;
    }

    /// <summary>Decodes; an empty buffer is the leave-joint change. Returns false on malformed input.</summary>
    public static bool TryDecode(ReadOnlySpan<byte> data, out ConfChange change)
    {
        change = LeaveJointChange;
        if (data.IsEmpty)
        {
            return true;
        }

        if (data.Length < 3 || data[0] > (byte)ConfChangeTransition.JointExplicit)
        {
            return false;
        }

        var n = BinaryPrimitives.ReadUInt16LittleEndian(data[1..]);
        if (data.Length < 3 + (n * 9))
        {
            return false;
        }

        var changes = new ConfChangeSingle[n];
        for (var i = 0; i < n; i++)
        {
            var t = data[3 + (i * 9)];
            if (t > (byte)ConfChangeType.RemoveNode)
            {
                return false;
            }

            changes[i] = new ConfChangeSingle((ConfChangeType)t, BinaryPrimitives.ReadUInt64LittleEndian(data[(4 + (i * 9))..]));
        }

        var context = data[(3 + (n * 9))..];
        change = new ConfChange((ConfChangeTransition)data[0], changes) { Context = context.IsEmpty ? ReadOnlyMemory<byte>.Empty : context.ToArray() };
        return true;
    }

    public override string ToString() =>
        IsLeaveJoint ? "leave-joint" : $"{Transition}[{string.Join(' ', Changes.Select(c => $"{c.Type}:{c.NodeId}"))}]";
}

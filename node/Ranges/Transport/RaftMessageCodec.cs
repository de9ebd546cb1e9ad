using Google.Protobuf;
using Kv.Node.Raft;
using Kv.Proto.V1;

namespace Kv.Node.Ranges.Transport;

/// <summary>
/// Converts the Raft core's messages to and from their wire form (proto/kv/v1/raft.proto).
/// Decoding is where a peer's bytes become trusted objects, so it checks what the core cannot:
/// a known message type and entry type. Everything else (terms, indexes) the core validates.
/// </summary>
internal static class RaftMessageCodec
{
    public static RaftMessage ToWire(Message m)
    {
        var w = new RaftMessage
        {
            Type = (uint)m.Type,
            To = m.To,
            From = m.From,
            Term = m.Term,
            LogTerm = m.LogTerm,
            Index = m.Index,
            Commit = m.Commit,
            Reject = m.Reject,
            RejectHint = m.RejectHint,
            Context = m.Context,
            Transfer = m.Transfer,
        };
        foreach (var e in m.Entries)
        {
            w.Entries.Add(new RaftEntry { Term = e.Term, Index = e.Index, Type = (uint)e.Type, Data = UnsafeByteOperations.UnsafeWrap(e.Data) });
        }

        if (m.Snapshot is { } s)
        {
            w.Snapshot = new RaftSnapshot
            {
                Index = s.Index,
                Term = s.Term,
                ConfState = ToWire(s.Metadata.ConfState),
                Data = UnsafeByteOperations.UnsafeWrap(s.Data),
            };
        }

        return w;
    }

    /// <summary>The core's message, or null with a reason when the peer sent something no version of us would.</summary>
    public static Message? FromWire(RaftMessage w, out string? error)
    {
        error = null;
        if (w.Type > (uint)MessageType.TimeoutNow || Message.IsLocal((MessageType)w.Type))
        {
            error = $"raft message type {w.Type} is not a network message type";
            return null;
        }

        var entries = w.Entries.Count == 0 ? [] : new Entry[w.Entries.Count];
        for (var i = 0; i < entries.Length; i++)
        {
            var e = w.Entries[i];
            if (e.Type > (uint)EntryType.ConfChange)
            {
                error = $"raft entry {e.Index} has unknown type {e.Type}";
                return null;
            }

            entries[i] = new Entry(e.Term, e.Index, (EntryType)e.Type, e.Data.Memory);
        }

        Snapshot? snapshot = null;
        if (w.Snapshot is { } s)
        {
            snapshot = new Snapshot(new SnapshotMetadata(s.Index, s.Term, FromWire(s.ConfState ?? new RaftConfState())), s.Data.Memory);
        }

        return new Message
        {
            Type = (MessageType)w.Type,
            To = w.To,
            From = w.From,
            Term = w.Term,
            LogTerm = w.LogTerm,
            Index = w.Index,
            Entries = entries,
            Commit = w.Commit,
            Snapshot = snapshot,
            Reject = w.Reject,
            RejectHint = w.RejectHint,
            Context = w.Context,
            Transfer = w.Transfer,
        };
    }

    public static RaftConfState ToWire(ConfState cs)
    {
        var w = new RaftConfState { AutoLeave = cs.AutoLeave };
        w.Voters.AddRange(cs.Voters);
        w.Learners.AddRange(cs.Learners);
        w.VotersOutgoing.AddRange(cs.VotersOutgoing);
        w.LearnersNext.AddRange(cs.LearnersNext);
        return w;
    }

    public static ConfState FromWire(RaftConfState w) =>
        new(Sorted(w.Voters), Sorted(w.Learners), Sorted(w.VotersOutgoing), Sorted(w.LearnersNext), w.AutoLeave);

    private static ulong[] Sorted(IEnumerable<ulong> ids)
    {
        var a = ids.Distinct().ToArray();
        Array.Sort(a);
        return a;
    }
}

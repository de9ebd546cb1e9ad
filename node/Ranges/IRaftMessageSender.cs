using Kv.Node.Raft;

namespace Kv.Node.Ranges;

/// <summary>
/// Outbound Raft traffic of a store. Send is called on the driver thread for each message of a
/// round, then Flush once: an implementation batches per destination store between flushes.
/// Both must return quickly (queue, never block on the network); delivery is best effort.
/// </summary>
internal interface IRaftMessageSender
{
    void Send(ulong toStore, ulong groupId, Message message);

    void Flush();
}

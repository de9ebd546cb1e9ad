namespace Kv.Node.Raft;

/// <summary>
/// The leader's pending ReadIndex requests (dissertation 6.4): each records the commit index at
/// arrival and is answered once a quorum acknowledged a heartbeat carrying its context, which
/// proves no newer leader existed at arrival. Requests are answered in arrival order.
/// </summary>
internal sealed class ReadOnlyQueue
{
    private readonly Dictionary<ulong, Pending> pending = [];
    private readonly List<ulong> queue = [];

    internal sealed class Pending(Message request, ulong index)
    {
        public Message Request { get; } = request;

        public ulong Index { get; } = index;

        public Dictionary<ulong, bool> Acks { get; } = [];
    }

    public int Count => queue.Count;

    public void Add(ulong index, Message request)
    {
        if (pending.ContainsKey(request.Context))
        {
            return;
        }

        pending[request.Context] = new Pending(request, index);
        queue.Add(request.Context);
    }

    /// <summary>Records an acknowledgement of context from id; null if the context is unknown.</summary>
    public Dictionary<ulong, bool>? RecvAck(ulong id, ulong context)
    {
        if (!pending.TryGetValue(context, out var p))
        {
            return null;
        }

        p.Acks[id] = true;
        return p.Acks;
    }

    /// <summary>Removes and returns every request up to and including context (a quorum confirmed it, hence all earlier).</summary>
    public List<Pending> Advance(ulong context)
    {
        var result = new List<Pending>();
        var at = queue.IndexOf(context);
        if (at < 0)
        {
            return result;
        }

        for (var i = 0; i <= at; i++)
        {
            result.Add(pending[queue[i]]);
            pending.Remove(queue[i]);
        }

        queue.RemoveRange(0, at + 1);
        return result;
    }

    /// <summary>The newest pending context, piggybacked on heartbeats; 0 if none.</summary>
    public ulong LastPendingContext() => queue.Count == 0 ? 0 : queue[^1];
}

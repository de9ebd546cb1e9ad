namespace Kv.Node.Raft;

/// <summary>
/// The flow-control window to one follower: the last index of each append message sent and not
/// yet acknowledged, oldest first, in a fixed ring (no allocation after construction).
/// </summary>
internal sealed class Inflights
{
    private readonly ulong[] buffer;
    private int start;

    public Inflights(int capacity)
    {
        buffer = new ulong[capacity];
    }

    public int Count { get; private set; }

    public bool Full => Count == buffer.Length;

    public void Add(ulong index)
    {
        if (Full)
        {
            throw new RaftInvariantException("inflights-not-full-on-add", "cannot add into a full inflights window");
        }

        buffer[(start + Count) % buffer.Length] = index;
        Count++;
    }

    /// <summary>Frees every message whose last index is &lt;= to (acknowledged).</summary>
    public void FreeLE(ulong to)
    {
        while (Count > 0 && buffer[start] <= to)
        {
            start = (start + 1) % buffer.Length;
            Count--;
        }

        if (Count == 0)
        {
            start = 0;
        }
    }

    /// <summary>
    /// Frees the oldest slot. Used when a heartbeat answer shows the follower is alive while the
    /// window is full: the appends that filled it may all have been lost, so let one more through.
    /// </summary>
    public void FreeFirstOne()
    {
        if (Count > 0)
        {
            FreeLE(buffer[start]);
        }
    }

    public void Reset()
    {
        Count = 0;
        start = 0;
    }
}

namespace Kv.Node.Mvcc;

/// <summary>
/// Per-key latches of the transactional commands a leader computes: a key hashes to one of a fixed
/// number of slots; a command takes the slots of all its keys in ascending slot order (so two
/// commands never wait for each other in a cycle), waiting asynchronously, and releases them when
/// its proposal has been applied or has failed (dispose the guard). Two keys may share a slot:
/// that only serializes more than needed.
/// </summary>
public sealed class Latches
{
    private readonly SemaphoreSlim[] slots;

    public Latches(int slotCount = 2048)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(slotCount, 1);
        slots = new SemaphoreSlim[slotCount];
        for (var i = 0; i < slotCount; i++)
        {
            slots[i] = new SemaphoreSlim(1, 1);
        }
    }

    /// <summary>Waits for every key's slot; dispose the result to release them.</summary>
    public async Task<IDisposable> AcquireAsync(IEnumerable<ReadOnlyMemory<byte>> keys, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(keys);
        var wanted = keys.Select(Slot).Distinct().Order().ToArray();
        var held = new List<SemaphoreSlim>(wanted.Length);
        try
        {
            foreach (var slot in wanted)
            {
                await slots[slot].WaitAsync(ct).ConfigureAwait(false);
                held.Add(slots[slot]);
            }
        }
        catch
        {
            Release(held);
            throw;
        }

        return new Guard(held);
    }

    private int Slot(ReadOnlyMemory<byte> key)
    {
        var hash = new HashCode();
        hash.AddBytes(key.Span);
        return (int)((uint)hash.ToHashCode() % (uint)slots.Length);
    }

    private static void Release(List<SemaphoreSlim> held)
    {
        for (var i = held.Count - 1; i >= 0; i--)
        {
            held[i].Release();
        }

        held.Clear();
    }

    private sealed class Guard(List<SemaphoreSlim> held) : IDisposable
    {
        private int disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref disposed, 1) == 0)
            {
                Release(held);
            }
        }
    }
}

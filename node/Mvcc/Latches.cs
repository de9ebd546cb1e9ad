using Google.Protobuf;

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
    public Task<IDisposable> AcquireAsync(IEnumerable<ReadOnlyMemory<byte>> keys, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(keys);
        var wanted = keys.Select(k => Slot(k.Span)).Distinct().Order().ToArray();
        return AcquireSlotsAsync(wanted, wanted.Length, ct);
    }

    /// <summary>
    /// As the other overload, for a command's keys as they come off the wire: one array of slots and
    /// no LINQ, since every transactional write command takes its latches here.
    /// </summary>
    public Task<IDisposable> AcquireAsync(IReadOnlyList<ByteString> keys, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(keys);
        var wanted = new int[keys.Count];
        for (var i = 0; i < wanted.Length; i++)
        {
            wanted[i] = Slot(keys[i].Span);
        }

        Array.Sort(wanted);
        var distinct = 0;
        for (var i = 0; i < wanted.Length; i++)
        {
            if (distinct == 0 || wanted[i] != wanted[distinct - 1])
            {
                wanted[distinct++] = wanted[i];
            }
        }

        return AcquireSlotsAsync(wanted, distinct, ct);
    }

    // wanted[..count]: distinct slots in ascending order (the order that rules out waiting in a cycle).
    private async Task<IDisposable> AcquireSlotsAsync(int[] wanted, int count, CancellationToken ct)
    {
        var held = new List<SemaphoreSlim>(count);
        try
        {
            for (var i = 0; i < count; i++)
            {
                var slot = slots[wanted[i]];
                await slot.WaitAsync(ct).ConfigureAwait(false);
                held.Add(slot);
            }
        }
        catch
        {
            Release(held);
            throw;
        }

        return new Guard(held);
    }

    /// <summary>The slot a key hashes to (per process: HashCode is seeded randomly); internal for tests that need keys in distinct slots.</summary>
    internal int Slot(ReadOnlySpan<byte> key)
    {
        var hash = new HashCode();
        hash.AddBytes(key);
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

using Kv.Client;

namespace Kv.Node.Ranges;

/// <summary>The GC safe point as this store knows it: what its Percolator scheduler refuses reads and transactions below.</summary>
internal sealed partial class Store
{
    // Only raised (placement's safe point never moves back, and answers may arrive out of order).
    private ulong gcSafePoint;

    /// <summary>The highest GC safe point this store has learned (from placement's heartbeat answers); zero until it learns one.</summary>
    public Timestamp GcSafePoint => new(Volatile.Read(ref gcSafePoint));

    /// <summary>Raises <see cref="GcSafePoint"/> to <paramref name="safePoint"/> when higher; a lower value (a stale answer) changes nothing. Thread-safe.</summary>
    public void ObserveGcSafePoint(Timestamp safePoint)
    {
        ulong seen = Volatile.Read(ref gcSafePoint);
        while (safePoint.Value > seen)
        {
            ulong was = Interlocked.CompareExchange(ref gcSafePoint, safePoint.Value, seen);
            if (was == seen)
            {
                return;
            }

            seen = was;
        }
    }
}

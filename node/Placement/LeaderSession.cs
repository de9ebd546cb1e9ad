namespace Kv.Node.Placement;

/// <summary>The placement leader's soft state for one term.</summary>
internal sealed class LeaderSession(ulong term, StoreLiveness liveness, RangeLeaders rangeLeaders, TsoAllocator tso, TsoLease lease)
{
    public ulong Term { get; } = term;

    public StoreLiveness Liveness { get; } = liveness;

    public RangeLeaders RangeLeaders { get; } = rangeLeaders;

    /// <summary>Guarded by <see cref="TsoLock"/>.</summary>
    public TsoAllocator Tso { get; } = tso;

    public SemaphoreSlim TsoLock { get; } = new(1, 1);

    /// <summary>Whether <see cref="Tso"/> was reset after a read barrier in this term; guarded by <see cref="TsoLock"/>.</summary>
    public bool TsoReady { get; set; }

    /// <summary>The TSO lease of this term (TsoLease.cs states the argument); guarded by <see cref="LeaseLock"/>.</summary>
    public TsoLease Lease { get; } = lease;

    /// <summary>Guards <see cref="Lease"/>: the request path reads it, a background renewal extends it.</summary>
    public Lock LeaseLock { get; } = new();

    /// <summary>1 while a background renewal of the TSO lease is in flight.</summary>
    public int RenewingLease;

    /// <summary>1 while a background extension of the TSO window is in flight (the placement service's ExtendAhead).</summary>
    public int ExtendingAhead;
}

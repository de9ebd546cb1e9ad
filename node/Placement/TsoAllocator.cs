using System.Diagnostics;
using Kv.Client;

namespace Kv.Node.Placement;

/// <summary>
/// The placement leader's timestamp oracle arithmetic (shared/DESIGN.md section 6): pure, the
/// clock reading is passed in, never read here. Timestamps are <c>physical_ms &lt;&lt; 18 | logical</c>
/// (<see cref="Timestamp"/>); a batch is <c>count</c> consecutive packed values, so a batch that
/// overflows the logical counter simply continues in the next millisecond.
///
/// Why timestamps stay strictly increasing across failover:
///   1. A leader hands out a timestamp only when its physical part is at most the window end
///      persisted through Raft (<see cref="PlacementState"/>'s TSO window, applied on this node).
///   2. A new leader, after a read barrier in its term, knows a window end at least as high as
///      any earlier leader served from, and starts strictly above it (<see cref="Reset"/>).
///   3. Within a term, each batch starts above the last one handed out, whatever the clock says
///      (a clock that goes backwards only slows the physical part down; it never goes back).
/// Not thread-safe: the caller serializes calls (the service holds a lock).
/// </summary>
internal sealed class TsoAllocator
{
    /// <summary>How far ahead of the clock a window extension reaches by default.</summary>
    public const long DefaultWindowMs = 3_000;

    private static readonly ulong MaxValue = Timestamp.Compose(Timestamp.MaxPhysicalMs, Timestamp.MaxLogical).Value;

    private readonly long _windowMs;

    // The last timestamp handed out in this term, or the floor set by Reset (everything at or below may be taken).
    private ulong _last;

    // Reset has been called: the floor is known.
    private bool _started;

    public TsoAllocator(long windowMs = DefaultWindowMs)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(windowMs, 1);
        _windowMs = windowMs;
    }

    /// <summary>The window length this allocator asks for (ms ahead of the clock).</summary>
    public long WindowMs => _windowMs;

    /// <summary>The last timestamp handed out (or the floor after <see cref="Reset"/>); zero before.</summary>
    public Timestamp Last => new(_last);

    /// <summary>
    /// Starts a leader term. <paramref name="persistedWindowEndMs"/> must be read after a read
    /// barrier in the new term, so it covers every timestamp an earlier leader handed out; the
    /// first timestamp of the term has a physical part above it.
    /// </summary>
    public void Reset(long persistedWindowEndMs)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(persistedWindowEndMs);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(persistedWindowEndMs, Timestamp.MaxPhysicalMs - 1);
        _last = Timestamp.Compose(persistedWindowEndMs, Timestamp.MaxLogical).Value;
        _started = true;
    }

    /// <summary>
    /// Hands out <paramref name="count"/> consecutive timestamps when the persisted window allows
    /// it; otherwise changes nothing and names the window end to persist first (then call again
    /// with the new persisted end).
    /// </summary>
    public TsoStep Allocate(long nowMs, long persistedWindowEndMs, uint count)
    {
        if (!_started)
        {
            throw new InvalidOperationException("the TSO allocator has no floor yet: call Reset with the persisted window end after a read barrier in this term");
        }

        ArgumentOutOfRangeException.ThrowIfZero(count);
        long now = Math.Clamp(nowMs, 0, Timestamp.MaxPhysicalMs);
        ulong start = Math.Max(_last + 1, Timestamp.Compose(now, 0).Value);
        if (start > MaxValue - (count - 1))
        {
            throw new InvalidOperationException($"the timestamp space is exhausted (last {Last}); the clock reads {nowMs} ms");
        }

        var end = new Timestamp(start + count - 1);
        if (end.PhysicalMs > persistedWindowEndMs)
        {
            long needed = Math.Min(Math.Max(end.PhysicalMs, now) + _windowMs, Timestamp.MaxPhysicalMs);
            return new TsoStep(Timestamp.Zero, needed);
        }

        Debug.Assert(end.Value > _last, "timestamps only increase");
        _last = end.Value;
        return new TsoStep(end, 0);
    }
}

/// <summary>
/// The outcome of <see cref="TsoAllocator.Allocate"/>: either the last timestamp of the batch,
/// or the window end that must be persisted before the batch can be served.
/// </summary>
internal readonly record struct TsoStep(Timestamp Last, long NeedWindowEndMs)
{
    public bool IsAllocated => NeedWindowEndMs == 0;
}

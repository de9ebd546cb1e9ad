using Kv.Client;
using Kv.Proto.V1;

namespace Kv.Node.Mvcc;

/// <summary>
/// Reads and transactions below the GC safe point (shared/DESIGN.md section 6), pure: versions a
/// read below the safe point would need may already be dropped, so it must fail, never answer from
/// a history with holes. A transaction starting below it is refused for the same reason (its reads
/// were at its start_ts), and because GC drops the protected rollbacks below the safe point that
/// would otherwise stop its late prewrite.
/// </summary>
public static class GcSafePointCheck
{
    /// <summary>Null when <paramref name="ts"/> is at or above <paramref name="safePoint"/>; otherwise the typed refusal, saying what to do.</summary>
    /// <remarks>what: what was asked, for the message ("a read", "a transaction starting").</remarks>
    public static KeyError? Check(Timestamp ts, Timestamp safePoint, string what)
    {
        if (ts >= safePoint)
        {
            return null;
        }

        return new KeyError
        {
            Message = $"{what} at {ts.Value} is below the GC safe point {safePoint.Value}: versions it needs may already be collected; " +
                "restart the transaction with a new timestamp from the TSO (or, for a read at a fixed time, hold a service safe point before GC passes it)",
            BelowGcSafePoint = new BelowGcSafePoint { Ts = ts.Value, SafePoint = safePoint.Value },
        };
    }
}

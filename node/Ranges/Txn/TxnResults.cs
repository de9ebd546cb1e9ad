using Kv.Proto.V1;

namespace Kv.Node.Ranges.Txn;

// The Percolator scheduler's answers. A RangeError is a routing refusal (not leader, stale epoch,
// key outside the range, range gone, leadership changed before the proposal): nothing was written
// and the client retries where the error points. Key errors are the Percolator rules' refusals.

/// <summary>A write command's answer: the routing refusal (then Result is default), or the rule's result.</summary>
internal readonly record struct TxnWriteResult<T>(RangeError? RangeError, T? Result);

/// <summary>
/// A Get's answer: the routing refusal, or the lock in the way, or the value (null: no visible version).
/// </summary>
internal readonly record struct TxnGetResult(RangeError? RangeError, KeyError? Error, byte[]? Value);

/// <summary>
/// A Scan's answer: the lock that stopped it (the pairs before it stand), whether the limit cut it
/// short, and a routing refusal (then the pairs must not be answered; the key error, if any, was still met).
/// </summary>
internal readonly record struct TxnScanResult(RangeError? RangeError, KeyError? Error, bool More);

/// <summary>
/// A ResolveLock's answer. Attempted is false when the range-wide search for the transaction's
/// locks was refused (RangeError) or found none: nothing was latched or proposed.
/// </summary>
internal readonly record struct ResolveLockResult(RangeError? RangeError, KeyError? Error, uint Resolved, bool Attempted);

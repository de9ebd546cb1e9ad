using Kv.Client;
using Kv.Node.Placement.Operations;
using Kv.Proto.V1;

namespace Kv.Node.Placement.Gc;

/// <summary>
/// The rules of the GC safe point and the service safe points, applied to placement's replicated
/// state (shared/DESIGN.md section 6). Pure: no I/O, clocks or threads; times come in the commands
/// (at_ms, now_ts, set by the proposer).
///
/// Contract, as for every placement command (see <see cref="PlacementState"/>):
///   1. Each function takes the snapshot before the command and returns the result and the
///      snapshot after; a refusal returns the same snapshot and no mutations.
///   2. The safe point never moves back: every version a reader at or above it may need is kept,
///      and once versions below it are dropped, a lower safe point would let reads see a history
///      with holes. A lower value is a refusal, never a silent no-op, so the caller learns it.
///   3. It never passes the TSO's now (a transaction that starts after the set would already be
///      below it) nor a live service safe point (a backup reading at its ts would lose versions).
///   4. Every change is audited (who, what, reason) in the same apply.
/// </summary>
internal static class GcRules
{
    /// <summary>The hard cap on a service safe point's TTL; a node's configured maximum is at most this.</summary>
    public const long MaxServiceTtlMs = 30L * 24 * 60 * 60 * 1000;

    public const int MaxNameLength = 128;

    /// <summary>Null when <paramref name="name"/> is a valid service safe point name ([A-Za-z0-9._-], 1 to 128 characters); otherwise what is wrong.</summary>
    internal static string? CheckName(string? name)
    {
        if (string.IsNullOrEmpty(name))
        {
            return "the service safe point name is empty: name the service that holds it (for example the backup's id)";
        }

        if (name.Length > MaxNameLength)
        {
            return $"the service safe point name is {name.Length} characters long: use at most {MaxNameLength}";
        }

        foreach (char ch in name)
        {
            if (!(char.IsAsciiLetterOrDigit(ch) || ch is '.' or '_' or '-'))
            {
                return $"the service safe point name '{name}' has the character '{ch}': use letters, digits, '.', '_' and '-'";
            }
        }

        return null;
    }

    internal static (PlacementApplyResult, PlacementSnapshot) SetSafePoint(PlacementSnapshot s, SetGcSafePointCommand c)
    {
        if (!s.IsBootstrapped)
        {
            return (PlacementState.NotBootstrapped(), s);
        }

        if (CheckCaller(c.Who, c.AtMs) is { } bad)
        {
            return Invalid(s, $"GC safe point: {bad}");
        }

        var asked = new Timestamp(c.SafePoint);
        var current = s.Gc.SafePoint;
        if (asked < current)
        {
            return Precondition(s, $"the GC safe point is {current} and never moves back (asked {asked}): versions below it may already be gone; " +
                "ask for a safe point at or above it");
        }

        if (asked == current)
        {
            return (PlacementApplyResult.Applied($"the GC safe point is already {current}", []), s);
        }

        if (c.NowTs == 0)
        {
            return Invalid(s, "GC safe point: now_ts is 0: the proposer takes a timestamp from the TSO before proposing");
        }

        var now = new Timestamp(c.NowTs);
        if (asked > now)
        {
            return Invalid(s, $"the GC safe point {asked} is above the TSO's now ({now}): transactions starting now would read below it; " +
                "ask for a timestamp at or below now (kvctl gc status shows both)");
        }

        if (s.Gc.LowestLive(c.AtMs) is { } service && asked.Value > service.Ts)
        {
            return Precondition(s, $"the GC safe point {asked} would pass service safe point '{service.Name}' (owner {service.Owner}) at {new Timestamp(service.Ts)}, " +
                $"live until {GcState.Expires(service)}: ask for at most {new Timestamp(service.Ts)}, or remove that service safe point " +
                "(kvctl gc service remove, --force with a reason for another owner's)");
        }

        var record = new GcSafePointRecord { SafePoint = asked.Value, UpdatedBy = c.Who, Reason = c.Reason, UpdatedMs = c.AtMs };
        var batch = new OperationRules.Batch(s);
        batch.Put(GcRecords.SafePointKey(), record);
        string what = $"GC safe point {current} -> {asked}";
        batch.Audit(Setting(c.Who, c.AtMs, what, c.Reason));
        var (result, after) = batch.Done(what, null);
        return (result, after with { Gc = s.Gc with { SafePointRecord = record } });
    }

    internal static (PlacementApplyResult, PlacementSnapshot) SetService(PlacementSnapshot s, SetServiceSafePointCommand c)
    {
        if (!s.IsBootstrapped)
        {
            return (PlacementState.NotBootstrapped(), s);
        }

        if (CheckName(c.Name) is { } badName)
        {
            return Invalid(s, badName);
        }

        if (CheckCaller(c.Who, c.AtMs) is { } bad)
        {
            return Invalid(s, $"service safe point '{c.Name}': {bad}");
        }

        if (c.TtlMs <= 0 || c.TtlMs > MaxServiceTtlMs)
        {
            return Invalid(s, $"service safe point '{c.Name}': TTL {c.TtlMs} ms is outside 1 ms..{MaxServiceTtlMs / 86_400_000} days: " +
                "give a TTL the service renews within (for example 10m), and renew it while the service runs");
        }

        if (c.Ts == 0)
        {
            return Invalid(s, $"service safe point '{c.Name}': ts is 0: give the timestamp the service reads at");
        }

        var ts = new Timestamp(c.Ts);
        if (ts < s.Gc.SafePoint)
        {
            return Precondition(s, $"service safe point '{c.Name}': ts {ts} is below the GC safe point {s.Gc.SafePoint}, so versions it would protect may be gone: " +
                "take a new timestamp (at or above the safe point) and start the service's read again from it");
        }

        s.Gc.Services.TryGetValue(c.Name, out var existing);
        if (existing is not null && existing.Owner != c.Who && GcState.IsLive(existing, c.AtMs))
        {
            return (PlacementApplyResult.Refused(PlacementErrorCode.PlacementErrorConflict,
                $"service safe point '{c.Name}' is held by {existing.Owner} until {GcState.ExpiresMs(existing)} ms: choose another name, " +
                "or remove it first (kvctl gc service remove --force with a reason)"), s);
        }

        var record = new ServiceSafePointRecord
        {
            Name = c.Name,
            Owner = c.Who,
            Ts = ts.Value,
            TtlMs = c.TtlMs,
            CreatedMs = existing is not null && existing.Owner == c.Who ? existing.CreatedMs : c.AtMs,
            LastRenewalMs = c.AtMs,
        };
        var batch = new OperationRules.Batch(s);
        batch.Put(GcRecords.ServiceKey(c.Name), record);
        string what = existing is null || existing.Owner != c.Who
            ? $"service safe point '{c.Name}' set at {ts} for {c.TtlMs} ms"
            : $"service safe point '{c.Name}' renewed at {ts} for {c.TtlMs} ms";

        // Renewals are frequent (every few seconds per running backup): auditing each would push
        // the operation history out of the bounded audit log, so only creation and takeover are.
        if (existing is null || existing.Owner != c.Who)
        {
            batch.Audit(Setting(c.Who, c.AtMs, what, string.Empty));
        }

        var (result, after) = batch.Done(what, null);
        return (result, after with { Gc = s.Gc with { Services = s.Gc.Services.SetItem(c.Name, record) } });
    }

    internal static (PlacementApplyResult, PlacementSnapshot) RemoveService(PlacementSnapshot s, RemoveServiceSafePointCommand c)
    {
        if (!s.IsBootstrapped)
        {
            return (PlacementState.NotBootstrapped(), s);
        }

        if (CheckName(c.Name) is { } badName)
        {
            return Invalid(s, badName);
        }

        if (CheckCaller(c.Who, c.AtMs) is { } bad)
        {
            return Invalid(s, $"service safe point '{c.Name}': {bad}");
        }

        if (!s.Gc.Services.TryGetValue(c.Name, out var existing))
        {
            return (PlacementApplyResult.Refused(PlacementErrorCode.PlacementErrorNotFound,
                $"service safe point '{c.Name}' does not exist: list them (kvctl gc service list) for the names"), s);
        }

        bool foreign = existing.Owner != c.Who;
        if (foreign && !c.Force)
        {
            return Precondition(s, $"service safe point '{c.Name}' belongs to {existing.Owner}, not {c.Who}: removing it lets GC drop versions that service may still read; " +
                "if it is abandoned, remove it with --force and a reason");
        }

        if (foreign && string.IsNullOrWhiteSpace(c.Reason))
        {
            return Invalid(s, $"removing {existing.Owner}'s service safe point '{c.Name}' with force needs a reason (it is audited): add --reason");
        }

        var batch = new OperationRules.Batch(s);
        batch.Delete(GcRecords.ServiceKey(c.Name));
        string what = $"service safe point '{c.Name}' (owner {existing.Owner}, ts {new Timestamp(existing.Ts)}) removed";
        if (foreign)
        {
            batch.Audit(new AuditEntry { AtMs = c.AtMs, Who = c.Who, Action = AuditAction.Override, What = what + " with force", Reason = c.Reason, Outcome = "applied" });
        }
        else
        {
            batch.Audit(Setting(c.Who, c.AtMs, what, c.Reason));
        }

        var (result, after) = batch.Done(what, null);
        return (result, after with { Gc = s.Gc with { Services = s.Gc.Services.Remove(c.Name) } });
    }

    private static string? CheckCaller(string who, long atMs) =>
        string.IsNullOrWhiteSpace(who) ? "who is empty: the proposer sets the caller's identity"
        : atMs < 0 ? $"at_ms {atMs} is negative: the proposer sets it from its clock"
        : null;

    private static AuditEntry Setting(string who, long atMs, string what, string reason) => new()
    {
        AtMs = atMs,
        Who = who,
        Action = AuditAction.Setting,
        What = what,
        Reason = reason,
        Outcome = "applied",
    };

    private static (PlacementApplyResult, PlacementSnapshot) Invalid(PlacementSnapshot s, string message) =>
        (PlacementApplyResult.Refused(PlacementErrorCode.PlacementErrorInvalidArgument, message), s);

    private static (PlacementApplyResult, PlacementSnapshot) Precondition(PlacementSnapshot s, string message) =>
        (PlacementApplyResult.Refused(PlacementErrorCode.PlacementErrorFailedPrecondition, message), s);
}

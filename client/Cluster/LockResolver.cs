using System.Globalization;
using System.Text;
using Google.Protobuf;
using Kv.Proto.V1;

namespace Kv.Client.Cluster;

/// <summary>The fate of a transaction as its primary key's range reports it.</summary>
/// <param name="Kind">Locked (still running, or crashed and not yet expired), committed, rolled back, or unknown (no lock and no record: the prewrite has not reached the primary yet).</param>
/// <param name="CommitTs">The commit timestamp when committed.</param>
/// <param name="LockTtlMs">The primary lock's TTL when locked.</param>
/// <param name="RolledBackNow">True when this check itself rolled the transaction back (its lock had expired).</param>
public sealed record TxnStatus(TxnStatusKind Kind, Timestamp CommitTs, ulong LockTtlMs, bool RolledBackNow);

/// <summary>
/// Resolves the lock of another transaction that a read met (Percolator, shared/DESIGN.md
/// section 6): the primary key decides the transaction's fate.
/// 1. Ask the primary's range (CheckTxnStatus, current_ts from the TSO). Once the lock's TTL has
///    passed (physical(lock_ts) + ttl &lt; physical(now)) ask with rollback_if_not_exist, so an
///    expired or never-written primary is rolled back and can never commit later.
/// 2. Committed: commit the met lock at the primary's commit_ts (ResolveLock on the lock's range).
///    Rolled back: roll the met lock back (ResolveLock with commit_ts 0).
/// 3. Still locked (TTL not passed), or no record yet (the prewrite is in flight): back off and let
///    the reader retry; when the operation's deadline passes first, KeyIsLocked.
/// Thread-safe; one per <see cref="KvClient"/> (<see cref="KvClient.LockResolver"/>).
/// </summary>
public sealed class LockResolver
{
    private readonly KvClient _client;

    internal LockResolver(KvClient client)
    {
        _client = client;
    }

    /// <summary>
    /// The fate of transaction <paramref name="startTs"/> whose primary key is
    /// <paramref name="primary"/>. With <paramref name="rollbackIfNotExist"/> a transaction with
    /// neither lock nor record is rolled back for good (use only when it must be decided now,
    /// for example its TTL has passed); an expired primary lock is always rolled back.
    /// </summary>
    public async Task<TxnStatus> CheckTxnStatusAsync(ReadOnlyMemory<byte> primary, Timestamp startTs, bool rollbackIfNotExist, CancellationToken cancellationToken = default)
    {
        var key = KvClient.KeyOf(primary, nameof(primary));
        var op = _client.NewOperation($"check the status of transaction {startTs.Value}", cancellationToken);
        var now = await _client.GetTimestampAsync(cancellationToken).ConfigureAwait(false);
        return await CheckAsync(key, startTs, now, rollbackIfNotExist, op).ConfigureAwait(false);
    }

    /// <summary>
    /// One resolution step for a lock met by a read or a prewrite. True when the
    /// lock is gone (committed or rolled back): retry the read now. False after backing off
    /// (the lock's holder may still commit): retry the read. Throws KeyIsLocked when the deadline passes.
    /// </summary>
    internal async Task<bool> ResolveAsync(LockInfo lockInfo, Operation op)
    {
        var lockTs = new Timestamp(lockInfo.LockVersion);
        var now = await _client.GetTimestampAsync(op.CancellationToken).ConfigureAwait(false);
        var expired = IsExpired(lockTs, lockInfo.LockTtlMs, now);
        var primary = lockInfo.PrimaryLock.IsEmpty ? lockInfo.Key : lockInfo.PrimaryLock;
        var status = await CheckAsync(primary, lockTs, now, rollbackIfNotExist: expired, op).ConfigureAwait(false);
        switch (status.Kind)
        {
            case TxnStatusKind.Committed:
                await ResolveKeyAsync(lockInfo.Key, lockTs, status.CommitTs, op).ConfigureAwait(false);
                return true;
            case TxnStatusKind.RolledBack:
                await ResolveKeyAsync(lockInfo.Key, lockTs, Timestamp.Zero, op).ConfigureAwait(false);
                return true;
            default:
                try
                {
                    await op.BackoffAsync().ConfigureAwait(false);
                }
                catch (KvException e) when (e.Kind == KvErrorKind.Unavailable)
                {
                    throw LockedPastDeadline(lockInfo, op, e);
                }

                return false;
        }
    }

    /// <summary>
    /// KeyIsLocked: the operation's deadline passed while it was resolving <paramref name="lockInfo"/>
    /// (during the backoff or any call made for it). Callers that met a lock map Unavailable to this.
    /// </summary>
    internal static KvException LockedPastDeadline(LockInfo lockInfo, Operation op, KvException inner)
    {
        var primary = lockInfo.PrimaryLock.IsEmpty ? lockInfo.Key : lockInfo.PrimaryLock;
        return new KvException(KvErrorKind.KeyIsLocked,
            $"key {Display(lockInfo.Key)} is locked by transaction {lockInfo.LockVersion} (primary {Display(primary)}), which neither committed nor expired " +
            $"(TTL {lockInfo.LockTtlMs} ms) before the deadline to {op.What}; retry later ({inner.Message})", inner);
    }

    /// <summary>True when the lock's TTL has passed at now: physical(lock_ts) + ttl &lt; physical(now).</summary>
    internal static bool IsExpired(Timestamp lockTs, ulong ttlMs, Timestamp now) =>
        (ulong)now.PhysicalMs > (ulong)lockTs.PhysicalMs + ttlMs;

    /// <summary>A key for messages: UTF-8 text when printable, else 0x-hex.</summary>
    internal static string Display(ByteString key)
    {
        var bytes = key.Span;
        var printable = true;
        foreach (var b in bytes)
        {
            if (b < 0x20 || b > 0x7e)
            {
                printable = false;
                break;
            }
        }

        if (printable)
        {
            return Encoding.ASCII.GetString(bytes);
        }

        var text = new StringBuilder("0x", 2 + (bytes.Length * 2));
        foreach (var b in bytes)
        {
            text.Append(b.ToString("x2", CultureInfo.InvariantCulture));
        }

        return text.ToString();
    }

    private async Task<TxnStatus> CheckAsync(ByteString primary, Timestamp lockTs, Timestamp now, bool rollbackIfNotExist, Operation op)
    {
        var (response, _) = await _client.RangeCallAsync(static (s, r, o) => s.TxnKv.CheckTxnStatusAsync(r, o),
            r => new CheckTxnStatusRequest { Context = r.Context, PrimaryKey = primary, LockTs = lockTs.Value, CurrentTs = now.Value, RollbackIfNotExist = rollbackIfNotExist },
            r => r.RangeError, o => _client.LocateAsync(primary, o), op).ConfigureAwait(false);
        if (response.Error is { } error)
        {
            if (error.TxnNotFound is not null)
            {
                return new TxnStatus(TxnStatusKind.Unknown, Timestamp.Zero, 0, false);
            }

            throw new KvException(KvErrorKind.Internal, $"checking transaction {lockTs.Value} on its primary {Display(primary)} failed: {Describe(error)}");
        }

        return new TxnStatus(response.Status, new Timestamp(response.CommitTs), response.LockTtlMs, response.RolledBackNow);
    }

    private async Task ResolveKeyAsync(ByteString key, Timestamp lockTs, Timestamp commitTs, Operation op)
    {
        var (response, _) = await _client.RangeCallAsync(static (s, r, o) => s.TxnKv.ResolveLockAsync(r, o),
            r => new ResolveLockRequest { Context = r.Context, StartTs = lockTs.Value, CommitTs = commitTs.Value, Keys = { key } },
            r => r.RangeError, o => _client.LocateAsync(key, o), op).ConfigureAwait(false);

        // txn_not_found: someone else resolved it first (no lock left); any other error is a bug.
        if (response.Error is { } error && error.TxnNotFound is null)
        {
            throw new KvException(KvErrorKind.Internal, $"resolving the lock of transaction {lockTs.Value} on {Display(key)} failed: {Describe(error)}");
        }
    }

    internal static string Describe(KeyError error) =>
        error.Message.Length > 0 ? error.Message : error.ToString();
}

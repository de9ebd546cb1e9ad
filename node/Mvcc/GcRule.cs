using Kv.Client;

namespace Kv.Node.Mvcc;

/// <summary>What GC drops of one key: write records by commit_ts, values (default CF) by start_ts.</summary>
public sealed record KeyGarbage(IReadOnlyList<Timestamp> WriteCommitTs, IReadOnlyList<Timestamp> ValueStartTs)
{
    public static KeyGarbage None { get; } = new([], []);

    public bool IsEmpty => WriteCommitTs.Count == 0 && ValueStartTs.Count == 0;
}

/// <summary>
/// The MVCC GC rule for one key (shared/DESIGN.md section 6), pure: given the key's write records
/// and the GC safe point, which records and values to drop so that every read at a timestamp at or
/// above the safe point returns what it returned before.
///
/// The rule, with versions newest first:
///   1. Records committed above the safe point stay: a read between the safe point and them does
///      not see them, a read above does.
///   2. At or below the safe point, the newest Put or Delete is what every read at or above the
///      safe point falls back to. A Put stays (with its value); a Delete goes, because reading
///      nothing and reading a Delete are the same answer.
///   3. Everything older than that version goes, with the values of the Puts among it.
///   4. Rollback and Lock records at or below the safe point go: reads skip them, and a
///      transaction whose start_ts is below the safe point can no longer prewrite or commit (it is
///      refused as below the safe point), so a protected rollback there protects nothing. The GC
///      round resolves every lock below its safe point before it publishes it, which is what makes
///      this hold.
/// A Put kept under rule 2 keeps its OverlappedRollback flag (the record is not rewritten).
/// </summary>
public static class GcRule
{
    /// <summary>
    /// The garbage of one key. <paramref name="versionsNewestFirst"/> are the key's write records
    /// ordered by commit_ts descending, as the write column family stores them.
    /// </summary>
    public static KeyGarbage Collect(IReadOnlyList<(Timestamp CommitTs, WriteRecord Record)> versionsNewestFirst, Timestamp safePoint)
    {
        ArgumentNullException.ThrowIfNull(versionsNewestFirst);
        List<Timestamp>? writes = null;
        List<Timestamp>? values = null;
        bool foundVisible = false;
        for (int i = 0; i < versionsNewestFirst.Count; i++)
        {
            var (commitTs, record) = versionsNewestFirst[i];
            if (commitTs > safePoint)
            {
                continue; // rule 1
            }

            bool drop;
            if (foundVisible)
            {
                drop = true; // rule 3
            }
            else if (record.Type == WriteType.Put)
            {
                foundVisible = true;
                drop = false; // rule 2: the version reads at the safe point return
            }
            else if (record.Type == WriteType.Delete)
            {
                foundVisible = true;
                drop = true; // rule 2: a Delete reads as absent, as no version does
            }
            else
            {
                drop = true; // rule 4
            }

            if (drop)
            {
                (writes ??= []).Add(commitTs);
                if (record.Type == WriteType.Put && record.ShortValue is null)
                {
                    (values ??= []).Add(record.StartTs);
                }
            }
        }

        return writes is null ? KeyGarbage.None : new KeyGarbage(writes, (IReadOnlyList<Timestamp>?)values ?? []);
    }
}

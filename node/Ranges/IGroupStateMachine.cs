using Kv.Node.Raft;
using Kv.Node.Storage;

namespace Kv.Node.Ranges;

/// <summary>
/// The application side of one Raft group hosted by a <see cref="Store"/>: a range's data or the
/// placement state. Called only on the store's driver thread.
/// Contract: Apply stages every durable effect of the entry into the given batch (the store adds
/// the group's applied index to the same batch and writes it once, so effects and applied index
/// are atomic). Apply must be deterministic (same log, same effects on every replica) and must
/// not throw on any command a client or peer could have caused: a refused command is a result.
/// </summary>
internal interface IGroupStateMachine
{
    /// <summary>Applies one committed normal entry with a payload; returns the proposal id it carries (0: none) and the proposer's result.</summary>
    (ulong ProposalId, object? Result) Apply(in Entry entry, WriteBatch batch);

    /// <summary>
    /// A committed membership change took effect in Raft (applied is the configuration after it;
    /// changes the core refused are not reported). Stages what goes with it into the entry's
    /// batch, deterministically from applied and change.Context. Returns false when this replica
    /// is no longer a member: the store then destroys the group in the same batch
    /// (<see cref="StageDestroy"/> plus its Raft state) and applies nothing after this entry.
    /// </summary>
    bool ApplyConfChange(in Entry entry, ConfChange change, ConfState applied, WriteBatch batch) => true;

    /// <summary>
    /// Stages the deletion of everything this replica owns outside its Raft state (descriptor,
    /// data). keep: the user-key spans of the store's other live replicas; no data inside them is
    /// deleted, whatever this replica's descriptor claims (a stale or wrongly created replica must
    /// never take another range's data with it).
    /// </summary>
    void StageDestroy(WriteBatch batch, IReadOnlyList<UserKeySpan> keep)
    {
    }

    /// <summary>The user keys whose data this replica owns; null when it owns none (placement, an uninitialized replica).</summary>
    UserKeySpan? DataSpan => null;
}

/// <summary>A span [Start, End) of user keys; an empty End is +infinity.</summary>
internal readonly record struct UserKeySpan(ReadOnlyMemory<byte> Start, ReadOnlyMemory<byte> End)
{
    /// <summary>
    /// The parts of this span outside every span in keep, in key order. Pure. Spans in keep may
    /// overlap each other or reach outside this one.
    /// </summary>
    public IReadOnlyList<UserKeySpan> Minus(IReadOnlyList<UserKeySpan> keep)
    {
        var pieces = new List<UserKeySpan> { this };
        foreach (var k in keep)
        {
            var next = new List<UserKeySpan>(pieces.Count + 1);
            foreach (var p in pieces)
            {
                // No overlap: k ends at or before p starts, or starts at or after p ends.
                bool kEndsBefore = !k.End.IsEmpty && Compare(k.End, p.Start) <= 0;
                bool kStartsAfter = !p.End.IsEmpty && Compare(k.Start, p.End) >= 0;
                if (kEndsBefore || kStartsAfter)
                {
                    next.Add(p);
                    continue;
                }

                if (Compare(p.Start, k.Start) < 0)
                {
                    next.Add(new UserKeySpan(p.Start, k.Start));
                }

                if (!k.End.IsEmpty && (p.End.IsEmpty || Compare(k.End, p.End) < 0))
                {
                    next.Add(new UserKeySpan(k.End, p.End));
                }
            }

            pieces = next;
        }

        return pieces;
    }

    private static int Compare(ReadOnlyMemory<byte> a, ReadOnlyMemory<byte> b) => a.Span.SequenceCompareTo(b.Span);
}

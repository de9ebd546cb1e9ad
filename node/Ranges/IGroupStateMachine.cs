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

    /// <summary>Stages the deletion of everything this replica owns outside its Raft state (descriptor, data).</summary>
    void StageDestroy(WriteBatch batch)
    {
    }
}

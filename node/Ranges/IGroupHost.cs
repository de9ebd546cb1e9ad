using Kv.Node.Raft;
using Kv.Node.Storage;

namespace Kv.Node.Ranges;

/// <summary>
/// What a state machine may ask of the store that hosts it while it applies an entry (driver
/// thread only, from inside <see cref="IGroupStateMachine.Apply"/>): read a group's membership and
/// create a new group atomically with the entry. Implemented by <see cref="Store"/>; a split is
/// its first user, but nothing here knows about ranges.
/// </summary>
internal interface IGroupHost
{
    ulong StoreId { get; }

    /// <summary>The group's configuration as of the entries applied so far (deterministic at apply); null when the group is not open here.</summary>
    ConfState? ConfStateOf(ulong groupId);

    /// <summary>Whether the group exists on this store: open, persisted, or staged for creation by an earlier apply of this round.</summary>
    bool HasGroup(ulong groupId);

    /// <summary>
    /// Stages the new group's initial Raft state (a synthetic snapshot at <see cref="Store.InitialIndex"/>
    /// with <see cref="NewGroup.ConfState"/>, the matching hard state and applied index) into batch,
    /// the batch of the entry being applied, so the group exists exactly when the entry's effects do.
    /// After the round's write the store opens the group and runs <see cref="NewGroup.Opened"/>.
    /// Throws when <see cref="HasGroup"/> is true: the caller checks first.
    /// </summary>
    void StageCreateGroup(WriteBatch batch, NewGroup group);
}

/// <summary>A group to create during apply (see <see cref="IGroupHost.StageCreateGroup"/>).</summary>
/// <param name="GroupId">The new group's id.</param>
/// <param name="LocalMemberId">This store's member of it.</param>
/// <param name="Machine">Its state machine (its own state, a descriptor say, is staged by the caller into the same batch).</param>
/// <param name="StoreOfMember">Maps its member ids to stores.</param>
/// <param name="ConfState">Its initial membership.</param>
/// <param name="CampaignIfLeaderOf">When this store leads that group at open time, the new group campaigns at once instead of waiting for an election timeout (0: never).</param>
/// <param name="Opened">Runs on the driver thread once the group is open (registering it where services find it).</param>
internal sealed record NewGroup(
    ulong GroupId,
    ulong LocalMemberId,
    IGroupStateMachine Machine,
    Func<ulong, ulong> StoreOfMember,
    ConfState ConfState,
    ulong CampaignIfLeaderOf = 0,
    Action<RaftGroup>? Opened = null);

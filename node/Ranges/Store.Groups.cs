using Kv.Node.Raft;
using Kv.Node.Ranges.RaftLog;
using Kv.Node.Storage;
using Microsoft.Extensions.Logging;

namespace Kv.Node.Ranges;

/// <summary>Groups created by a state machine while it applies an entry (<see cref="IGroupHost"/>): a range split.</summary>
internal sealed partial class Store : IGroupHost
{
    // Groups staged this round by an apply; opened after the round's write (driver thread only).
    private readonly List<(NewGroup Group, EngineRaftStorage Storage)> created = [];

    // New groups that campaign again at a tick while they have no leader: (group, parent, tick, tries left).
    private readonly List<(ulong GroupId, ulong ParentId, long AtTick, int TriesLeft)> campaigns = [];

    public ConfState? ConfStateOf(ulong groupId) => groups.TryGetValue(groupId, out var g) ? g.Node.ConfState : null;

    public bool HasGroup(ulong groupId)
    {
        if (groups.ContainsKey(groupId))
        {
            return true;
        }

        foreach (var (g, _) in created)
        {
            if (g.GroupId == groupId)
            {
                return true;
            }
        }

        return GroupExists(groupId);
    }

    public void StageCreateGroup(WriteBatch batch, NewGroup group)
    {
        ArgumentNullException.ThrowIfNull(group);
        if (HasGroup(group.GroupId))
        {
            throw new InvalidOperationException($"group {group.GroupId} already exists on store {StoreId}");
        }

        var storage = new EngineRaftStorage(engine, group.GroupId);
        StageInitialState(batch, storage, group.GroupId, group.ConfState);
        created.Add((group, storage));
    }

    /// <summary>
    /// The synthetic snapshot at <see cref="InitialIndex"/> every new group starts from, its hard
    /// state and applied index. A hard state already persisted (<paramref name="prior"/>; empty for a
    /// new group) with a later term keeps that term and its vote.
    /// </summary>
    private static void StageInitialState(WriteBatch batch, EngineRaftStorage storage, ulong groupId, ConfState confState, HardState prior = default)
    {
        var snap = new Snapshot(new SnapshotMetadata(InitialIndex, InitialIndex, confState), ReadOnlyMemory<byte>.Empty);
        storage.StageSnapshot(batch, snap);
        storage.StageHardState(batch, prior.Term > InitialIndex ? new HardState(prior.Term, prior.Vote, InitialIndex) : new HardState(InitialIndex, 0, InitialIndex));
        StageApplied(batch, groupId, InitialIndex);
    }

    /// <summary>Step 4 of a round, after the write: opens the groups applies created in it.</summary>
    private void OpenCreatedGroups()
    {
        if (created.Count == 0)
        {
            return;
        }

        foreach (var (spec, storage) in created)
        {
            storage.OnPersisted();
            var g = Register(spec.GroupId, spec.LocalMemberId, storage, spec.Machine, spec.StoreOfMember);
            LogGroupCreated(spec.GroupId, spec.LocalMemberId, spec.ConfState);
            spec.Opened?.Invoke(g);
            if (spec.CampaignIfLeaderOf != 0 && groups.TryGetValue(spec.CampaignIfLeaderOf, out var parent) && parent.Node.Role == RaftRole.Leader)
            {
                // The other members create their replica when they apply the same entry, which
                // they learn is committed from the parent's next heartbeat: until then they drop
                // this campaign's messages. So try again a little later rather than waiting a
                // whole randomized election timeout.
                g.Node.Campaign();
                campaigns.Add((spec.GroupId, spec.CampaignIfLeaderOf, ticks + CampaignRetryTicks, 3));
            }
        }

        created.Clear();
    }

    private long CampaignRetryTicks => (2 * options.HeartbeatTicks) + 1;

    /// <summary>Tick: new groups still without a leader campaign again (while this store leads their parent).</summary>
    private void RetryCampaigns()
    {
        for (var i = campaigns.Count - 1; i >= 0; i--)
        {
            var (id, parentId, at, left) = campaigns[i];
            if (ticks < at)
            {
                continue;
            }

            campaigns.RemoveAt(i);
            if (!groups.TryGetValue(id, out var g) || g.Node.Lead != 0 || g.Node.Role == RaftRole.Leader
                || !groups.TryGetValue(parentId, out var parent) || parent.Node.Role != RaftRole.Leader)
            {
                continue;
            }

            g.Node.Campaign();
            if (left > 1)
            {
                campaigns.Add((id, parentId, ticks + CampaignRetryTicks, left - 1));
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "group {GroupId} created by an apply as member {MemberId}: {ConfState}")]
    private partial void LogGroupCreated(ulong groupId, ulong memberId, ConfState confState);
}

using Google.Protobuf;
using Kv.Node.Placement;
using Kv.Node.Raft;
using Kv.Node.Ranges;
using Kv.Node.Storage;
using Kv.Proto.V1;

namespace Kv.Node.Server.Hosting;

/// <summary>
/// Hosts the placement Raft group (group id 0) on the store: the bridge between the placement
/// service (<see cref="IPlacementGroup"/>) and the multi-raft store (<see cref="IGroupStateMachine"/>).
/// Members are the --join addresses; member id = position = store id. On a node that is not a
/// member, only the configuration-derived members are known and every request is answered
/// NOT_LEADER with the member list.
/// </summary>
internal sealed class PlacementGroupHost : IPlacementGroup, IGroupStateMachine
{
    public const ulong GroupId = 0;

    private static long nextProposal = Random.Shared.NextInt64();
    private readonly Store store;
    private readonly PlacementState state;
    private RaftGroup? group;

    public PlacementGroupHost(Store store, IReadOnlyList<string> memberAddresses, ulong localMemberId)
    {
        this.store = store;
        LocalMemberId = localMemberId;
        Members = memberAddresses.Select((a, i) => new PlacementMember { MemberId = (ulong)(i + 1), Address = a }).ToArray();
        state = localMemberId == 0 ? PlacementState.Empty : LoadState(store.Engine);
    }

    public bool IsMember => LocalMemberId != 0;

    public ulong LocalMemberId { get; }

    public IReadOnlyList<PlacementMember> Members { get; }

    public ulong LeaderId => group?.Lead ?? 0;

    public ulong LeaderTerm => group is { IsLeader: true } g ? g.Term : 0;

    public PlacementState State => state;

    /// <summary>Opens (creating on first start) the placement group on the store; members only.</summary>
    public async Task OpenAsync()
    {
        var voters = Members.Select(m => m.MemberId).ToArray();
        var count = (ulong)Members.Count;
        group = await store.OpenGroupAsync(GroupId, LocalMemberId, this, memberId => memberId <= count ? memberId : 0, voters).ConfigureAwait(false);
    }

    public async Task<PlacementApplyResult> ProposeAsync(PlacementCommand command, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(command);
        if (!IsMember)
        {
            throw new PlacementNotLeaderException(0);
        }

        command.ProposalId = (ulong)Interlocked.Increment(ref nextProposal);
        try
        {
            var result = await store.ProposeAsync(GroupId, command.ProposalId, command.ToByteArray()).WaitAsync(ct).ConfigureAwait(false);
            return (PlacementApplyResult)result!;
        }
        catch (GroupNotLeaderException e)
        {
            throw new PlacementNotLeaderException(e.LeaderMemberId);
        }
    }

    public async Task ReadBarrierAsync(CancellationToken ct)
    {
        if (!IsMember)
        {
            throw new PlacementNotLeaderException(0);
        }

        try
        {
            await store.ReadIndexAsync(GroupId).WaitAsync(ct).ConfigureAwait(false);
        }
        catch (GroupNotLeaderException e)
        {
            throw new PlacementNotLeaderException(e.LeaderMemberId);
        }
    }

    /// <summary>Driver thread: applies a committed placement command and stages its records with the entry.</summary>
    public (ulong ProposalId, object? Result) Apply(in Entry entry, WriteBatch batch)
    {
        PlacementCommand command;
        try
        {
            command = PlacementCommand.Parser.ParseFrom(entry.Data.Span);
        }
        catch (InvalidProtocolBufferException)
        {
            // Only placement leaders append these, after encoding them: a payload that does not
            // decode is a bug or a newer version's command. Every member skips it the same way
            // (no proposer can be waiting for it: its proposal id is unreadable too).
            return (0, null);
        }

        var current = State;
        var result = current.Apply(command);
        foreach (var (key, value) in result.Mutations)
        {
            if (value is null)
            {
                batch.Delete(ColumnFamily.Meta, key);
            }
            else
            {
                batch.Put(ColumnFamily.Meta, key, value);
            }
        }

        return (command.ProposalId, result);
    }

    private static PlacementState LoadState(Engine engine)
    {
        var records = new List<KeyValuePair<byte[], byte[]>>();
        using var it = engine.NewIterator(ColumnFamily.Meta, [PlacementState.Prefix], [PlacementState.Prefix + 1]);
        for (var ok = it.SeekToFirst(); ok; ok = it.Next())
        {
            records.Add(new(it.Key.ToArray(), it.Value.ToArray()));
        }

        return PlacementState.Load(records);
    }
}

using Google.Protobuf;
using Kv.Node.Raft;
using Kv.Node.Ranges;
using Kv.Node.Storage;
using Kv.Node.Tests.TestSupport;
using Kv.Proto.V1;

namespace Kv.Node.Tests.Ranges;

/// <summary>
/// The split command at apply, on one replica: every refusal leaves the descriptor and the batch
/// untouched; a split shrinks the left, creates the right through the host in the same batch,
/// and leaves a right range the store already holds alone.
/// </summary>
public sealed class RangeSplitApplyTests : IDisposable
{
    private readonly TempDirectory dir = new();
    private readonly Engine engine;

    public RangeSplitApplyTests() => engine = Engine.Open(dir.Sub("db"));

    public void Dispose()
    {
        engine.Dispose();
        dir.Dispose();
    }

    private static RangeDescriptor Range() => new()
    {
        RangeId = 1,
        StartKey = ByteString.CopyFromUtf8("b"),
        EndKey = ByteString.CopyFromUtf8("y"),
        Epoch = new RangeEpoch { ConfVer = 3, Version = 7 },
        Replicas =
        {
            new ReplicaDescriptor { ReplicaId = 11, StoreId = 1 },
            new ReplicaDescriptor { ReplicaId = 12, StoreId = 2 },
            new ReplicaDescriptor { ReplicaId = 13, StoreId = 3, Role = ReplicaRole.Learner },
        },
    };

    private static RangeCommand Split(string key, ulong newRangeId = 20, params (ulong Replica, ulong Store)[] replicas)
    {
        var split = new SplitCommand { SplitKey = ByteString.CopyFromUtf8(key), NewRangeId = newRangeId };
        foreach (var (r, s) in replicas.Length > 0 ? replicas : [(21ul, 1ul), (22ul, 2ul), (23ul, 3ul)])
        {
            split.NewReplicas.Add(new ReplicaDescriptor { ReplicaId = r, StoreId = s });
        }

        return new RangeCommand { ProposalId = 5, Epoch = new RangeEpoch { ConfVer = 3, Version = 7 }, Split = split };
    }

    private (object? Result, int BatchCount, RangeDescriptor After) Apply(RangeReplica replica, RangeCommand command)
    {
        using var batch = engine.NewWriteBatch();
        var (proposal, result) = replica.Apply(new Entry(1, 6, EntryType.Normal, command.ToByteArray()), batch);
        Assert.Equal(5ul, proposal);
        return (result, batch.Count, replica.Descriptor);
    }

    public static TheoryData<string, string> Refusals() => new()
    {
        { "at-start", "strictly inside" },
        { "below-start", "strictly inside" },
        { "at-end", "strictly inside" },
        { "empty-key", "strictly inside" },
        { "stale-epoch", "epoch" },
        { "too-few-replicas", "one per store" },
        { "two-on-one-store", "one per store" },
        { "zero-replica-id", "one per store" },
        { "repeated-replica-id", "one per store" },
        { "no-new-range-id", "one per store" },
        { "same-range-id", "one per store" },
        { "joint", "membership change" },
        { "no-host", "not hosted by a store" },
    };

    [Theory]
    [MemberData(nameof(Refusals))]
    public void A_refused_split_changes_nothing(string input, string why)
    {
        var host = new FakeHost { Joint = input == "joint" };
        var replica = new RangeReplica(Range(), 11, input == "no-host" ? null : host, new LocalRanges());
        var command = input switch
        {
            "at-start" => Split("b"),
            "below-start" => Split("a"),
            "at-end" => Split("y"),
            "empty-key" => Split(""),
            "too-few-replicas" => Split("m", 20, (21, 1), (22, 2)),
            "two-on-one-store" => Split("m", 20, (21, 1), (22, 1), (23, 3)),
            "zero-replica-id" => Split("m", 20, (0, 1), (22, 2), (23, 3)),
            "repeated-replica-id" => Split("m", 20, (21, 1), (21, 2), (23, 3)),
            "no-new-range-id" => Split("m", 0),
            "same-range-id" => Split("m", 1),
            _ => Split("m"),
        };
        if (input == "stale-epoch")
        {
            command.Epoch = new RangeEpoch { ConfVer = 3, Version = 6 };
        }

        var (result, count, after) = Apply(replica, command);

        var error = Assert.IsType<RangeError>(result);
        Assert.Contains(why, error.Message, StringComparison.Ordinal);
        Assert.Equal(0, count);
        Assert.Equal(Range(), after);
        Assert.Empty(host.Created);
    }

    [Fact]
    public void A_split_shrinks_the_left_and_creates_the_right_in_the_same_batch_mirroring_roles()
    {
        var host = new FakeHost();
        var ranges = new LocalRanges();
        var replica = new RangeReplica(Range(), 11, host, ranges);
        ranges.Add(replica);

        var (result, count, after) = Apply(replica, Split("m"));

        var split = Assert.IsType<SplitResult>(result);
        Assert.Equal(after, split.Left);
        Assert.Equal(("b", "m", 8ul, 3ul), (after.StartKey.ToStringUtf8(), after.EndKey.ToStringUtf8(), after.Epoch.Version, after.Epoch.ConfVer));
        var right = split.Right;
        Assert.Equal((20ul, "m", "y", 8ul, 3ul), (right.RangeId, right.StartKey.ToStringUtf8(), right.EndKey.ToStringUtf8(), right.Epoch.Version, right.Epoch.ConfVer));
        Assert.Equal([ReplicaRole.Voter, ReplicaRole.Voter, ReplicaRole.Learner], right.Replicas.Select(r => r.Role));
        Assert.True(count >= 2, "both descriptors are staged in the entry's batch");
        var created = Assert.Single(host.Created);
        Assert.Equal((20ul, 21ul), (created.GroupId, created.LocalMemberId));
        Assert.Equal([21ul, 22ul], created.ConfState.Voters);
        Assert.Equal([23ul], created.ConfState.Learners);
        Assert.Equal(1ul, created.CampaignIfLeaderOf);

        // Once the store opened it, the right range is registered, and a stale request to the left
        // is told about both halves.
        created.Opened!(null!);
        Assert.NotNull(ranges.Get(20));
        Assert.Equal([1ul, 20ul], replica.EpochNotMatchError().EpochNotMatch.Current.Select(d => d.RangeId));
    }

    [Fact]
    public void A_right_range_the_store_already_holds_is_left_alone()
    {
        var host = new FakeHost { Existing = 20 };
        var replica = new RangeReplica(Range(), 11, host, new LocalRanges());

        var (result, _, after) = Apply(replica, Split("m"));

        Assert.IsType<SplitResult>(result);
        Assert.Equal("m", after.EndKey.ToStringUtf8());
        Assert.Empty(host.Created);
    }

    private sealed class FakeHost : IGroupHost
    {
        public bool Joint { get; init; }

        public ulong Existing { get; init; }

        public List<NewGroup> Created { get; } = [];

        public ulong StoreId => 1;

        public ConfState? ConfStateOf(ulong groupId) => Joint ? new ConfState([11, 12], [13], [11, 14], [], false) : ConfState.OfVoters(11, 12);

        public bool HasGroup(ulong groupId) => groupId == Existing;

        public void StageCreateGroup(WriteBatch batch, NewGroup group) => Created.Add(group);
    }
}

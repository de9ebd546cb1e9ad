using Google.Protobuf;
using Kv.Node.Placement;
using Kv.Proto.V1;
using static Kv.Node.Tests.Placement.PlacementTestData;

namespace Kv.Node.Tests.Placement;

/// <summary>The placement state machine's rules: bootstrap once, refusals change nothing, the higher epoch wins, persistence round-trips.</summary>
public class PlacementStateTests
{
    private static PlacementState Bootstrapped()
    {
        var state = PlacementState.Empty;
        Assert.Equal(PlacementErrorCode.PlacementErrorNone, state.Apply(Bootstrap()).Code);
        return state;
    }

    /// <summary>Applies a command expected to be refused and checks it changed nothing.</summary>
    private static PlacementApplyResult Refused(PlacementState state, PlacementCommand command, PlacementErrorCode code)
    {
        var before = state.Snapshot;
        string described = Describe(before);
        var result = state.Apply(command);
        Assert.Equal(code, result.Code);
        Assert.Empty(result.Mutations);
        Assert.False(result.Changed);
        Assert.Same(before, state.Snapshot);
        Assert.Equal(described, Describe(state.Snapshot));
        Assert.False(string.IsNullOrWhiteSpace(result.Message));
        return result;
    }

    /// <summary>Applies a command expected to be a no-op (applied, nothing changes).</summary>
    private static void Kept(PlacementState state, PlacementCommand command)
    {
        var before = state.Snapshot;
        var result = state.Apply(command);
        Assert.Equal(PlacementErrorCode.PlacementErrorNone, result.Code);
        Assert.Empty(result.Mutations);
        Assert.Same(before, state.Snapshot);
    }

    /// <summary>
    /// Regression (found by the system test OperationFaultTests.Killing_the_placement_leader_during_a_replica_move_...):
    /// store 1's bootstrap replica of range 1 was moved to another store and destroyed, and every
    /// heartbeat answer still named the first range to it, so the node created the replica again
    /// every few seconds (a zombie at conf_ver 1 the stale-replica collector kept destroying).
    /// </summary>
    [Fact]
    public void The_first_range_is_offered_to_a_store_only_while_the_directory_still_holds_its_bootstrap_replica()
    {
        var state = Bootstrapped();
        Assert.Equal(1UL, state.Snapshot.InitialRangeFor(1)?.RangeId);
        Assert.Null(state.Snapshot.InitialRangeFor(4)); // not a bootstrap replica's store

        // A split keeps the bootstrap replicas (same ids, same stores): still offered, as bootstrap built it.
        var split = Range(1, "", "m", 2, 1);
        foreach (var r in split.Replicas)
        {
            r.ReplicaId = r.StoreId;
        }

        Assert.Equal(PlacementErrorCode.PlacementErrorNone, state.Apply(PutRange(split)).Code);
        var offered = state.Snapshot.InitialRangeFor(1);
        Assert.NotNull(offered);
        Assert.Equal(new RangeEpoch { ConfVer = 1, Version = 1 }, offered.Epoch);

        // Store 1's replica moves to store 4: store 1 is offered nothing, stores 2 and 3 still are.
        var moved = Range(1, "", "m", 2, 2, 2, 3, 4);
        foreach (var r in moved.Replicas)
        {
            r.ReplicaId = r.StoreId == 4 ? 1004 : r.StoreId;
        }

        Assert.Equal(PlacementErrorCode.PlacementErrorNone, state.Apply(PutRange(moved)).Code);
        Assert.Null(state.Snapshot.InitialRangeFor(1));
        Assert.NotNull(state.Snapshot.InitialRangeFor(2));
        Assert.Null(state.Snapshot.InitialRangeFor(4));

        // Store 1 gets a replica of range 1 again later: a new replica id, created by its leader, not from bootstrap's descriptor.
        var back = moved.Clone();
        back.Epoch = new RangeEpoch { ConfVer = 3, Version = 2 };
        back.Replicas.Add(new ReplicaDescriptor { ReplicaId = 1005, StoreId = 1 });
        Assert.Equal(PlacementErrorCode.PlacementErrorNone, state.Apply(PutRange(back)).Code);
        Assert.Null(state.Snapshot.InitialRangeFor(1));
    }

    [Fact]
    public void Before_bootstrap_only_bootstrap_and_tso_window_extension_are_applied()
    {
        var state = PlacementState.Empty;
        Refused(state, PutStore(1), PlacementErrorCode.PlacementErrorNotBootstrapped);
        Refused(state, PutRange(Range(1, "", "", 2, 1)), PlacementErrorCode.PlacementErrorNotBootstrapped);
        Refused(state, AllocId(1), PlacementErrorCode.PlacementErrorNotBootstrapped);
        Refused(state, new PlacementCommand(), PlacementErrorCode.PlacementErrorInvalidArgument);

        var extended = state.Apply(ExtendTso(5_000));
        Assert.Equal(PlacementErrorCode.PlacementErrorNone, extended.Code);
        Assert.Equal(5_000, state.Snapshot.TsoWindowEndMs);
        Assert.False(state.Snapshot.IsBootstrapped);
    }

    [Fact]
    public void Bootstrap_sets_identity_first_range_and_id_sequence_and_a_second_bootstrap_names_the_existing_cluster()
    {
        var state = PlacementState.Empty;
        var result = state.Apply(Bootstrap("first", idFloor: 1000));
        Assert.Equal(PlacementErrorCode.PlacementErrorNone, result.Code);
        Assert.Equal("first", result.ClusterId);
        Assert.Equal(1UL, result.FirstRange!.RangeId);
        var s = state.Snapshot;
        Assert.True(s.IsBootstrapped);
        Assert.Equal("first", s.ClusterId);
        Assert.Equal(1_700_000_000_000, s.BootstrappedAtMs);
        Assert.Equal(1UL, s.FindRange("anything"u8)!.RangeId);
        Assert.Equal(1UL, s.FindRange(ReadOnlySpan<byte>.Empty)!.RangeId);

        var alloc = state.Apply(AllocId(5));
        Assert.Equal(1001UL, alloc.FirstId);
        Assert.Equal(1006UL, state.Apply(AllocId(1)).FirstId);

        var again = Refused(state, Bootstrap("second"), PlacementErrorCode.PlacementErrorAlreadyBootstrapped);
        Assert.Contains("first", again.Message, StringComparison.Ordinal);
        Assert.Equal("first", again.ClusterId);
    }

    [Fact]
    public void Bootstrap_with_bad_arguments_is_refused()
    {
        var state = PlacementState.Empty;
        Refused(state, Bootstrap(""), PlacementErrorCode.PlacementErrorInvalidArgument);
        // id_floor below an id the first range uses: ids would be handed out twice.
        var low = Refused(state, Bootstrap("c", idFloor: 2, 1, 2, 3), PlacementErrorCode.PlacementErrorInvalidArgument);
        Assert.Contains("id_floor", low.Message, StringComparison.Ordinal);
        var noReplicas = Bootstrap();
        noReplicas.Bootstrap.FirstRange.Replicas.Clear();
        Refused(state, noReplicas, PlacementErrorCode.PlacementErrorInvalidArgument);
        Assert.False(state.Snapshot.IsBootstrapped);
    }

    [Fact]
    public void PutStore_registers_updates_and_refuses_a_second_data_directory_claiming_the_id()
    {
        var state = Bootstrapped();
        Assert.True(state.Apply(PutStore(4, "10.0.0.4:7000", "uuid-a")).Changed);
        Kept(state, PutStore(4, "10.0.0.4:7000", "uuid-a"));
        Assert.True(state.Apply(PutStore(4, "10.0.0.5:7000", "uuid-a", "0.2.0")).Changed);
        Assert.Equal("10.0.0.5:7000", state.Snapshot.Stores[4].Address);

        var conflict = Refused(state, PutStore(4, "10.0.0.9:7000", "uuid-b"), PlacementErrorCode.PlacementErrorStoreIdConflict);
        Assert.Contains("uuid-a", conflict.Message, StringComparison.Ordinal);
        Assert.Contains("uuid-b", conflict.Message, StringComparison.Ordinal);
        Assert.Equal("uuid-a", state.Snapshot.Stores[4].StoreUuid);
    }

    [Theory]
    [InlineData(0UL, "h:1", "u")]
    [InlineData(5UL, "no-port", "u")]
    [InlineData(5UL, "h:0", "u")]
    [InlineData(5UL, "h:70000", "u")]
    [InlineData(5UL, ":80", "u")]
    [InlineData(5UL, "::1:80", "u")]
    [InlineData(5UL, "h:80", "")]
    public void PutStore_with_a_malformed_descriptor_is_refused(ulong id, string address, string uuid)
    {
        var state = Bootstrapped();
        Refused(state, PutStore(id, address, uuid), PlacementErrorCode.PlacementErrorInvalidArgument);
    }

    [Fact]
    public void PutRange_replaces_an_entry_only_with_a_higher_epoch_version_first_then_conf_ver()
    {
        var state = Bootstrapped();
        // Same version, higher conf_ver: replaces.
        Assert.True(state.Apply(PutRange(Range(1, "", "", 1, 2, 1, 2, 4))).Changed);
        Assert.Equal(2UL, state.Snapshot.RangesById[1].Epoch.ConfVer);
        // Equal epoch: kept. Lower conf_ver: kept. Higher conf_ver but lower version: kept.
        Kept(state, PutRange(Range(1, "", "", 1, 2, 1, 2, 3)));
        Kept(state, PutRange(Range(1, "", "", 1, 1)));
        Assert.True(state.Apply(PutRange(Range(1, "", "", 2, 1))).Changed);
        Kept(state, PutRange(Range(1, "", "", 1, 9)));
        Assert.Equal(new RangeEpoch { Version = 2, ConfVer = 1 }, state.Snapshot.RangesById[1].Epoch);
    }

    [Fact]
    public void A_split_reported_right_half_first_replaces_the_older_parent_and_leaves_a_gap_until_the_left_half_reports()
    {
        var state = Bootstrapped();
        var right = state.Apply(PutRange(Range(2, "m", "", 2, 1)));
        Assert.True(right.Changed);
        Assert.Equal(2, right.Mutations.Count); // delete range 1, put range 2
        Assert.Null(right.Mutations[0].Value);
        Assert.Null(state.Snapshot.FindRange("a"u8));
        Assert.Equal(2UL, state.Snapshot.FindRange("m"u8)!.RangeId);

        // A stale report of the parent (v1) overlapping range 2 (v2) is kept out.
        Kept(state, PutRange(Range(1, "", "", 1, 5)));
        Assert.Null(state.Snapshot.FindRange("a"u8));

        Assert.True(state.Apply(PutRange(Range(1, "", "m", 2, 1))).Changed);
        Assert.Equal(1UL, state.Snapshot.FindRange("a"u8)!.RangeId);
        Assert.Equal(1UL, state.Snapshot.FindRange("l"u8)!.RangeId);
        Assert.Equal(2UL, state.Snapshot.FindRange("m"u8)!.RangeId);
        Assert.Equal(2UL, state.Snapshot.FindRange("zzz"u8)!.RangeId);

        // A range overlapping a newer one at an equal version is stale too.
        Kept(state, PutRange(Range(3, "k", "p", 2, 1)));

        // A merge (version above both) replaces both halves.
        var merged = state.Apply(PutRange(Range(1, "", "", 3, 1)));
        Assert.True(merged.Changed);
        Assert.Single(state.Snapshot.RangesByStart);
        Assert.False(state.Snapshot.RangesById.ContainsKey(2));
    }

    [Fact]
    public void Scan_returns_the_ranges_intersecting_the_span_in_key_order_up_to_the_limit()
    {
        var state = Bootstrapped();
        state.Apply(PutRange(Range(1, "", "d", 2, 1)));
        state.Apply(PutRange(Range(2, "d", "k", 2, 1)));
        state.Apply(PutRange(Range(3, "k", "", 2, 1)));
        var s = state.Snapshot;
        Assert.Equal([1UL, 2, 3], s.Scan([], [], 0).Select(r => r.RangeId));
        Assert.Equal([1UL, 2], s.Scan("c"u8, "k"u8, 0).Select(r => r.RangeId));
        Assert.Equal([2UL], s.Scan("d"u8, "e"u8, 0).Select(r => r.RangeId));
        Assert.Equal([2UL, 3], s.Scan("e"u8, [], 0).Select(r => r.RangeId));
        Assert.Equal([1UL, 2], s.Scan([], [], 2).Select(r => r.RangeId));
    }

    [Fact]
    public void PutRange_with_a_malformed_descriptor_is_refused()
    {
        var state = Bootstrapped();
        Refused(state, PutRange(Range(0, "", "", 5, 1)), PlacementErrorCode.PlacementErrorInvalidArgument);
        Refused(state, PutRange(Range(2, "z", "a", 5, 1)), PlacementErrorCode.PlacementErrorInvalidArgument);
        Refused(state, PutRange(Range(2, "a", "a", 5, 1)), PlacementErrorCode.PlacementErrorInvalidArgument);
        var noEpoch = Range(2, "a", "b", 5, 1);
        noEpoch.Epoch = null;
        Refused(state, PutRange(noEpoch), PlacementErrorCode.PlacementErrorInvalidArgument);
        var twice = Range(2, "a", "b", 5, 1, 1, 1);
        Refused(state, PutRange(twice), PlacementErrorCode.PlacementErrorInvalidArgument);
    }

    [Theory]
    [InlineData(0u)]
    [InlineData(10_001u)]
    public void AllocId_outside_1_to_10000_is_refused(uint count)
    {
        var state = Bootstrapped();
        Refused(state, AllocId(count), PlacementErrorCode.PlacementErrorInvalidArgument);
        Assert.Equal(1001UL, state.Apply(AllocId(10_000)).FirstId);
        Assert.Equal(11_001UL, state.Apply(AllocId(1)).FirstId);
    }

    [Fact]
    public void ExtendTsoWindow_only_raises_the_window_and_refuses_an_unrepresentable_end()
    {
        var state = PlacementState.Empty;
        Assert.True(state.Apply(ExtendTso(10_000)).Changed);
        var lower = state.Apply(ExtendTso(9_000));
        Assert.Equal(PlacementErrorCode.PlacementErrorNone, lower.Code);
        Assert.Empty(lower.Mutations);
        Assert.Equal(10_000, lower.TsoWindowEndMs);
        Refused(state, ExtendTso(-1), PlacementErrorCode.PlacementErrorInvalidArgument);
        Refused(state, ExtendTso(Kv.Client.Timestamp.MaxPhysicalMs + 1), PlacementErrorCode.PlacementErrorInvalidArgument);
        Assert.Equal(10_000, state.Snapshot.TsoWindowEndMs);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    public void Load_of_every_mutation_applied_so_far_rebuilds_the_same_state(int seed)
    {
        var random = new Random(seed);
        var state = PlacementState.Empty;
        var records = new SortedDictionary<string, byte[]>(StringComparer.Ordinal);
        string[] keys = ["", "b", "d", "f", "h", "k", "m", "p", "t", "w"];
        for (int step = 0; step < 400; step++)
        {
            PlacementCommand command = random.Next(8) switch
            {
                0 => Bootstrap($"c{random.Next(3)}"),
                1 => PutStore((ulong)random.Next(1, 6), $"10.0.0.{random.Next(3)}:7000", $"u{random.Next(2)}"),
                2 => AllocId((uint)random.Next(0, 50)),
                3 => ExtendTso(random.Next(-5, 100_000)),
                _ => RandomRange(random, keys),
            };
            ApplyAndPersist(state, command, records);
            if (step % 25 == 0)
            {
                Assert.Equal(Describe(state.Snapshot), Describe(PlacementState.Load(AsRecords(records)).Snapshot));
            }
        }

        Assert.True(state.Snapshot.RangesById.Count > 1, "the run exercised the directory");
        Assert.Equal(Describe(state.Snapshot), Describe(PlacementState.Load(AsRecords(records)).Snapshot));
    }

    private static PlacementCommand RandomRange(Random random, string[] keys)
    {
        int a = random.Next(keys.Length), b = random.Next(keys.Length);
        (a, b) = (Math.Min(a, b), Math.Max(a, b));
        string end = b == a || b == keys.Length - 1 && random.Next(2) == 0 ? "" : keys[b];
        return PutRange(Range((ulong)random.Next(1, 8), keys[a], end, (ulong)random.Next(1, 6), (ulong)random.Next(1, 4)));
    }

    [Fact]
    public void Load_names_the_key_of_a_record_that_does_not_decode()
    {
        var state = PlacementState.Empty;
        var records = new SortedDictionary<string, byte[]>(StringComparer.Ordinal);
        ApplyAndPersist(state, Bootstrap(), records);
        ApplyAndPersist(state, PutStore(7), records);
        string storeKey = Convert.ToHexString(PlacementState.Key(PlacementState.KindStore, 7));

        var truncated = new SortedDictionary<string, byte[]>(records, StringComparer.Ordinal) { [storeKey] = [1, 0x08] };
        var ex = Assert.Throws<InvalidDataException>(() => PlacementState.Load(AsRecords(truncated)));
        Assert.Contains(storeKey, ex.Message, StringComparison.Ordinal);

        var otherId = new SortedDictionary<string, byte[]>(records, StringComparer.Ordinal)
        {
            [Convert.ToHexString(PlacementState.Key(PlacementState.KindStore, 8))] = records[storeKey],
        };
        ex = Assert.Throws<InvalidDataException>(() => PlacementState.Load(AsRecords(otherId)));
        Assert.Contains("id 8", ex.Message, StringComparison.Ordinal);

        var badVersion = new SortedDictionary<string, byte[]>(records, StringComparer.Ordinal) { [storeKey] = [9, .. records[storeKey].AsSpan(1)] };
        Assert.Throws<InvalidDataException>(() => PlacementState.Load(AsRecords(badVersion)));

        var unknownKind = new SortedDictionary<string, byte[]>(records, StringComparer.Ordinal) { ["70FF"] = [1] };
        ex = Assert.Throws<InvalidDataException>(() => PlacementState.Load(AsRecords(unknownKind)));
        Assert.Contains("70FF", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Readers_hold_an_immutable_snapshot_while_apply_moves_on()
    {
        var state = Bootstrapped();
        var before = state.Snapshot;
        state.Apply(PutRange(Range(2, "m", "", 2, 1)));
        Assert.Equal(1UL, before.FindRange("z"u8)!.RangeId);
        Assert.Equal(2UL, state.Snapshot.FindRange("z"u8)!.RangeId);
        Assert.Equal(ByteString.Empty, before.RangesById[1].EndKey);
    }
}

using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Google.Protobuf;
using Kv.Client;
using Kv.Client.Cluster;
using Grpc.Core;
using Kv.Proto.V1;

namespace Kv.Node.Tests.ClientReactions;

/// <summary>
/// How KvClient reacts to what servers answer (shared/DESIGN.md section 5: "clients never
/// guess: they retry with what the error told them"), against scripted nodes on real sockets.
/// </summary>
public sealed class ClientReactionTests : IAsyncLifetime
{
    private const string ClusterId = "c0ffee";
    private ScriptedNode _n1 = null!;
    private ScriptedNode _n2 = null!;

    public async Task InitializeAsync()
    {
        _n1 = await ScriptedNode.StartAsync();
        _n2 = await ScriptedNode.StartAsync();
    }

    public async Task DisposeAsync()
    {
        await _n1.DisposeAsync();
        await _n2.DisposeAsync();
    }

    // These tests count the exact RPCs a reaction causes, so no attempt may be cut short by
    // the default 3 s per-attempt cap: on a loaded CI machine a first call (connect + JIT) has
    // taken longer, and the retry it caused was counted as an extra Put (a flaky failure).
    private static KvClientOptions Options(double timeoutSeconds = 20) => new()
    {
        RequestTimeout = TimeSpan.FromSeconds(timeoutSeconds),
        AttemptTimeout = TimeSpan.FromSeconds(timeoutSeconds),
        BackoffBase = TimeSpan.FromMilliseconds(1),
        BackoffMax = TimeSpan.FromMilliseconds(20),
        RandomSeed = 42,
    };

    private static ByteString B(string s) => ByteString.CopyFromUtf8(s);

    private static byte[] K(string s) => B(s).ToByteArray();

    private static ResponseHeader Ok() => new() { ClusterId = ClusterId };

    private static RangeDescriptor Range(ulong id, string start, string end, ulong version = 1, params ulong[] stores)
    {
        var d = new RangeDescriptor { RangeId = id, StartKey = B(start), EndKey = B(end), Epoch = new RangeEpoch { ConfVer = 1, Version = version } };
        foreach (var s in stores.Length == 0 ? [1UL, 2UL] : stores)
        {
            d.Replicas.Add(new ReplicaDescriptor { ReplicaId = (id * 100) + s, StoreId = s });
        }

        return d;
    }

    private static RangeInfo Info(RangeDescriptor d, ulong leaderStore = 0, string leaderAddress = "") => new()
    {
        Range = d,
        Leader = leaderStore == 0 ? null : d.Replicas.First(r => r.StoreId == leaderStore),
        LeaderAddress = leaderAddress,
    };

    /// <summary>n1 is the placement leader; stores 1 and 2 live on n1 and n2; GetRange answers with the given range.</summary>
    private void PlacementOnN1(Func<GetRangeRequest, RangeInfo> getRange, string? store1Address = null)
    {
        _n1.On(PlacementMethods.GetRange, r => new GetRangeResponse { Header = Ok(), Range = getRange(r) });
        _n1.On(PlacementMethods.ListStores, _ => new ListStoresResponse
        {
            Header = Ok(),
            Stores =
            {
                new StoreInfo { Store = new StoreDescriptor { StoreId = 1, Address = store1Address ?? _n1.Address }, State = StoreState.Up },
                new StoreInfo { Store = new StoreDescriptor { StoreId = 2, Address = _n2.Address }, State = StoreState.Up },
            },
        });
    }

    [Fact]
    public async Task Placement_NotLeader_hint_is_followed_and_the_cluster_id_is_learned_then_sent_in_every_header()
    {
        _n1.On(PlacementMethods.GetClusterInfo, _ => new GetClusterInfoResponse
        {
            Header = new ResponseHeader
            {
                Error = new PlacementError
                {
                    Code = PlacementErrorCode.PlacementErrorNotLeader,
                    Message = "not the placement leader",
                    Leader = new PlacementMember { MemberId = 2, Address = _n2.Address },
                    Members = { new PlacementMember { MemberId = 1, Address = _n1.Address }, new PlacementMember { MemberId = 2, Address = _n2.Address } },
                },
            },
        });
        _n2.On(PlacementMethods.GetClusterInfo, _ => new GetClusterInfoResponse { Header = Ok(), Bootstrapped = true, RangeCount = 3 });
        _n2.On(PlacementMethods.ListStores, _ => new ListStoresResponse { Header = Ok() });

        await using var client = KvClient.Connect([_n1.Address], Options());
        var info = await client.GetClusterInfoAsync();
        await client.ListStoresAsync();

        Assert.Equal(3u, info.RangeCount);
        Assert.Equal(ClusterId, client.ClusterId);
        Assert.Equal(_n2.Address, client.PlacementLeader);
        Assert.Equal("", _n2.Received(PlacementMethods.GetClusterInfo).Single().Header.ClusterId); // not known yet
        Assert.Equal(ClusterId, _n2.Received(PlacementMethods.ListStores).Single().Header.ClusterId);
        Assert.Single(_n1.Received(PlacementMethods.GetClusterInfo)); // the hint was followed, not re-asked
        Assert.Empty(_n1.Received(PlacementMethods.ListStores));
    }

    [Fact]
    public async Task Placement_NotLeader_without_a_leader_makes_the_client_try_the_members_it_names()
    {
        _n1.On(PlacementMethods.ListStores, _ => new ListStoresResponse
        {
            Header = new ResponseHeader
            {
                Error = new PlacementError
                {
                    Code = PlacementErrorCode.PlacementErrorNotLeader,
                    Leader = new PlacementMember(),
                    Members = { new PlacementMember { MemberId = 1, Address = _n1.Address }, new PlacementMember { MemberId = 2, Address = _n2.Address } },
                },
            },
        });
        _n2.On(PlacementMethods.ListStores, _ => new ListStoresResponse { Header = Ok(), Stores = { new StoreInfo { Store = new StoreDescriptor { StoreId = 9 } } } });

        await using var client = KvClient.Connect([_n1.Address], Options());
        var stores = await client.ListStoresAsync();

        Assert.Equal(9UL, stores.Single().Store.StoreId);
    }

    [Fact]
    public async Task Range_NotLeader_hint_sends_the_retry_to_the_named_leader_with_the_same_context()
    {
        PlacementOnN1(_ => Info(Range(1, "", ""), leaderStore: 1, leaderAddress: _n1.Address));
        _n1.On(RawKvMethods.Get, r => new RawGetResponse
        {
            Error = new RangeError
            {
                Message = "not leader",
                NotLeader = new NotLeader { RangeId = 1, Leader = new ReplicaDescriptor { ReplicaId = 102, StoreId = 2 }, LeaderAddress = _n2.Address },
            },
        });
        _n2.On(RawKvMethods.Get, r => new RawGetResponse { Found = true, Value = B("v:" + r.Key.ToStringUtf8()) });

        await using var client = KvClient.Connect([_n1.Address], Options());
        Assert.Equal(K("v:k"), await client.GetAsync(K("k")));
        Assert.Equal(K("v:k2"), await client.GetAsync(K("k2")));

        Assert.Single(_n1.Received(RawKvMethods.Get)); // the second Get went straight to the new leader
        var sent = _n2.Received(RawKvMethods.Get);
        Assert.Equal(2, sent.Count);
        Assert.All(sent, r => Assert.Equal(1UL, r.Context.RangeId));
        Assert.All(sent, r => Assert.Equal(1UL, r.Context.Epoch.Version));
        Assert.Single(_n1.Received(PlacementMethods.GetRange)); // the route was cached
    }

    [Fact]
    public async Task Range_NotLeader_without_a_hint_moves_on_to_the_next_replica()
    {
        PlacementOnN1(_ => Info(Range(1, "", "", stores: [1, 2])));
        _n1.On(RawKvMethods.Put, _ => new RawPutResponse { Error = new RangeError { NotLeader = new NotLeader { RangeId = 1 } } });
        _n2.On(RawKvMethods.Put, _ => new RawPutResponse());

        await using var client = KvClient.Connect([_n1.Address], Options());
        await client.PutAsync(K("k"), K("v"));

        Assert.Single(_n1.Received(RawKvMethods.Put));
        var put = Assert.Single(_n2.Received(RawKvMethods.Put));
        Assert.Equal("v", put.Value.ToStringUtf8());
    }

    [Fact]
    public async Task EpochNotMatch_replaces_the_cached_range_with_the_current_descriptors()
    {
        // Placement still reports the range before its split; the node knows better.
        PlacementOnN1(_ => Info(Range(1, "", "", version: 1, stores: [1]), leaderStore: 1, leaderAddress: _n1.Address));
        _n1.On(RawKvMethods.Put, r => r.Context.Epoch.Version == 1
            ? new RawPutResponse { Error = new RangeError { Message = "epoch changed", EpochNotMatch = new EpochNotMatch { Current = { Range(1, "", "m", 2, 1), Range(5, "m", "", 2, 1) } } } }
            : new RawPutResponse());

        await using var client = KvClient.Connect([_n1.Address], Options());
        await client.PutAsync(K("a"), K("1"));
        await client.PutAsync(K("x"), K("2"));

        var puts = _n1.Received(RawKvMethods.Put);
        Assert.Equal(3, puts.Count);
        Assert.Equal((1UL, 1UL), (puts[0].Context.RangeId, puts[0].Context.Epoch.Version));
        Assert.Equal((1UL, 2UL), (puts[1].Context.RangeId, puts[1].Context.Epoch.Version));
        Assert.Equal((5UL, 2UL), (puts[2].Context.RangeId, puts[2].Context.Epoch.Version)); // routed by the split's right half
        Assert.Single(_n1.Received(PlacementMethods.GetRange)); // no reload was needed
    }

    [Fact]
    public async Task RangeNotFound_evicts_the_range_and_reloads_it_from_placement()
    {
        var loads = 0;
        PlacementOnN1(_ => ++loads == 1
            ? Info(Range(1, "", "", stores: [1]), 1, _n1.Address)
            : Info(Range(8, "", "", stores: [2]), 2, _n2.Address));
        _n1.On(RawKvMethods.Delete, _ => new RawDeleteResponse { Error = new RangeError { RangeNotFound = new RangeNotFound { RangeId = 1 } } });
        _n2.On(RawKvMethods.Delete, _ => new RawDeleteResponse());

        await using var client = KvClient.Connect([_n1.Address], Options());
        await client.DeleteAsync(K("k"));

        Assert.Equal(2, _n1.Received(PlacementMethods.GetRange).Count);
        Assert.Equal(8UL, Assert.Single(_n2.Received(RawKvMethods.Delete)).Context.RangeId);
    }

    [Fact]
    public async Task RangeUnavailable_is_retried_after_backoff_until_the_range_serves()
    {
        PlacementOnN1(_ => Info(Range(1, "", "", stores: [1]), 1, _n1.Address));
        var calls = 0;
        _n1.On(RawKvMethods.Get, _ => ++calls < 4
            ? new RawGetResponse { Error = new RangeError { RangeUnavailable = new RangeUnavailable { RangeId = 1 } } }
            : new RawGetResponse { Found = false });

        await using var client = KvClient.Connect([_n1.Address], Options());
        Assert.Null(await client.GetAsync(K("k")));
        Assert.Equal(4, calls);
    }

    [Fact]
    public async Task A_leader_that_cannot_be_reached_is_avoided_for_the_next_replica()
    {
        var dead = ClosedEndpoint();
        PlacementOnN1(_ => Info(Range(1, "", "", stores: [1, 2]), 1, dead), store1Address: dead);
        _n2.On(RawKvMethods.Get, _ => new RawGetResponse { Found = true, Value = B("from-2") });

        await using var client = KvClient.Connect([_n1.Address], Options());
        Assert.Equal(K("from-2"), await client.GetAsync(K("k")));
    }

    [Fact]
    public async Task INVALID_ARGUMENT_is_a_typed_error_and_is_not_retried()
    {
        PlacementOnN1(_ => Info(Range(1, "", "", stores: [1]), 1, _n1.Address));
        _n1.On<RawPutRequest, RawPutResponse>(RawKvMethods.Put, _ => throw new RpcException(new Status(StatusCode.InvalidArgument, "key is 9000 bytes; the limit is 8192")));

        await using var client = KvClient.Connect([_n1.Address], Options());
        var e = await Assert.ThrowsAsync<KvException>(() => client.PutAsync(K("k"), K("v")));

        Assert.Equal(KvErrorKind.InvalidArgument, e.Kind);
        Assert.Contains("8192", e.Message, StringComparison.Ordinal);
        Assert.Single(_n1.Received(RawKvMethods.Put));
    }

    [Fact]
    public async Task A_node_that_never_answers_gives_Unavailable_within_the_deadline()
    {
        _n1.OnAsync<GetClusterInfoRequest, GetClusterInfoResponse>(PlacementMethods.GetClusterInfo, async (_, context) =>
        {
            await Task.Delay(Timeout.Infinite, context.CancellationToken);
            throw new InvalidOperationException("unreachable");
        });

        await using var client = KvClient.Connect([_n1.Address], Options(timeoutSeconds: 1));
        var watch = Stopwatch.StartNew();
        var e = await Assert.ThrowsAsync<KvException>(() => client.GetClusterInfoAsync());

        Assert.Equal(KvErrorKind.Unavailable, e.Kind);
        Assert.Contains(_n1.Address, e.Message, StringComparison.Ordinal);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(11), $"took {watch.Elapsed}"); // bounded by the 1 s deadline, generous slack
    }

    [Fact]
    public async Task Placement_refusals_are_typed_and_bootstrap_outcomes_are_results()
    {
        _n1.On(PlacementMethods.ListStores, _ => new ListStoresResponse
        {
            Header = new ResponseHeader { Error = new PlacementError { Code = PlacementErrorCode.PlacementErrorNotBootstrapped, Message = "not bootstrapped" } },
        });
        var bootstraps = 0;
        _n1.On(PlacementMethods.Bootstrap, _ => ++bootstraps == 1
            ? new BootstrapResponse { Header = Ok(), FirstRange = Range(1, "", "") }
            : new BootstrapResponse { Header = new ResponseHeader { ClusterId = ClusterId, Error = new PlacementError { Code = PlacementErrorCode.PlacementErrorAlreadyBootstrapped, Message = $"already bootstrapped as {ClusterId}" } } });
        _n1.On(PlacementMethods.GetRangeById, r => new GetRangeResponse
        {
            Header = r.RangeId == 1 ? Ok() : new ResponseHeader { Error = new PlacementError { Code = PlacementErrorCode.PlacementErrorNotFound, Message = "no range 2" } },
            Range = r.RangeId == 1 ? Info(Range(1, "", "")) : null,
        });

        await using var client = KvClient.Connect([_n1.Address], Options());
        Assert.Equal(KvErrorKind.NotBootstrapped, (await Assert.ThrowsAsync<KvException>(() => client.ListStoresAsync())).Kind);

        var first = await client.BootstrapAsync();
        Assert.False(first.AlreadyBootstrapped);
        Assert.Equal(ClusterId, first.ClusterId);
        Assert.Equal(1UL, first.FirstRange!.RangeId);

        var second = await client.BootstrapAsync();
        Assert.True(second.AlreadyBootstrapped);
        Assert.Equal(ClusterId, second.ClusterId);
        Assert.Null(second.FirstRange);

        Assert.Equal(1UL, (await client.GetRangeAsync(1))!.Range.RangeId);
        Assert.Null(await client.GetRangeAsync(2));
    }

    [Fact]
    public async Task Timestamp_callers_queued_behind_an_rpc_share_one_GetTimestamp_with_their_count()
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        ulong oracle = Timestamp.Compose(1_700_000_000_000, 0).Value;
        var sync = new object();
        _n1.OnAsync<GetTimestampRequest, GetTimestampResponse>(PlacementMethods.GetTimestamp, async (r, _) =>
        {
            if (r.Count == 1)
            {
                await gate.Task;
            }

            lock (sync)
            {
                oracle += r.Count;
                return new GetTimestampResponse { Header = Ok(), Last = oracle, Count = r.Count };
            }
        });

        await using var client = KvClient.Connect([_n1.Address], Options());
        var first = client.GetTimestampAsync();
        await WaitUntil(() => _n1.Received(PlacementMethods.GetTimestamp).Count == 1);
        var queued = Enumerable.Range(0, 9).Select(_ => client.GetTimestampAsync()).ToList();
        gate.SetResult();

        var all = new List<Timestamp> { await first };
        foreach (var t in queued)
        {
            all.Add(await t);
        }

        Assert.Equal([1u, 9u], _n1.Received(PlacementMethods.GetTimestamp).Select(r => r.Count));
        Assert.Equal(10, all.Distinct().Count());
        Assert.Equal(all.OrderBy(t => t), all);
        Assert.True(await client.GetTimestampAsync() > all[^1]); // a later call gets a later timestamp
    }

    [Fact]
    public async Task Scans_cross_range_boundaries_and_pages_in_both_directions()
    {
        // Two ranges split at "m", both led by n1, which serves pages of at most 2 pairs.
        var ranges = new[] { Range(1, "", "m", 2, 1), Range(2, "m", "", 2, 1) };
        var data = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var k in new[] { "a", "c", "e", "k", "m", "n", "q", "z" })
        {
            data[k] = k.ToUpperInvariant();
        }

        _n1.On(PlacementMethods.GetRange, r => new GetRangeResponse
        {
            Header = Ok(),
            Range = Info(ranges.First(d => string.CompareOrdinal(r.Key.ToStringUtf8(), d.StartKey.ToStringUtf8()) >= 0
                && (d.EndKey.IsEmpty || string.CompareOrdinal(r.Key.ToStringUtf8(), d.EndKey.ToStringUtf8()) < 0)), 1, _n1.Address),
        });
        _n1.On(PlacementMethods.ScanRanges, r => new ScanRangesResponse { Header = Ok(), Ranges = { ranges.Select(d => Info(d, 1, _n1.Address)) } });
        _n1.On(RawKvMethods.Scan, r =>
        {
            var d = ranges.Single(x => x.RangeId == r.Context.RangeId);
            string lo = Max(r.StartKey.ToStringUtf8(), d.StartKey.ToStringUtf8());
            string? hi = Min(r.EndKey.IsEmpty ? null : r.EndKey.ToStringUtf8(), d.EndKey.IsEmpty ? null : d.EndKey.ToStringUtf8());
            var keys = data.Keys.Where(k => string.CompareOrdinal(k, lo) >= 0 && (hi is null || string.CompareOrdinal(k, hi) < 0)).ToList();
            if (r.Reverse)
            {
                keys.Reverse();
            }

            var page = (int)(r.Limit == 0 ? 2 : Math.Min(r.Limit, 2));
            var response = new RawScanResponse { More = keys.Count > page };
            response.Pairs.AddRange(keys.Take(page).Select(k => new KvPair { Key = B(k), Value = B(data[k]) }));
            return response;
        });

        await using var client = KvClient.Connect([_n1.Address], Options());
        static string Keys(IReadOnlyList<KvPair> pairs) => string.Concat(pairs.Select(p => p.Key.ToStringUtf8()));

        Assert.Equal("acekmnqz", Keys(await client.ScanAsync(default, default, 0, false)));
        Assert.Equal("zqnmkeca", Keys(await client.ScanAsync(default, default, 0, true)));
        Assert.Equal("ekmnq", Keys(await client.ScanAsync(K("d"), K("r"), 0, false)));
        Assert.Equal("qnmke", Keys(await client.ScanAsync(K("d"), K("r"), 0, true)));
        Assert.Equal("ekm", Keys(await client.ScanAsync(K("d"), K("r"), 3, false)));
        Assert.Equal("nmk", Keys(await client.ScanAsync(K("d"), K("q"), 3, true)));
        Assert.Equal("A", (await client.ScanAsync(default, K("b"), 5, false)).Single().Value.ToStringUtf8());
        Assert.Empty(await client.ScanAsync(K("r"), K("s"), 0, true));
    }

    /// <summary>A 127.0.0.1 port nothing listens on (bound, then released).</summary>
    private static string ClosedEndpoint()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return $"127.0.0.1:{port}";
    }

    private static string Max(string a, string b) => string.CompareOrdinal(a, b) >= 0 ? a : b;

    private static string? Min(string? a, string? b) => a is null ? b : b is null ? a : string.CompareOrdinal(a, b) <= 0 ? a : b;

    private static async Task WaitUntil(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "condition not reached within 30 s");
            await Task.Delay(5);
        }
    }
}

using Grpc.Health.V1;
using Grpc.HealthCheck;
using Kv.Client;
using Kv.Client.Transport;
using Kv.Node.Placement;
using Kv.Node.Placement.Gc;
using Kv.Node.Placement.Operations;
using Kv.Node.Placement.Scheduler;
using Kv.Node.Ranges;
using Kv.Node.Ranges.Changes;
using Kv.Node.Ranges.Splits;
using Kv.Node.Ranges.Snapshots;
using Kv.Node.Server.Configuration;
using Kv.Node.Server.Observability;
using Kv.Node.Server.Security;
using Kv.Node.Server.Services;
using Kv.Node.Storage;
using Kv.Proto.V1;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Kv.Node.Server.Hosting;

/// <summary>
/// One kv-node process: opens the store, hosts its Raft groups (placement on members, and every
/// range replica the store holds), serves the RPC services, and keeps placement informed.
/// Start-up order matters: identity is checked before anything is served, groups are open
/// before the server accepts requests, and shutdown runs in reverse.
/// </summary>
internal sealed partial class NodeHost : IAsyncDisposable
{
    private readonly NodeConfig config;
    private readonly ILoggerFactory loggers;
    private readonly ILogger logger;
    private readonly LocalRanges ranges = new();
    private readonly CancellationTokenSource stopping = new();
    private Engine? engine;
    private Store? store;
    private Kv.Node.Ranges.Transport.RaftTransport? transport;
    private SnapshotSender? snapshotSender;
    private SnapshotService? snapshotService;
    private GrpcServer? server;

    // Secure mode's certificates (null: cleartext), and the settings of every channel to a peer.
    private NodeTls? tls;
    private KvChannelOptions peerChannel = new();

    // grpc.health.v1 for standard tools and Kubernetes gRPC probes: SERVING exactly when /readyz
    // says ready (NodeHealth: the store is open, the server serves, and a heartbeat answer showed
    // this store in a bootstrapped cluster), NOT_SERVING otherwise.
    private readonly HealthServiceImpl grpcHealth = new();
    private PlacementCaller? placement;
    private StoreDirectory? directory;
    private PlacementGroupHost? placementGroup;
    private StoreIdent ident = null!;
    private volatile string clusterId = "";
    private int disposed;

    public NodeHost(NodeConfig config, ILoggerFactory loggers)
    {
        this.config = config;
        this.loggers = loggers;
        logger = loggers.CreateLogger("kv-node");
        SetHealth(HealthCheckResponse.Types.ServingStatus.NotServing);
        health.ReadinessChanged = ready => SetHealth(ready ? HealthCheckResponse.Types.ServingStatus.Serving : HealthCheckResponse.Types.ServingStatus.NotServing);
    }

    /// <summary>Why the node stopped on its own (a refused identity); null after a requested stop.</summary>
    public string? FatalReason { get; private set; }

    public Uri? Address => server?.Address;

    public ulong StoreId => ident.StoreId;

    /// <summary>The stale-replica cleanup (null until started).</summary>
    internal StaleReplicaCollector? StaleReplicas { get; private set; }

    /// <summary>The store (tests: snapshot and compaction counters, group state).</summary>
    internal Store? Store => store;

    /// <summary>The snapshot sender (tests: counters, resume points, fault hooks).</summary>
    internal SnapshotSender? Snapshots => snapshotSender;

    /// <summary>The snapshot receiving service (tests: staged receivers).</summary>
    internal SnapshotService? SnapshotReceiving => snapshotService;

    /// <summary>Test hook: replaces the store's fatal handler (which otherwise stops the process). Set before StartAsync.</summary>
    internal Action<string, Exception?>? OnStoreFailure { get; set; }

    /// <summary>
    /// Test hook, never configuration: false skips the role check of secure mode (the negative
    /// control that shows a wrong-role test would catch a missing check). Set before StartAsync.
    /// </summary>
    internal bool CheckRoles { get; set; } = true;

    /// <summary>Test hook: passed to <see cref="Store.AfterSnapshotIngest"/>. Set before StartAsync.</summary>
    internal Action<ulong>? AfterSnapshotIngest { get; set; }

    /// <summary>The range replicas this store holds (tests).</summary>
    internal LocalRanges Ranges => ranges;

    /// <summary>Starts everything; throws <see cref="NodeConfigException"/> when this data directory cannot serve with this configuration.</summary>
    public async Task StartAsync(CancellationToken ct)
    {
        // Certificates first: a half-given or unreadable --tls-* stops the node before it opens anything.
        tls = NodeTls.Load(config);
        if (tls is not null)
        {
            peerChannel = tls.PeerChannel(() => clusterId);
        }

        Directory.CreateDirectory(config.DataDir);
        await StartObservabilityAsync(ct).ConfigureAwait(false);
        engine = Engine.Open(Path.Combine(config.DataDir, "db"));
        engine.Metrics = metrics.Storage;
        placement = new PlacementCaller(config.Join, peerChannel);
        ident = await LoadIdentityAsync(engine, ct).ConfigureAwait(false);
        clusterId = ident.ClusterId;
        directory = new StoreDirectory(config.Join);
        var storeLogger = loggers.CreateLogger("kv-node.store");
        transport = new Kv.Node.Ranges.Transport.RaftTransport(ident.StoreId, directory, () => clusterId, storeLogger) { RangeOf = id => ranges.Get(id)?.Descriptor, PeerChannel = peerChannel };
        var storeOptions = new StoreOptions
        {
            TickInterval = TimeSpan.FromMilliseconds(config.TickIntervalMs),
            ElectionTicks = config.ElectionTicks,
            HeartbeatTicks = config.HeartbeatTicks,
            ReadTimeoutTicks = config.ElectionTicks * 3,
            RaftLogCompactThreshold = config.RaftLogCompactThreshold,
            MaxConcurrentSnapshots = config.MaxConcurrentSnapshots,
        };
        // Separate limits (the same number each) for the snapshots this store sends and receives:
        // with one shared limit, two stores each holding every slot for transfers to the other
        // would refuse each other's receives forever.
        var sendLimiter = new SnapshotLimiter(storeOptions.MaxConcurrentSnapshots);
        var receiveLimiter = new SnapshotLimiter(storeOptions.MaxConcurrentSnapshots);
        var snapshotLogger = loggers.CreateLogger("kv-node.snapshots");
        snapshotSender = new SnapshotSender(ident.StoreId, engine, Path.Combine(config.DataDir, "snapshots", "send"), directory, () => clusterId, sendLimiter, snapshotLogger) { PeerChannel = peerChannel };
        store = new Store(engine, ident.StoreId, storeOptions, transport, storeLogger, ObserveFailure(OnStoreFailure)) { Ranges = ranges, SnapshotSender = snapshotSender, AfterSnapshotIngest = AfterSnapshotIngest, Metrics = metrics.Raft };
        snapshotService = new SnapshotService(store, Path.Combine(config.DataDir, "snapshots", "recv"), receiveLimiter, () => clusterId, snapshotLogger);
        // A replica removed by a membership change leaves the registry with its group.
        store.GroupDestroyed += rangeId => ranges.Remove(rangeId);
        store.Start();
        health.StoreOpened();

        placementGroup = new PlacementGroupHost(store, config.Join, config.MemberId);
        if (placementGroup.IsMember)
        {
            await placementGroup.OpenAsync().ConfigureAwait(false);
        }

        foreach (var d in ReadRangeDescriptors(engine))
        {
            await OpenRangeAsync(d, create: false).ConfigureAwait(false);
        }

        var placementService = new PlacementService(placementGroup, new PlacementServiceOptions
        {
            StoreLivenessTimeout = TimeSpan.FromMilliseconds(config.StoreDownAfterMs),
        }, TimeProvider.System, loggers.CreateLogger("kv-node.placement")) { Metrics = metrics.Tso };
        var rawKv = new RawKvService(store, ranges.Get, directory, new RawKvOptions
        {
            MaxKeyBytes = config.MaxKeyBytes,
            MaxValueBytes = config.MaxValueBytes,
        })
        {
            Load = load,
        };
        var txnKv = new TxnKvService(store, ranges.Get, directory, new RawKvOptions
        {
            MaxKeyBytes = config.MaxKeyBytes,
            MaxValueBytes = config.MaxValueBytes,
        })
        {
            Metrics = metrics.Txn,
        };
        var changes = new ReplicaChangeEngine(store, ranges.Get, new PlacementChangeDirectory(placement, directory, () => clusterId), new ReplicaChangeOptions
        {
            LeadershipTimeout = TimeSpan.FromMilliseconds(2.0 * config.TickIntervalMs * config.ElectionTicks) + TimeSpan.FromSeconds(1),
            MaxKeyBytes = config.MaxKeyBytes,
        });
        // The placement leader's operations: the front the Admin API calls, the executor that
        // drives steps through RangeAdmin on range leaders, and the scheduler; the leader work
        // runs the last two for each term this node leads.
        var schedulerBoard = new SchedulerStatusBoard(config.StoreDownReplaceAfterMs);
        var front = new OperationsFront(placementService.Leadership, schedulerBoard, config.MaxKeyBytes);
        stepCaller = new GrpcRangeStepCaller(peerChannel);
        var executor = new OperationExecutor(placementService.Leadership, stepCaller, new ExecutorOptions(), loggers.CreateLogger("kv-node.operations"));
        front.OperationsChanged += executor.Wake;
        var scheduler = new SchedulerLoop(placementService.Leadership, front, schedulerBoard,
            new SchedulerLoopOptions { Interval = TimeSpan.FromMilliseconds(config.SchedulerIntervalMs) }, loggers.CreateLogger("kv-node.scheduler"));
        LeaderWork = new PlacementLeaderWork(placementService.Leadership, executor, scheduler,
            TimeSpan.FromMilliseconds(Math.Max(config.TickIntervalMs, 10)), loggers.CreateLogger("kv-node.placement"));
        var gc = new GcFront(placementService.Leadership, placementService.NowAsync,
            new GcOptions(TimeSpan.FromMilliseconds(config.GcLifeTimeMs), TimeSpan.FromMilliseconds(config.GcMaxServiceTtlMs)));
        var admin = new AdminService(new AdminOperationsContext(front, placementGroup, TimeSpan.FromSeconds(10)) { Gc = gc });
        var rangeAdmin = new RangeAdminService(changes, ranges.Get, directory);
        var raft = new RaftTransportService(store, () => clusterId, storeLogger);
        server = await GrpcServer.StartAsync(new GrpcServerOptions
        {
            EndPoint = NodeConfigLoader.ListenEndPoint(config),
            ServerCertificate = tls?.Certificate,
            Authorization = Authorizer(),
            MaxReceiveMessageSize = 64 << 20,
            MaxConcurrentStreamsPerConnection = 1000,
            ConfigureGrpc = grpc => grpc.Interceptors.Add<RpcMetricsInterceptor>(),
        }, services =>
        {
            // The instances built above, with their dependencies: Grpc.AspNetCore resolves a
            // service per call, and a singleton makes that the one instance.
            services.AddSingleton(placementService);
            services.AddSingleton(rawKv);
            services.AddSingleton(txnKv);
            services.AddSingleton(admin);
            services.AddSingleton(rangeAdmin);
            services.AddSingleton(raft);
            services.AddSingleton(snapshotService);
            services.AddSingleton(grpcHealth);
            services.AddSingleton(metrics.Rpc);
            services.AddSingleton<RpcMetricsInterceptor>();
            services.AddGrpcReflection();
        }, endpoints =>
        {
            endpoints.MapGrpcService<PlacementService>();
            endpoints.MapGrpcService<RawKvService>();
            endpoints.MapGrpcService<TxnKvService>();
            endpoints.MapGrpcService<AdminService>();
            endpoints.MapGrpcService<RangeAdminService>();
            endpoints.MapGrpcService<RaftTransportService>();
            endpoints.MapGrpcService<SnapshotService>();
            endpoints.MapGrpcService<HealthServiceImpl>();
            endpoints.MapGrpcReflectionService();
        }, ct).ConfigureAwait(false);
        metrics.Attach(store, snapshotSender, snapshotService);
        health.Serving();
        LogStarted(ident.StoreId, config.AdvertiseAddress, config.MemberId, clusterId.Length > 0 ? clusterId : "(not yet known)");
        _ = Task.Run(() => HeartbeatLoopAsync(stopping.Token), CancellationToken.None);
        if (placementGroup.IsMember)
        {
            leaderWork = Task.Run(() => LeaderWork!.RunAsync(stopping.Token), CancellationToken.None);
        }

        var electionTimeout = TimeSpan.FromMilliseconds((double)config.TickIntervalMs * config.ElectionTicks);
        StaleReplicas = new StaleReplicaCollector(store, ranges, placement, () => clusterId,
            interval: TimeSpan.FromMilliseconds(config.StoreHeartbeatIntervalMs), quietAfter: electionTimeout * 10, loggers.CreateLogger("kv-node.stale-replicas"));
        _ = Task.Run(() => StaleReplicas.RunAsync(stopping.Token), CancellationToken.None);
        var splitter = new RangeSplitChecker(store, ranges, changes, load, loggers.CreateLogger("kv-node.split"))
        {
            SizeThresholdBytes = (ulong)config.RangeSplitSizeMb << 20,
            QpsThreshold = config.RangeSplitQps,
            Interval = TimeSpan.FromMilliseconds(config.RangeSplitCheckIntervalMs),
        };
        if (config.RangeSplitSizeMb > 0 || config.RangeSplitQps > 0)
        {
            _ = Task.Run(() => splitter.RunAsync(stopping.Token), CancellationToken.None);
        }
    }

    private readonly LoadSampler load = new();

    private GrpcRangeStepCaller? stepCaller;
    private Task leaderWork = Task.CompletedTask;

    /// <summary>This node's placement group (tests read its applied state); null before start.</summary>
    internal IPlacementGroup? PlacementGroup => placementGroup;

    /// <summary>The placement leader's executor and scheduler (started on placement members).</summary>
    internal PlacementLeaderWork? LeaderWork { get; private set; }

    /// <summary>Completes when the node stops on its own (fatal identity problem).</summary>
    public Task Stopped => stoppedSignal.Task;

    private readonly TaskCompletionSource stoppedSignal = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private async Task<StoreIdent> LoadIdentityAsync(Engine e, CancellationToken ct)
    {
        var existing = StoreIdent.Read(e);
        var memberId = config.MemberId;
        if (existing is not null)
        {
            if (!existing.Join.SequenceEqual(config.Join, StringComparer.OrdinalIgnoreCase))
            {
                throw new NodeConfigException(
                    $"data directory {config.DataDir} was created with --join {string.Join(',', existing.Join)}, but this start has --join {string.Join(',', config.Join)}; " +
                    "the placement member list must stay the same (same addresses, same order) on every node and across restarts");
            }

            if (memberId != 0 && existing.StoreId != memberId)
            {
                throw new NodeConfigException(
                    $"data directory {config.DataDir} holds store {existing.StoreId}, but --advertise {config.AdvertiseAddress} is placement member {memberId}; start it with the address it was created with");
            }

            return existing;
        }

        var storeId = memberId;
        if (memberId != 0)
        {
            await RefuseAmnesiaAsync(ct).ConfigureAwait(false);
        }
        else
        {
            storeId = await AllocateStoreIdAsync(ct).ConfigureAwait(false);
        }

        var created = new StoreIdent(storeId, Guid.NewGuid().ToString("N"), config.Join.ToArray(), "");
        created.Write(e);
        return created;
    }

    /// <summary>
    /// A new store that is not a placement member asks placement for its store id, and waits for
    /// the cluster's bootstrap when placement says it has not happened yet (JoinWait: backoff,
    /// throttled logging), so nodes can be started in any order. Meanwhile /readyz says what it
    /// waits for and a stand-in gRPC server on the node's address answers grpc.health.v1 with
    /// NOT_SERVING (the node's services need the store id, so they start after). Any other
    /// refusal stops the node with placement's reason.
    /// </summary>
    private async Task<ulong> AllocateStoreIdAsync(CancellationToken startCt)
    {
        // The wait may be long: DisposeAsync (stopping) ends it too, not only the start's token.
        using var waitOrStop = CancellationTokenSource.CreateLinkedTokenSource(startCt, stopping.Token);
        var ct = waitOrStop.Token;
        var joinList = string.Join(',', config.Join);
        LogAllocatingStoreId(joinList);
        var wait = JoinWait.Default();
        var started = DateTime.UtcNow;
        health.Waiting($"asking placement at {joinList} for this new store's id");
        var standIn = await StartStandInServerAsync(ct).ConfigureAwait(false);
        try
        {
            while (true)
            {
                var response = await placement!.CallAsync(static (s, r, o) => s.Placement.AllocIdAsync(r, o), new AllocIdRequest { Header = new RequestHeader(), Count = 1 }, r => r.Header, ct).ConfigureAwait(false);
                var error = response.Header?.Error;
                if (error is null || error.Code == PlacementErrorCode.PlacementErrorNone)
                {
                    health.Waiting(null);
                    return response.First;
                }

                if (error.Code != PlacementErrorCode.PlacementErrorNotBootstrapped)
                {
                    throw new NodeConfigException($"placement refused a store id for this new node: {error.Message}");
                }

                health.Waiting($"the cluster at {joinList} is not bootstrapped yet; this new store gets its store id and joins once it is (bootstrap it with `kvctl cluster bootstrap`)");
                var waited = DateTime.UtcNow - started;
                var (delay, log) = wait.Refused(waited);
                if (log)
                {
                    LogWaitingForBootstrap(joinList, (long)waited.TotalSeconds, wait.Refusals, (long)wait.MaxDelay.TotalMilliseconds);
                }

                await Task.Delay(delay, ct).ConfigureAwait(false);
            }
        }
        finally
        {
            await standIn.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Secure mode's check of every call (null in cleartext mode).</summary>
    private CallAuthorizer? Authorizer() =>
        tls is null ? null : new CallAuthorizer(tls.Authority, () => clusterId, TimeProvider.System) { CheckRoles = CheckRoles };

    /// <summary>grpc.health.v1 only (NOT_SERVING, from <see cref="grpcHealth"/>), on the node's address, while it waits to join.</summary>
    private Task<GrpcServer> StartStandInServerAsync(CancellationToken ct) =>
        GrpcServer.StartAsync(new GrpcServerOptions { EndPoint = NodeConfigLoader.ListenEndPoint(config), ServerCertificate = tls?.Certificate, Authorization = Authorizer() },
            services => services.AddSingleton(grpcHealth),
            endpoints => endpoints.MapGrpcService<HealthServiceImpl>(), ct);

    /// <summary>
    /// A placement member with an empty data directory may only start if the cluster has not
    /// been bootstrapped: a member that lost its disk and came back empty would vote with no
    /// memory of its promises and could help elect a leader that lacks committed entries
    /// (etcd's initial-cluster-state=new has the same purpose). The other members are asked
    /// briefly; if none answers (they are starting too), this is a new cluster.
    /// </summary>
    private async Task RefuseAmnesiaAsync(CancellationToken ct)
    {
        var others = config.Join.Where(a => !string.Equals(a, config.AdvertiseAddress, StringComparison.OrdinalIgnoreCase)).ToArray();
        if (others.Length == 0)
        {
            return;
        }

        using var peers = new PlacementCaller(others, peerChannel);
        using var brief = CancellationTokenSource.CreateLinkedTokenSource(ct);
        brief.CancelAfter(TimeSpan.FromSeconds(3));
        GetClusterInfoResponse info;
        try
        {
            info = await peers.CallAsync(static (s, r, o) => s.Placement.GetClusterInfoAsync(r, o), new GetClusterInfoRequest { Header = new RequestHeader() }, r => r.Header, brief.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return;
        }

        if (info.Bootstrapped || info.Header?.ClusterId is { Length: > 0 })
        {
            throw new NodeConfigException(
                $"data directory {config.DataDir} is empty, but the other placement members already run cluster {info.Header?.ClusterId}: this member has lost its data. " +
                "Starting it empty could lose committed placement state (it would vote without its log). Restore its data directory from a backup, " +
                "or start it with an address that is not in --join (it then joins as a new store).");
        }
    }

    private static List<RangeDescriptor> ReadRangeDescriptors(Engine e)
    {
        var result = new List<RangeDescriptor>();
        using var it = e.NewIterator(ColumnFamily.Meta, Keys.RangeDescriptorsStart, Keys.RangeDescriptorsEnd);
        for (var ok = it.SeekToFirst(); ok; ok = it.Next())
        {
            result.Add(RangeDescriptor.Parser.ParseFrom(it.Value));
        }

        return result;
    }

    /// <summary>Opens a range replica; with create, writes its descriptor and initial Raft state atomically first.</summary>
    private async Task OpenRangeAsync(RangeDescriptor d, bool create)
    {
        var local = d.Replicas.FirstOrDefault(r => r.StoreId == ident.StoreId)
            ?? throw new InvalidDataException($"range {d.RangeId}'s descriptor names no replica on store {ident.StoreId}");
        var replica = new RangeReplica(d, local.ReplicaId, store, ranges);
        var voters = create ? d.Replicas.Where(r => r.Role == ReplicaRole.Voter).Select(r => r.ReplicaId).ToArray() : null;
        await store!.OpenGroupAsync(d.RangeId, local.ReplicaId, replica, replica.StoreOf, voters,
            batch => batch.Put(ColumnFamily.Meta, Keys.RangeDescriptor(d.RangeId), Google.Protobuf.MessageExtensions.ToByteArray(d))).ConfigureAwait(false);
        ranges.Add(replica);
    }

    private async Task HeartbeatLoopAsync(CancellationToken ct)
    {
        var interval = TimeSpan.FromMilliseconds(config.StoreHeartbeatIntervalMs);
        var round = 0;
        while (!ct.IsCancellationRequested)
        {
            try
            {
                using var attempt = CancellationTokenSource.CreateLinkedTokenSource(ct);
                attempt.CancelAfter(interval * 5);
                await HeartbeatOnceAsync(round++ % 5 == 0, attempt.Token).ConfigureAwait(false);
                await Task.Delay(interval, ct).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                LogHeartbeatSlow();
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (NodeConfigException e)
            {
                LogFatalIdentity(e.Message);
                FatalReason = e.Message;
                health.Failed(e.Message);
                stoppedSignal.TrySetResult();
                return;
            }
#pragma warning disable CA1031 // a failed heartbeat is retried next round; the reason is logged
            catch (Exception e)
#pragma warning restore CA1031
            {
                LogHeartbeatFailed(e);
                await Task.Delay(interval, ct).ConfigureAwait(false);
            }
        }
    }

    private async Task HeartbeatOnceAsync(bool refreshStores, CancellationToken ct)
    {
        var groups = await store!.StatusAsync().ConfigureAwait(false);
        var rangeGroups = groups.Where(g => g.GroupId != PlacementGroupHost.GroupId).ToList();
        var drive = new DriveInfo(Path.GetFullPath(config.DataDir));
        var request = new StoreHeartbeatRequest
        {
            Header = new RequestHeader { ClusterId = clusterId },
            Store = new StoreDescriptor { StoreId = ident.StoreId, Address = config.AdvertiseAddress, StoreUuid = ident.StoreUuid, Version = BuildVersion.Version, Labels = { new Dictionary<string, string>(config.Labels) } },
            Stats = new StoreStats
            {
                CapacityBytes = (ulong)drive.TotalSize,
                AvailableBytes = (ulong)drive.AvailableFreeSpace,
                UsedBytes = UsedBytes(),
                RangeCount = (uint)rangeGroups.Count,
                LeaderCount = (uint)rangeGroups.Count(g => g.IsLeader),
            },
        };
        var response = await placement!.CallAsync(static (s, r, o) => s.Placement.StoreHeartbeatAsync(r, o), request, r => r.Header, ct).ConfigureAwait(false);
        switch (response.Header?.Error?.Code ?? PlacementErrorCode.PlacementErrorNone)
        {
            case PlacementErrorCode.PlacementErrorClusterIdMismatch:
            case PlacementErrorCode.PlacementErrorStoreIdConflict:
            case PlacementErrorCode.PlacementErrorStoreRemoved:
                throw new NodeConfigException($"placement refused this store: {response.Header!.Error.Message}");
            case PlacementErrorCode.PlacementErrorNone:
                break;
            default:
                LogHeartbeatRefused(response.Header!.Error.Message);
                return;
        }

        await LearnClusterIdAsync(response.Header?.ClusterId ?? "").ConfigureAwait(false);
        store.ObserveGcSafePoint(new Timestamp(response.GcSafePoint));
        if (response.Bootstrapped && clusterId.Length > 0)
        {
            // The store is open (StartAsync opened it before the first heartbeat) and placement
            // counts this store in a bootstrapped cluster: ready for traffic (/readyz and
            // grpc.health.v1 both follow NodeHealth).
            health.Joined(clusterId);
        }

        // The first range is created from the bootstrap's descriptor (the whole key space) only on
        // a store that holds no range yet: a store holding any range is past its bootstrap, and a
        // replica created from that old descriptor would overlap every range it holds.
        if (response.Bootstrapped && response.InitialRange is { } first && ranges.Count == 0
            && first.Replicas.Any(r => r.StoreId == ident.StoreId) && await store.CanCreateGroupAsync(first.RangeId).ConfigureAwait(false))
        {
            LogCreatingFirstRange(first.RangeId);
            await OpenRangeAsync(first, create: true).ConfigureAwait(false);
        }

        foreach (var g in rangeGroups.Where(g => g.IsLeader))
        {
            if (ranges.Get(g.GroupId) is not { } replica)
            {
                continue;
            }

            var d = replica.Descriptor;
            await placement.CallAsync(static (s, r, o) => s.Placement.RangeHeartbeatAsync(r, o), new RangeHeartbeatRequest
            {
                Header = new RequestHeader { ClusterId = clusterId },
                Range = d,
                Leader = d.Replicas.First(r => r.ReplicaId == replica.LocalReplicaId),
                ApproximateSizeBytes = RangeSize.Approximate(store.Engine, d),
            }, r => r.Header, ct).ConfigureAwait(false);
        }

        if (refreshStores)
        {
            var stores = await placement.CallAsync(static (s, r, o) => s.Placement.ListStoresAsync(r, o), new ListStoresRequest { Header = new RequestHeader { ClusterId = clusterId } }, r => r.Header, ct).ConfigureAwait(false);
            foreach (var s in stores.Stores)
            {
                directory!.Learn(s.Store.StoreId, s.Store.Address);
            }
        }
    }

    private async Task LearnClusterIdAsync(string reported)
    {
        if (reported.Length == 0 || reported == clusterId)
        {
            return;
        }

        if (clusterId.Length > 0)
        {
            throw new NodeConfigException($"this store belongs to cluster {clusterId}, but the placement members at {string.Join(',', config.Join)} run cluster {reported}; point --join at this store's cluster, or use an empty data directory to join the other one");
        }

        ident = ident with { ClusterId = reported };
        await Task.Run(() => ident.Write(engine!)).ConfigureAwait(false);
        clusterId = reported;
        LogJoinedCluster(reported);
    }

    // SST files and memtables: a store just written to is not 0 B until its first flush.
    private ulong UsedBytes() => engine!.ApproximateUsedBytes();

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref disposed, 1) != 0)
        {
            return;
        }

        await stopping.CancelAsync().ConfigureAwait(false);
        health.Stopping();
        await leaderWork.ConfigureAwait(false);
        stepCaller?.Dispose();
        metrics.Detach();
        if (server is not null)
        {
            await server.DisposeAsync().ConfigureAwait(false);
        }

        if (snapshotSender is not null)
        {
            await snapshotSender.DisposeAsync().ConfigureAwait(false);
        }

        store?.Dispose();
        if (transport is not null)
        {
            await transport.DisposeAsync().ConfigureAwait(false);
        }

        placement?.Dispose();
        engine?.Dispose();
        if (observability is not null)
        {
            await observability.DisposeAsync().ConfigureAwait(false);
        }

        stopping.Dispose();
        tls?.Dispose();
    }

    /// <summary>The names health answers for: the whole node ("") and each kv.v1 service it serves.</summary>
    private static readonly string[] HealthNames =
    [
        "",
        Kv.Proto.V1.Placement.Descriptor.FullName,
        RawKv.Descriptor.FullName,
        TxnKv.Descriptor.FullName,
        Admin.Descriptor.FullName,
        RangeAdmin.Descriptor.FullName,
        Kv.Proto.V1.RaftTransport.Descriptor.FullName,
        SnapshotTransport.Descriptor.FullName,
    ];

    private void SetHealth(HealthCheckResponse.Types.ServingStatus status)
    {
        foreach (var name in HealthNames)
        {
            grpcHealth.SetStatus(name, status);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "kv-node started: store {StoreId} at {Address}, placement member {MemberId}, cluster {ClusterId}")]
    private partial void LogStarted(ulong storeId, string address, ulong memberId, string clusterId);

    [LoggerMessage(Level = LogLevel.Information, Message = "new node, not a placement member: asking placement at {Join} for a store id (waits until the cluster is bootstrapped)")]
    private partial void LogAllocatingStoreId(string join);

    [LoggerMessage(Level = LogLevel.Information, Message = "waiting for the cluster to be bootstrapped: placement at {Join} has no cluster yet, so this new store has no store id; waited {WaitedSeconds} s ({Attempts} attempts), asking again every {RetryMs} ms at most (run `kvctl cluster bootstrap`, or `kvctl local up` for a local cluster)")]
    private partial void LogWaitingForBootstrap(string join, long waitedSeconds, int attempts, long retryMs);

    [LoggerMessage(Level = LogLevel.Information, Message = "joined cluster {ClusterId}")]
    private partial void LogJoinedCluster(string clusterId);

    [LoggerMessage(Level = LogLevel.Information, Message = "creating this store's replica of range {RangeId} (cluster bootstrap)")]
    private partial void LogCreatingFirstRange(ulong rangeId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "heartbeat to placement took too long; retrying")]
    private partial void LogHeartbeatSlow();

    [LoggerMessage(Level = LogLevel.Warning, Message = "heartbeat to placement failed; retrying")]
    private partial void LogHeartbeatFailed(Exception e);

    [LoggerMessage(Level = LogLevel.Warning, Message = "placement refused the heartbeat: {Reason}")]
    private partial void LogHeartbeatRefused(string reason);

    [LoggerMessage(Level = LogLevel.Critical, Message = "stopping: {Reason}")]
    private partial void LogFatalIdentity(string reason);
}

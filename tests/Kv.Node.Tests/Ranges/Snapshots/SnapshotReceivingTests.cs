using System.Collections.Concurrent;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using Kv.Client.Transport;
using Kv.Node.Raft;
using Kv.Node.Ranges;
using Kv.Node.Ranges.Snapshots;
using Kv.Node.Ranges.Transport;
using Kv.Node.Server.Hosting;
using Kv.Node.Server.Services;
using Kv.Node.Storage;
using Kv.Node.Tests.TestSupport;
using Kv.Proto.V1;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using static Kv.Node.Tests.Storage.Bytes;

namespace Kv.Node.Tests.Ranges.Snapshots;

/// <summary>
/// The receiving store over real RPC (kv.v1.SnapshotTransport on 127.0.0.1) and real RocksDB:
/// refusals change nothing; a complete, verified snapshot creates the replica and installs it.
/// Store 1 (member 1) is the leader whose snapshot is sent; this is store 2 (member 2).
/// </summary>
#pragma warning disable CA1001 // xunit disposes it through IAsyncLifetime.DisposeAsync
public sealed class SnapshotReceivingTests : IAsyncLifetime
#pragma warning restore CA1001
{
    private const ulong RangeId = 3;

    private static readonly RangeDescriptor Range = new()
    {
        RangeId = RangeId,
        StartKey = ByteString.CopyFromUtf8("b"),
        EndKey = ByteString.CopyFromUtf8("m"),
        Epoch = new RangeEpoch { ConfVer = 2, Version = 1 },
        Replicas =
        {
            new ReplicaDescriptor { ReplicaId = 1, StoreId = 1, Role = ReplicaRole.Voter },
            new ReplicaDescriptor { ReplicaId = 2, StoreId = 2, Role = ReplicaRole.Learner },
        },
    };

    private readonly TempDirectory dir = new();
    private readonly RecordingSender sent = new();
    private Engine source = null!;
    private Engine engine = null!;
    private Store store = null!;
    private SnapshotLimiter limiter = null!;
    private SnapshotService service = null!;
    private GrpcServer server = null!;
    private GrpcChannel channel = null!;
    private SnapshotManifest manifest = null!;

    private LocalRanges Ranges { get; } = new();

    public async Task InitializeAsync()
    {
        source = Engine.Open(dir.Sub("source"));
        for (var i = 0; i < 300; i++)
        {
            source.Put(ColumnFamily.Default, Keys.Data(Of($"c{i:D4}")), Of($"value-{i}-" + new string('v', 40)));
        }

        using (var snap = source.GetSnapshot())
        {
            manifest = RangeSnapshotBuilder.Build(source, snap, Range, 7, 42, [.. KeySpan.ForRange(Range)], dir.Sub("built"));
        }

        engine = Engine.Open(dir.Sub("db"));
        store = NewStore(engine);
        store.Start();
        limiter = new SnapshotLimiter(1);
        service = new SnapshotService(store, dir.Sub("recv"), limiter, () => "", NullLogger.Instance);
        server = await GrpcServer.StartAsync(new GrpcServerOptions(), services => services.AddSingleton(service), endpoints => endpoints.MapGrpcService<SnapshotService>());
        channel = KvChannels.Create(server.Address);
    }

    public async Task DisposeAsync()
    {
        channel.Dispose();
        await server.DisposeAsync();
        store.Dispose();
        engine.Dispose();
        source.Dispose();
        dir.Dispose();
    }

    private Store NewStore(Engine e) =>
        new(e, 2, new StoreOptions { TickInterval = TimeSpan.FromMilliseconds(10) }, sent, NullLogger.Instance, (message, ex) => throw new InvalidOperationException(message, ex))
        {
            Ranges = Ranges,
        };

    private static SnapshotHeader Header(SnapshotManifest m) => new()
    {
        FromStore = 1,
        ToStore = 2,
        GroupId = m.RangeId,
        Manifest = m,
        Message = new RaftMessage
        {
            Type = (uint)MessageType.Snap,
            From = 1,
            To = 2,
            Term = 9,
            Snapshot = new RaftSnapshot { Index = m.Index, Term = m.Term, ConfState = new RaftConfState { Voters = { 1 }, Learners = { 2 } } },
        },
    };

    private async Task<SnapshotResumePoint> BeginAsync(SnapshotManifest m) =>
        (await new SnapshotTransport.SnapshotTransportClient(channel).BeginAsync(new SnapshotBeginRequest { Header = Header(m) })).ResumePoint;

    /// <summary>Sends the header and then chunks (as given) on one stream; returns the result.</summary>
    private async Task<SnapshotSendResult> SendAsync(SnapshotManifest m, IEnumerable<SnapshotChunk> chunks)
    {
        using var call = new SnapshotTransport.SnapshotTransportClient(channel).Send();
        await call.RequestStream.WriteAsync(new SnapshotChunkMessage { Header = Header(m) });
        foreach (var c in chunks)
        {
            if (call.ResponseAsync.IsCompleted)
            {
                break;
            }

            try
            {
                await call.RequestStream.WriteAsync(new SnapshotChunkMessage { Chunk = c });
            }
            catch (RpcException)
            {
                // The receiver ended the call while chunks were in flight: Grpc.Net.Client fails the
                // write (CANCELLED), and the receiver's own status is the response's.
                return await call.ResponseAsync;
            }
        }

        await call.RequestStream.CompleteAsync();
        return await call.ResponseAsync;
    }

    private List<string> DumpRange()
    {
        var span = KeySpan.RawData(Range);
        var result = new List<string>();
        using var it = engine.NewIterator(ColumnFamily.Default, span.Lower.Span, span.Upper.Span);
        for (var ok = it.SeekToFirst(); ok; ok = it.Next())
        {
            result.Add($"{Str(it.Key)}={Str(it.Value)}");
        }

        return result;
    }

    private static async Task WaitAsync(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, what);
            await Task.Delay(10);
        }
    }

    [Fact]
    public async Task A_chunk_with_a_bad_checksum_is_refused_its_file_discarded_and_nothing_ingested()
    {
        Assert.Equal(0UL, (await BeginAsync(manifest)).Offset);
        var chunks = SnapshotChunkReader.Read(dir.Sub("built"), manifest, chunkBytes: 1024).ToList();
        Assert.True(chunks.Count > 3, "the test needs a file of several chunks");
        var bad = chunks[2].Clone();
        bad.Crc32C ^= 1;

        var refused = await Assert.ThrowsAsync<RpcException>(() => SendAsync(manifest, [chunks[0], chunks[1], bad]));
        Assert.Equal(StatusCode.InvalidArgument, refused.StatusCode);
        Assert.Contains("checksum", refused.Status.Detail, StringComparison.Ordinal);

        // The receiver's state for that file was reset; nothing reached the engine or the store.
        var resume = await BeginAsync(manifest);
        Assert.Equal((0u, 0UL), (resume.FileIndex, resume.Offset));
        Assert.Empty(DumpRange());
        Assert.False(await store.HasGroupAsync(RangeId));
        Assert.Equal(0, store.SnapshotsInstalled);

        // Resent whole, it is installed: the replica is created, registered and answers the leader.
        var result = await SendAsync(manifest, chunks);
        Assert.True(result.Accepted, result.Message);
        await WaitAsync(() => store.SnapshotsInstalled == 1, "the snapshot was not installed");
        Assert.Equal(300, DumpRange().Count);
        Assert.Equal(Range, Ranges.Get(RangeId)?.Descriptor);
        await WaitAsync(() => sent.Messages.Any(m => m.Store == 1 && m.Group == RangeId && m.Message.Type == MessageType.AppResp && m.Message.Index == 42),
            "the new replica did not tell the leader it holds index 42");
        Assert.Empty(Directory.EnumerateFiles(Path.Combine(dir.Sub("recv"), "3"))); // staged files are gone once installed
    }

    [Fact]
    public async Task A_broken_stream_resumes_from_the_receivers_resume_point()
    {
        await BeginAsync(manifest);
        var chunks = SnapshotChunkReader.Read(dir.Sub("built"), manifest, chunkBytes: 1024).ToList();
        var partial = await SendAsync(manifest, chunks.Take(3)); // the stream ends early
        Assert.False(partial.Accepted);

        var resume = await BeginAsync(manifest);
        Assert.Equal((0u, 3072UL), (resume.FileIndex, resume.Offset));
        var rest = SnapshotChunkReader.Read(dir.Sub("built"), manifest, resume, 1024);
        var result = await SendAsync(manifest, rest);
        Assert.True(result.Accepted, result.Message);
        await WaitAsync(() => store.SnapshotsInstalled == 1, "the resumed snapshot was not installed");
        Assert.Equal(300, DumpRange().Count);
    }

    [Fact]
    public async Task A_receive_over_the_limit_is_refused_with_a_retryable_status_and_changes_nothing()
    {
        await BeginAsync(manifest);
        Assert.True(limiter.TryAcquire()); // another snapshot holds the store's only slot
        var chunks = SnapshotChunkReader.Read(dir.Sub("built"), manifest, chunkBytes: 4096).ToList();
        var refused = await Assert.ThrowsAsync<RpcException>(() => SendAsync(manifest, chunks));
        Assert.Equal(StatusCode.Unavailable, refused.StatusCode);
        Assert.Contains("limit of 1 concurrent snapshots", refused.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(0UL, (await BeginAsync(manifest)).Offset);
        Assert.Empty(DumpRange());

        limiter.Release();
        Assert.True((await SendAsync(manifest, chunks)).Accepted);
        Assert.Equal(0, limiter.InUse);
    }

    [Fact]
    public async Task The_sender_at_its_limit_reports_the_snapshot_failed_at_once()
    {
        var sendLimiter = new SnapshotLimiter(1);
        Assert.True(sendLimiter.TryAcquire());
        await using var sender = new SnapshotSender(1, source, dir.Sub("send"), new NoStores(), () => "", sendLimiter, NullLogger.Instance);
        var reported = new TaskCompletionSource<bool>();
        var snap = source.GetSnapshot();
        sender.Send(new SnapshotJob(RangeId, 2, 1, 2, 9, Range, 42, 7, ConfState.OfVoters(1, 2), snap, f => reported.TrySetResult(f)));
        Assert.True(await reported.Task.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(1, sender.Failed);
        Assert.Throws<ObjectDisposedException>(() => source.Get(ColumnFamily.Default, Keys.Data(Of("c0001")), snap)); // released
    }

    [Fact]
    public async Task A_snapshot_overlapping_a_local_range_is_not_installed()
    {
        Ranges.Add(new RangeReplica(new RangeDescriptor { RangeId = 1, StartKey = ByteString.CopyFromUtf8("a"), EndKey = ByteString.CopyFromUtf8("d"), Replicas = { new ReplicaDescriptor { ReplicaId = 5, StoreId = 2 } } }, 5));
        await BeginAsync(manifest);
        var result = await SendAsync(manifest, SnapshotChunkReader.Read(dir.Sub("built"), manifest, chunkBytes: 4096));
        Assert.False(result.Accepted);
        Assert.Contains("overlaps local range 1", result.Message, StringComparison.Ordinal);
        Assert.Empty(DumpRange());
        Assert.False(await store.HasGroupAsync(RangeId));
    }

    private static Message Heartbeat(ulong term, MessageType type = MessageType.Heartbeat) => new() { Type = type, From = 1, To = 2, Term = term };

    private static EnvelopeRange Span(string start, string end) => new(ByteString.CopyFromUtf8(start), ByteString.CopyFromUtf8(end), new RangeEpoch { ConfVer = 1, Version = 2 });

    [Fact]
    public async Task Unknown_groups_get_an_uninitialized_replica_only_from_a_leader_and_never_over_a_local_range()
    {
        Ranges.Add(new RangeReplica(new RangeDescriptor { RangeId = 1, StartKey = ByteString.CopyFromUtf8("a"), EndKey = ByteString.CopyFromUtf8("k"), Replicas = { new ReplicaDescriptor { ReplicaId = 5, StoreId = 2 } } }, 5));

        store.StepMessage(1, 9, Heartbeat(5), Span("c", "f")); // the split race: range 1 here still covers [c, f)
        store.StepMessage(1, 11, Heartbeat(5, MessageType.Vote), Span("x", "")); // votes never create a replica
        store.StepMessage(1, 0, Heartbeat(5), Span("x", "")); // nor for the placement group
        store.StepMessage(1, 12, Heartbeat(5), null); // nor without a span
        store.StepMessage(1, 10, Heartbeat(5), Span("k", "")); // no overlap: created
        await WaitAsync(() => sent.Messages.Any(m => m.Group == 10 && m.Message.Type == MessageType.HeartbeatResp && m.Store == 1), "the new replica did not answer its leader");

        Assert.False(await store.HasGroupAsync(9));
        Assert.False(await store.HasGroupAsync(11));
        Assert.False(await store.HasGroupAsync(0));
        Assert.False(await store.HasGroupAsync(12));
        Assert.True(await store.IsUninitializedAsync(10));
        Assert.Null(Ranges.Get(10)); // not a range here until a snapshot gives it data
        Assert.DoesNotContain(sent.Messages, m => m.Group is 9 or 11 or 12);
    }

    [Fact]
    public async Task An_uninitialized_replica_keeps_its_term_and_vote_across_a_restart()
    {
        store.StepMessage(1, 10, Heartbeat(5), Span("x", ""));
        await WaitAsync(() => sent.Messages.Any(m => m.Group == 10 && m.Message.Type == MessageType.HeartbeatResp), "no answer");
        // It votes for member 1 in term 6 (its log is empty: any candidate's is as up to date).
        // Transfer: a forced campaign, so the recent heartbeat's lease does not make it ignore the request.
        store.StepMessage(1, 10, Vote(1, 6), Span("x", ""));
        await WaitAsync(() => sent.Messages.Any(m => m.Group == 10 && m.Message.Type == MessageType.VoteResp && !m.Message.Reject), "no vote");
        store.Dispose();

        store = NewStore(engine);
        store.Start();
        sent.Messages.Clear();
        var fromThree = Heartbeat(5);
        fromThree.From = 3;
        store.StepMessage(3, 10, fromThree, Span("x", "")); // recreated by an old-term heartbeat of member 3 on store 3
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (!await store.HasGroupAsync(10))
        {
            Assert.True(DateTime.UtcNow < deadline, "the replica was not recreated");
            await Task.Delay(10);
        }

        var status = (await store.StatusAsync()).Single(g => g.GroupId == 10);
        Assert.Equal(6UL, status.Term); // the persisted term, not the message's

        // Member 3 asks for a vote in term 6: refused, the vote for member 1 survived the restart.
        store.StepMessage(3, 10, Vote(3, 6), Span("x", ""));
        await WaitAsync(() => sent.Messages.Any(m => m.Group == 10 && m.Message.Type == MessageType.VoteResp), "no vote answer");
        Assert.True(sent.Messages.Single(m => m.Group == 10 && m.Message.Type == MessageType.VoteResp).Message.Reject);
    }

    [Fact]
    public async Task An_empty_replica_left_by_a_rolled_back_add_gives_way_to_the_member_added_next()
    {
        // Member 2 was added here as a learner at conf_ver 1 and heard from its leader, but the
        // add was rolled back before its snapshot; the range then added this store again as member 7.
        store.StepMessage(1, 10, Heartbeat(5), Span("x", ""));
        await WaitAsync(() => sent.Messages.Any(m => m.Group == 10 && m.Message.Type == MessageType.HeartbeatResp && m.Message.From == 2), "member 2 did not answer");

        var toSeven = Heartbeat(6);
        toSeven.To = 7;
        var old = Heartbeat(6); // a late message for member 2 from an older membership
        store.StepMessage(1, 10, toSeven, SpanAt("x", "", confVer: 1)); // not newer than what created member 2: ignored
        store.StepMessage(1, 10, old, SpanAt("x", "", confVer: 1));
        await WaitAsync(() => sent.Messages.Count(m => m.Group == 10 && m.Message.Type == MessageType.HeartbeatResp && m.Message.From == 2) >= 2, "member 2 did not answer again");
        Assert.DoesNotContain(sent.Messages, m => m.Group == 10 && m.Message.From == 7);

        store.StepMessage(1, 10, toSeven, SpanAt("x", "", confVer: 3)); // the new membership: member 7 replaces the empty member 2
        await WaitAsync(() => sent.Messages.Any(m => m.Group == 10 && m.Message.Type == MessageType.HeartbeatResp && m.Message.From == 7), "member 7 did not answer its leader");
        Assert.True(await store.IsUninitializedAsync(10));

        // The old member never comes back, even from a message of a newer membership.
        var count = sent.Messages.Count;
        store.StepMessage(1, 10, old, SpanAt("x", "", confVer: 4));
        store.StepMessage(1, 10, toSeven, SpanAt("x", "", confVer: 4));
        await WaitAsync(() => sent.Messages.Skip(count).Any(m => m.Group == 10 && m.Message.From == 7), "member 7 did not answer again");
        Assert.DoesNotContain(sent.Messages.Skip(count), m => m.Group == 10 && m.Message.From == 2);
    }

    private static EnvelopeRange SpanAt(string start, string end, ulong confVer) =>
        new(ByteString.CopyFromUtf8(start), ByteString.CopyFromUtf8(end), new RangeEpoch { ConfVer = confVer, Version = 2 });

    // ---- regression tests of the review fixes (A-D, F) ----------------------------------

    /// <summary>A receiver at dir/name holding m complete (files from the "built" directory), and its Raft message.</summary>
    private (SnapshotReceiver Receiver, Message Message) Staged(string name, SnapshotManifest m, string built = "built")
    {
        var receiver = SnapshotReceiver.Open(dir.Sub(name));
        receiver.Begin(m);
        foreach (var c in SnapshotChunkReader.Read(dir.Sub(built), m, chunkBytes: 4096))
        {
            receiver.Accept(c);
        }

        Assert.True(receiver.IsComplete);
        return (receiver, RaftMessageCodec.FromWire(Header(m).Message, out _)!);
    }

    [Fact]
    public async Task Fix_A_a_stale_replica_destroy_never_deletes_data_through_an_uninitialized_replica()
    {
        // Data of other ranges on this store, below and above any span.
        engine.Put(ColumnFamily.Default, Keys.Data(Of("a1")), Of("v"));
        engine.Put(ColumnFamily.Default, Keys.Data(Of("q1")), Of("v"));

        // The collector judged an initialized replica of range 10 stale; meanwhile it was destroyed
        // and an uninitialized replica of range 10 (a new member, no span, conf_ver 0) was created.
        var judged = new RangeReplica(new RangeDescriptor
        {
            RangeId = 10,
            StartKey = ByteString.CopyFromUtf8("p"),
            Epoch = new RangeEpoch { ConfVer = 3, Version = 1 },
            Replicas = { new ReplicaDescriptor { ReplicaId = 7, StoreId = 2 } },
        }, 7);
        var directory = new RangeDescriptor { RangeId = 10, Epoch = new RangeEpoch { ConfVer = 5, Version = 1 }, Replicas = { new ReplicaDescriptor { ReplicaId = 1, StoreId = 1 } } };
        store.StepMessage(1, 10, Heartbeat(5), Span("x", ""));
        await WaitAsync(() => sent.Messages.Any(m => m.Group == 10 && m.Message.Type == MessageType.HeartbeatResp), "the uninitialized replica did not answer");

        // The collector's re-check refuses another replica object, and the store refuses an uninitialized group whatever the check says.
        Assert.False(await store.DestroyGroupAsync(10, g => StaleReplicaCollector.ShouldDestroy(g, judged, directory, 2)));
        Assert.False(await store.DestroyGroupAsync(10, _ => true));
        Assert.True(await store.IsUninitializedAsync(10));

        // And the replica itself: an uninitialized one stages no deletion of data.
        using (var batch = engine.NewWriteBatch())
        {
            new RangeReplica(new RangeDescriptor { RangeId = 10 }, 2).StageDestroy(batch, []);
            engine.Write(batch, sync: false);
        }

        Assert.NotNull(engine.Get(ColumnFamily.Default, Keys.Data(Of("a1"))));
        Assert.NotNull(engine.Get(ColumnFamily.Default, Keys.Data(Of("q1"))));
    }

    [Fact]
    public async Task Fix_B_two_overlapping_snapshots_in_one_round_are_not_both_installed()
    {
        var other = Range.Clone();
        other.RangeId = 4;
        other.StartKey = ByteString.CopyFromUtf8("c");
        other.EndKey = ByteString.CopyFromUtf8("z");
        SnapshotManifest m4;
        using (var snap = source.GetSnapshot())
        {
            m4 = RangeSnapshotBuilder.Build(source, snap, other, 7, 42, [.. KeySpan.ForRange(other)], dir.Sub("built4"));
        }

        var (r3, msg3) = Staged("r3", manifest);
        var (r4, msg4) = Staged("r4", m4, "built4");

        // Hold the driver so that both reach it in the same round (before either is registered).
        using var gate = new ManualResetEventSlim();
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var held = store.InvokeAsync(() =>
        {
            entered.SetResult();
            return gate.Wait(TimeSpan.FromSeconds(30));
        });
        await entered.Task;
        var t3 = store.InstallSnapshotAsync(1, msg3, manifest, r3, () => { });
        var t4 = store.InstallSnapshotAsync(1, msg4, m4, r4, () => { });
        gate.Set();
        Assert.True(await held);

        var (ok3, _) = await t3.WaitAsync(TimeSpan.FromSeconds(20));
        var (ok4, why4) = await t4.WaitAsync(TimeSpan.FromSeconds(20));
        Assert.True(ok3);
        Assert.False(ok4);
        Assert.Contains("overlaps range 3", why4, StringComparison.Ordinal);
        await WaitAsync(() => store.SnapshotsInstalled == 1 && Ranges.Contains(RangeId), "the first snapshot was not installed");
        Assert.False(await store.HasGroupAsync(4));
        Assert.Equal(1, store.SnapshotsInstalled);
    }

    [Fact]
    public async Task Fix_C_a_snapshot_whose_spans_or_descriptor_do_not_fit_is_refused_before_raft_takes_it()
    {
        // The manifest's span is the one built for [b, m), but its descriptor claims [b, z).
        var wider = manifest.Clone();
        wider.RangeDescriptor.EndKey = ByteString.CopyFromUtf8("z");
        var (receiver, message) = Staged("wider", wider);
        var done = 0;
        var (accepted, reason) = await store.InstallSnapshotAsync(1, message, wider, receiver, () => done++).WaitAsync(TimeSpan.FromSeconds(20));
        Assert.False(accepted);
        Assert.Contains("needs exactly", reason, StringComparison.Ordinal);
        Assert.Equal(1, done);

        // An inverted descriptor.
        var inverted = manifest.Clone();
        inverted.RangeDescriptor.StartKey = ByteString.CopyFromUtf8("m");
        inverted.RangeDescriptor.EndKey = ByteString.CopyFromUtf8("b");
        (accepted, reason) = await store.InstallSnapshotAsync(1, message, inverted, receiver, () => done++).WaitAsync(TimeSpan.FromSeconds(20));
        Assert.False(accepted);
        Assert.Contains("inverted", reason, StringComparison.Ordinal);

        // A staged file gone missing.
        var (partial, partialMessage) = Staged("missing", manifest);
        File.Delete(Directory.EnumerateFiles(dir.Sub("missing"), "*.sst").First());
        (accepted, reason) = await store.InstallSnapshotAsync(1, partialMessage, manifest, partial, () => done++).WaitAsync(TimeSpan.FromSeconds(20));
        Assert.False(accepted);
        Assert.Contains("missing", reason, StringComparison.Ordinal);
        Assert.Equal(3, done);

        // Nothing changed, and the store still works: over RPC the same bad snapshot is refused
        // (the service checks off the driver thread), then the right one is installed.
        Assert.False(await store.HasGroupAsync(RangeId));
        Assert.Empty(DumpRange());
        await BeginAsync(wider);
        var refused = await SendAsync(wider, SnapshotChunkReader.Read(dir.Sub("built"), wider, chunkBytes: 4096));
        Assert.False(refused.Accepted);
        Assert.Contains("needs exactly", refused.Message, StringComparison.Ordinal);
        await BeginAsync(manifest);
        var result = await SendAsync(manifest, SnapshotChunkReader.Read(dir.Sub("built"), manifest, chunkBytes: 4096));
        Assert.True(result.Accepted, result.Message);
        await WaitAsync(() => store.SnapshotsInstalled == 1, "the valid snapshot was not installed");
        Assert.Equal(300, DumpRange().Count);
    }

    [Fact]
    public async Task Fix_D_a_new_snapshot_asked_for_while_the_last_one_reports_is_not_dropped()
    {
        await using var sender = new SnapshotSender(1, source, dir.Sub("send"), new NoStores(), () => "", new SnapshotLimiter(1), NullLogger.Instance) { MaxAttempts = 1 };
        var second = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        SnapshotJob Job(Action<bool> report) => new(RangeId, 2, 1, 2, 9, Range, 42, 7, ConfState.OfVoters(1, 2), source.GetSnapshot(), report);

        // Raft answers the first report with a new MsgSnap for the same follower at once.
        sender.Send(Job(_ => sender.Send(Job(f => second.TrySetResult(f)))));
        Assert.True(await second.Task.WaitAsync(TimeSpan.FromSeconds(20))); // reported (failed: no address), not dropped
        await WaitAsync(() => sender.Limiter.InUse == 0, "the sender kept a slot");
    }

    [Fact]
    public async Task Fix_F_a_failed_install_does_not_leave_the_range_refusing_snapshots()
    {
        var failures = 1;
        store.BeforeSnapshotStep = _ =>
        {
            if (Interlocked.Decrement(ref failures) >= 0)
            {
                throw new InvalidOperationException("test: the install failed");
            }
        };
        await BeginAsync(manifest);
        var chunks = SnapshotChunkReader.Read(dir.Sub("built"), manifest, chunkBytes: 4096).ToList();
        await Assert.ThrowsAnyAsync<RpcException>(() => SendAsync(manifest, chunks));

        // Not "being installed": Begin is answered and the resent snapshot is installed.
        Assert.Equal(0UL, (await BeginAsync(manifest)).Offset);
        var result = await SendAsync(manifest, chunks);
        Assert.True(result.Accepted, result.Message);
        await WaitAsync(() => store.SnapshotsInstalled == 1, "the snapshot was not installed after the failure");
    }

    private static Message Vote(ulong from, ulong term) => new() { Type = MessageType.Vote, From = from, To = 2, Term = term, Index = 10, LogTerm = term, Transfer = true };

    private sealed class RecordingSender : IRaftMessageSender
    {
        public ConcurrentQueue<(ulong Store, ulong Group, Message Message)> Messages { get; } = new();

        public void Send(ulong toStore, ulong groupId, Message message) => Messages.Enqueue((toStore, groupId, message));

        public void Flush()
        {
        }
    }

    private sealed class NoStores : IStoreResolver
    {
        public string? AddressOf(ulong storeId) => null;
    }
}

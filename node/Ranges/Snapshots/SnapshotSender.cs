using System.Collections.Concurrent;
using System.Diagnostics;
using System.Threading.Channels;
using Grpc.Core;
using Kv.Client.Transport;
using Kv.Node.Ranges.Transport;
using Kv.Node.Storage;
using Kv.Proto.V1;
using Microsoft.Extensions.Logging;

namespace Kv.Node.Ranges.Snapshots;

/// <summary>
/// The sending end of replica snapshots (kv.v1.SnapshotTransport), store to store. For each job
/// the store hands over (<see cref="Send"/>, on its driver thread, returns at once):
///  1. Take a slot of the store's sending <see cref="SnapshotLimiter"/> (not the receiving one); at the
///     limit the job is reported failed at once and Raft asks again later.
///  2. Build the SST files from the job's RocksDB snapshot on a pool thread (never the driver),
///     then release the RocksDB snapshot.
///  3. Begin on the receiver: it stages the manifest (or finds it staged) and answers its resume
///     point. Stream the header and then the chunks from that point: a reader task fills a
///     bounded queue of <see cref="InFlightChunks"/> chunks, the writer awaits each write (HTTP/2
///     flow control), so at most that many chunks are in memory per transfer.
///  4. A broken stream, an unreachable peer or a refused chunk: back to 3 after a backoff (the
///     receiver's resume point says where to continue, not 0), up to <see cref="MaxAttempts"/>.
///  5. Report to the store exactly once: success when the receiver's group took the snapshot,
///     failure otherwise (Raft then probes the follower and asks again if it still needs one).
///     Delete the files, release the slot and the (group, follower) key first, then report.
/// One transfer per (group, follower) at a time: a duplicate job is dropped (the running one reports).
/// </summary>
internal sealed partial class SnapshotSender : ISnapshotSender, IAsyncDisposable
{
    private readonly ulong localStore;
    private readonly Engine engine;
    private readonly string directory;
    private readonly IStoreResolver resolver;
    private readonly Func<string> clusterId;
    private readonly SnapshotLimiter limiter;
    private readonly ILogger logger;
    private readonly ConcurrentDictionary<(ulong Group, ulong To), Task> running = new();
    private readonly CancellationTokenSource stopping = new();
    private long sent;
    private long failed;
    private long bytesSent;

    public SnapshotSender(ulong localStore, Engine engine, string directory, IStoreResolver resolver, Func<string> clusterId, SnapshotLimiter limiter, ILogger logger)
    {
        this.localStore = localStore;
        this.engine = engine;
        this.directory = Path.GetFullPath(directory);
        this.resolver = resolver;
        this.clusterId = clusterId;
        this.limiter = limiter;
        this.logger = logger;
        // Files of transfers cut short by a crash: a sender never resumes its own builds.
        if (Directory.Exists(this.directory))
        {
            Directory.Delete(this.directory, recursive: true);
        }
    }

    /// <summary>The limit this sender takes a slot of per transfer (tests: it is not the receiving one).</summary>
    internal SnapshotLimiter Limiter => limiter;

    /// <summary>Bytes per chunk.</summary>
    public int ChunkBytes { get; set; } = SnapshotChunkReader.DefaultChunkBytes;

    /// <summary>Chunks read ahead of the stream (the bounded send loop).</summary>
    public int InFlightChunks { get; init; } = 4;

    /// <summary>Begin-and-stream attempts per job before it is reported failed.</summary>
    public int MaxAttempts { get; init; } = 5;

    /// <summary>Transfers completed with the receiver's group taking the snapshot.</summary>
    public long Sent => Interlocked.Read(ref sent);

    /// <summary>Jobs reported failed.</summary>
    public long Failed => Interlocked.Read(ref failed);

    /// <summary>Chunk bytes written to streams (resent bytes count again).</summary>
    public long BytesSent => Interlocked.Read(ref bytesSent);

    /// <summary>Resume points the receivers answered to Begin, in order (tests: a resumed transfer starts past 0).</summary>
    public ConcurrentQueue<SnapshotResumePoint> ResumePoints { get; } = new();

    /// <summary>Each completed transfer's size, build time and streaming time (Begin to the receiver's answer, install included).</summary>
    public ConcurrentQueue<(ulong Bytes, TimeSpan Build, TimeSpan Stream)> Transfers { get; } = new();

    /// <summary>Test hook: called before each chunk is written with (attempt, chunk); true breaks the stream there, as a lost connection would.</summary>
    internal Func<int, SnapshotChunk, bool>? BreakBefore { get; set; }

    public void Send(SnapshotJob job)
    {
        ArgumentNullException.ThrowIfNull(job);
        var key = (job.GroupId, job.ToMember);
        if (running.ContainsKey(key) || stopping.IsCancellationRequested)
        {
            job.EngineSnapshot.Dispose(); // the transfer under way reports for both
            return;
        }

        if (!limiter.TryAcquire())
        {
            job.EngineSnapshot.Dispose();
            LogAtLimit(job.GroupId, job.ToStore, limiter.Maximum);
            Interlocked.Increment(ref failed);
            job.Report(true);
            return;
        }

        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        running[key] = gate.Task;
        _ = Task.Run(async () =>
        {
            var ok = false;
            try
            {
                ok = await RunAsync(job).ConfigureAwait(false);
            }
            finally
            {
                // Free the (group, follower) key and the slot BEFORE reporting: the report lets
                // Raft issue a new MsgSnap for this follower at once, and that one must not be
                // dropped as a duplicate of this finished transfer (no one would report it, and
                // the follower's progress would stay paused).
                running.TryRemove(key, out _);
                limiter.Release();
                gate.TrySetResult();
                job.Report(!ok);
            }
        });
    }

    /// <summary>Steps 2-4 and the clean-up of 5; returns whether the receiver's group took the snapshot (the caller reports).</summary>
    private async Task<bool> RunAsync(SnapshotJob job)
    {
        var ct = stopping.Token;
        var dir = Path.Combine(directory, $"{job.GroupId}-{job.ToMember}-{job.Index}-{Guid.NewGuid():N}");
        var ok = false;
        try
        {
            SnapshotManifest manifest;
            var clock = Stopwatch.StartNew();
            try
            {
                manifest = RangeSnapshotBuilder.Build(engine, job.EngineSnapshot, job.Descriptor, job.Term, job.Index, KeySpan.ForRange(job.Descriptor), dir);
            }
            finally
            {
                job.EngineSnapshot.Dispose();
            }

            var total = manifest.Files.Aggregate(0UL, (n, f) => n + f.SizeBytes);
            var build = clock.Elapsed;
            LogBuilt(job.GroupId, job.ToStore, job.Index, manifest.Files.Count, total, clock.ElapsedMilliseconds);
            var header = new SnapshotHeader
            {
                ClusterId = clusterId(),
                FromStore = localStore,
                ToStore = job.ToStore,
                GroupId = job.GroupId,
                Message = new RaftMessage
                {
                    Type = (uint)Raft.MessageType.Snap,
                    From = job.FromMember,
                    To = job.ToMember,
                    Term = job.LeaderTerm,
                    Snapshot = new RaftSnapshot { Index = job.Index, Term = job.Term, ConfState = RaftMessageCodec.ToWire(job.ConfState) },
                },
                Manifest = manifest,
            };
            clock.Restart();
            var backoff = TimeSpan.FromMilliseconds(100);
            for (var attempt = 1; attempt <= MaxAttempts && !ct.IsCancellationRequested; attempt++)
            {
                var address = resolver.AddressOf(job.ToStore);
                string reason;
                if (address is null)
                {
                    reason = $"the address of store {job.ToStore} is not known yet";
                }
                else
                {
                    try
                    {
                        var result = await TransferAsync(address, header, dir, attempt, ct).ConfigureAwait(false);
                        ok = result.Accepted;
                        if (ok)
                        {
                            Transfers.Enqueue((total, build, clock.Elapsed));
                            LogSent(job.GroupId, job.ToStore, job.Index, total, clock.ElapsedMilliseconds, attempt);
                        }
                        else
                        {
                            LogNotAccepted(job.GroupId, job.ToStore, job.Index, result.Message);
                        }

                        return ok;
                    }
                    catch (RpcException e) when (e.StatusCode == StatusCode.FailedPrecondition)
                    {
                        LogRefused(job.GroupId, job.ToStore, e.Status.Detail);
                        return false; // wrong store, another cluster, or a newer snapshot there: retrying cannot help
                    }
                    catch (RpcException e) when (!ct.IsCancellationRequested)
                    {
                        reason = $"{e.StatusCode}: {e.Status.Detail}";
                    }
                }

                LogAttemptFailed(job.GroupId, job.ToStore, attempt, reason);
                await Task.Delay(backoff, ct).ConfigureAwait(false);
                backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, TimeSpan.FromSeconds(2).Ticks));
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
#pragma warning disable CA1031 // a failed build or read is reported to Raft as a failed snapshot; the store goes on
        catch (Exception e)
#pragma warning restore CA1031
        {
            LogFailed(e, job.GroupId, job.ToStore);
        }
        finally
        {
            try
            {
                if (Directory.Exists(dir))
                {
                    Directory.Delete(dir, recursive: true);
                }
            }
            catch (IOException)
            {
            }

            if (ok)
            {
                Interlocked.Increment(ref sent);
            }
            else
            {
                Interlocked.Increment(ref failed);
            }
        }

        return ok;
    }

    /// <summary>Channel settings for peers (secure mode: the node certificate, the cluster CA, the cluster id header); cleartext by default.</summary>
    public KvChannelOptions PeerChannel { get; init; } = new();

    /// <summary>Steps 3 and 4 once: Begin, then stream from the answered resume point.</summary>
    private async Task<SnapshotSendResult> TransferAsync(string address, SnapshotHeader header, string dir, int attempt, CancellationToken ct)
    {
        using var channel = KvChannels.ForHostPort(address, PeerChannel with
        {
            ConnectTimeout = TimeSpan.FromSeconds(2),
            KeepAlivePingDelay = TimeSpan.FromSeconds(5),
            KeepAlivePingTimeout = TimeSpan.FromSeconds(5),
        });
        var client = new SnapshotTransport.SnapshotTransportClient(channel);
        var begin = await client.BeginAsync(new SnapshotBeginRequest { Header = header },
            new CallOptions(deadline: DateTime.UtcNow.AddSeconds(30), cancellationToken: ct)).ConfigureAwait(false);
        var from = begin.ResumePoint ?? new SnapshotResumePoint();
        ResumePoints.Enqueue(from);
        using var broken = CancellationTokenSource.CreateLinkedTokenSource(ct);
        using var call = client.Send(new CallOptions(cancellationToken: broken.Token));
        await call.RequestStream.WriteAsync(new SnapshotChunkMessage { Header = header }, ct).ConfigureAwait(false);
        var queue = Channel.CreateBounded<SnapshotChunk>(new BoundedChannelOptions(Math.Max(1, InFlightChunks)) { SingleReader = true, SingleWriter = true });
        var reader = Task.Run(() => ReadChunksAsync(dir, header.Manifest, from, queue.Writer, broken.Token), CancellationToken.None);
        try
        {
            await foreach (var chunk in queue.Reader.ReadAllAsync(broken.Token).ConfigureAwait(false))
            {
                if (BreakBefore?.Invoke(attempt, chunk) == true)
                {
                    await broken.CancelAsync().ConfigureAwait(false);
                    throw new RpcException(new Status(StatusCode.Unavailable, $"test: stream broken before file {chunk.FileIndex} offset {chunk.Offset}"));
                }

                if (call.ResponseAsync.IsCompleted)
                {
                    return await call.ResponseAsync.ConfigureAwait(false); // surfaces why the receiver ended the stream
                }

                try
                {
                    await call.RequestStream.WriteAsync(new SnapshotChunkMessage { Chunk = chunk }, broken.Token).ConfigureAwait(false);
                }
                catch (RpcException) when (!broken.IsCancellationRequested)
                {
                    // The receiver ended the call between the check above and this write: Grpc.Net.Client
                    // fails the write as CANCELLED; the receiver's status (why it refused) is the response's.
                    return await call.ResponseAsync.ConfigureAwait(false);
                }
                Interlocked.Add(ref bytesSent, chunk.Data.Length);
            }

            await reader.ConfigureAwait(false); // a read error surfaces here
            await call.RequestStream.CompleteAsync().ConfigureAwait(false);
            return await call.ResponseAsync.ConfigureAwait(false);
        }
        finally
        {
            await broken.CancelAsync().ConfigureAwait(false);
            try
            {
                await reader.ConfigureAwait(false);
            }
#pragma warning disable CA1031 // the reader's failure was already surfaced, or the transfer ended for another reason
            catch (Exception)
#pragma warning restore CA1031
            {
            }
        }
    }

    private async Task ReadChunksAsync(string dir, SnapshotManifest manifest, SnapshotResumePoint from, ChannelWriter<SnapshotChunk> writer, CancellationToken ct)
    {
        try
        {
            foreach (var chunk in SnapshotChunkReader.Read(dir, manifest, from, ChunkBytes))
            {
                await writer.WriteAsync(chunk, ct).ConfigureAwait(false);
            }

            writer.TryComplete();
        }
        catch (Exception e)
        {
            writer.TryComplete(e);
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await stopping.CancelAsync().ConfigureAwait(false);
        foreach (var t in running.Values)
        {
            try
            {
                await t.ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
            }
        }

        stopping.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "group {GroupId}: snapshot for store {StoreId} not sent: this store is at its limit of {Limit} concurrent snapshots")]
    private partial void LogAtLimit(ulong groupId, ulong storeId, int limit);

    [LoggerMessage(Level = LogLevel.Information, Message = "group {GroupId}: built snapshot for store {StoreId} at index {Index}: {Files} files, {Bytes} bytes in {Ms} ms")]
    private partial void LogBuilt(ulong groupId, ulong storeId, ulong index, int files, ulong bytes, long ms);

    [LoggerMessage(Level = LogLevel.Information, Message = "group {GroupId}: sent snapshot at index {Index} to store {StoreId}: {Bytes} bytes in {Ms} ms (attempt {Attempt})")]
    private partial void LogSent(ulong groupId, ulong storeId, ulong index, ulong bytes, long ms, int attempt);

    [LoggerMessage(Level = LogLevel.Information, Message = "group {GroupId}: store {StoreId} did not take the snapshot at index {Index}: {Reason}")]
    private partial void LogNotAccepted(ulong groupId, ulong storeId, ulong index, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "group {GroupId}: store {StoreId} refused the snapshot: {Reason}")]
    private partial void LogRefused(ulong groupId, ulong storeId, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "group {GroupId}: snapshot transfer to store {StoreId}, attempt {Attempt}, failed: {Reason}; resuming")]
    private partial void LogAttemptFailed(ulong groupId, ulong storeId, int attempt, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "group {GroupId}: snapshot for store {StoreId} failed")]
    private partial void LogFailed(Exception e, ulong groupId, ulong storeId);
}

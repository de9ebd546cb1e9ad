using System.Collections.Concurrent;
using Grpc.Core;
using Kv.Node.Ranges;
using Kv.Node.Ranges.Snapshots;
using Kv.Node.Ranges.Transport;
using Kv.Proto.V1;
using Microsoft.Extensions.Logging;

namespace Kv.Node.Server.Services;

/// <summary>
/// Inbound side of <c>kv.v1.SnapshotTransport</c> (protocol in proto/kv/v1/snapshot.proto): one
/// <see cref="SnapshotReceiver"/> per range, staged under directory/range-id, used by one call at a
/// time. Begin stages the manifest (a newer snapshot replaces a staged older one) and answers the
/// resume point; Send takes a slot of the store's receiving <see cref="SnapshotLimiter"/> for the stream's
/// life (none free: UNAVAILABLE, retry later), accepts the chunks, and when every file is in and
/// verified hands the snapshot to the store (<see cref="Store.InstallSnapshotAsync"/>) before
/// answering. A refused chunk writes nothing, discards the partial file it belonged to and ends
/// the stream with INVALID_ARGUMENT; nothing is ingested until the whole snapshot is verified.
/// </summary>
internal sealed partial class SnapshotService(Store store, string directory, SnapshotLimiter limiter, Func<string> clusterId, ILogger logger) : SnapshotTransport.SnapshotTransportBase
{
    private static readonly TimeSpan GateWait = TimeSpan.FromSeconds(5);
    private readonly ConcurrentDictionary<ulong, Slot> slots = new();
    private long bytesReceived;

    /// <summary>Chunk bytes accepted from senders (metrics: kv_snapshot_received_bytes_total).</summary>
    internal long BytesReceived => Interlocked.Read(ref bytesReceived);

    /// <summary>The limit receives take a slot of (tests: it is not the sending one).</summary>
    internal SnapshotLimiter Limiter => limiter;

    /// <summary>The staged receiver of a range, for tests (null: none opened yet).</summary>
    internal SnapshotReceiver? ReceiverOf(ulong rangeId) => slots.TryGetValue(rangeId, out var s) ? s.Receiver : null;

    public override async Task<SnapshotBeginResponse> Begin(SnapshotBeginRequest request, ServerCallContext context)
    {
        var header = Check(request.Header);
        var slot = slots.GetOrAdd(header.GroupId, _ => new Slot());
        await EnterAsync(slot, header.GroupId, context.CancellationToken).ConfigureAwait(false);
        try
        {
            var receiver = Receiver(slot, header.GroupId);
            if (receiver.Manifest is { } staged && !staged.Equals(header.Manifest))
            {
                if (staged.Index > header.Manifest.Index)
                {
                    throw Refuse(StatusCode.FailedPrecondition,
                        $"store {store.StoreId} is receiving a newer snapshot of range {header.GroupId} (index {staged.Index}) than this one (index {header.Manifest.Index}); nothing was changed");
                }

                receiver.Reset(); // an older or abandoned transfer: the newer snapshot replaces it
            }

            try
            {
                receiver.Begin(header.Manifest);
            }
            catch (InvalidSnapshotException e)
            {
                throw Refuse(StatusCode.InvalidArgument, e.Message);
            }

            return new SnapshotBeginResponse { ResumePoint = receiver.ResumePoint };
        }
        finally
        {
            slot.Gate.Release();
        }
    }

    public override async Task<SnapshotSendResult> Send(IAsyncStreamReader<SnapshotChunkMessage> requests, ServerCallContext context)
    {
        var ct = context.CancellationToken;
        if (!await requests.MoveNext(ct).ConfigureAwait(false))
        {
            throw Refuse(StatusCode.InvalidArgument, "the snapshot stream was empty; send the header first, then the chunks");
        }

        var header = Check(requests.Current.Header);
        if (!limiter.TryAcquire())
        {
            throw Refuse(StatusCode.Unavailable,
                $"store {store.StoreId} is at its limit of {limiter.Maximum} concurrent snapshots; nothing was received for range {header.GroupId}. Retry later.");
        }

        try
        {
            var slot = slots.GetOrAdd(header.GroupId, _ => new Slot());
            await EnterAsync(slot, header.GroupId, ct).ConfigureAwait(false);
            try
            {
                var receiver = Receiver(slot, header.GroupId);
                if (receiver.Manifest is null || !receiver.Manifest.Equals(header.Manifest))
                {
                    throw Refuse(StatusCode.FailedPrecondition,
                        $"store {store.StoreId} has not staged this snapshot of range {header.GroupId} (index {header.Manifest.Index}); call Begin first and send from the resume point it answers");
                }

                while (!receiver.IsComplete && await requests.MoveNext(ct).ConfigureAwait(false))
                {
                    var chunk = requests.Current.Chunk
                        ?? throw Refuse(StatusCode.InvalidArgument, "a snapshot stream message after the first must carry a chunk; nothing was written");
                    try
                    {
                        receiver.Accept(chunk);
                        Interlocked.Add(ref bytesReceived, chunk.Data.Length);
                    }
                    catch (InvalidSnapshotException e)
                    {
                        receiver.DiscardCurrentFile();
                        LogChunkRefused(header.FromStore, header.GroupId, e.Message);
                        throw Refuse(StatusCode.InvalidArgument, $"{e.Message} The partial file was discarded: call Begin and resend from file {receiver.ResumePoint.FileIndex} offset 0.");
                    }
                }

                if (!receiver.IsComplete)
                {
                    return new SnapshotSendResult
                    {
                        ResumePoint = receiver.ResumePoint,
                        Message = $"the stream ended before the snapshot was complete; call Begin and continue from file {receiver.ResumePoint.FileIndex} offset {receiver.ResumePoint.Offset}",
                    };
                }

                var message = RaftMessageCodec.FromWire(header.Message, out var error)
                    ?? throw Refuse(StatusCode.InvalidArgument, $"the header's raft message is malformed: {error}");
                // Every file's CRC-32C once more, here off the driver thread: the store's install
                // re-reads them on its driver thread and a mismatch there is fatal. (Each SST's key
                // bounds are not checked against its span: the Storage binding has no SST reader.)
                if (WhyNotInstallable(receiver) is { } why)
                {
                    receiver.Reset();
                    LogNotInstallable(header.FromStore, header.GroupId, why);
                    return new SnapshotSendResult
                    {
                        ResumePoint = new SnapshotResumePoint(),
                        Accepted = false,
                        Message = $"store {store.StoreId} cannot install this snapshot of range {header.GroupId}: {why}; the staged files were discarded. Cut a new snapshot for the range's descriptor.",
                    };
                }

                slot.Installing = true;
                var finished = 0;
                void Finish()
                {
                    // Once the snapshot is installed and durable, refused, or failed: the staged
                    // files go and the range takes snapshots again. At most once: the fault path
                    // below must not reset a receiver another call has started using since.
                    if (Interlocked.Exchange(ref finished, 1) == 0)
                    {
                        receiver.Reset();
                        slot.Installing = false;
                    }
                }

                var install = store.InstallSnapshotAsync(header.FromStore, message, receiver.Manifest, receiver, Finish);
                // If the store's call fails (an exception instead of an answer), done may never have
                // run: without this the slot would refuse the range's snapshots until a restart.
                _ = install.ContinueWith(_ => Finish(), CancellationToken.None, TaskContinuationOptions.NotOnRanToCompletion, TaskScheduler.Default);
                var (accepted, reason) = await install.WaitAsync(ct).ConfigureAwait(false);
                if (!accepted)
                {
                    LogNotTaken(header.FromStore, header.GroupId, reason);
                }

                return new SnapshotSendResult { ResumePoint = receiver.IsComplete ? receiver.ResumePoint : new SnapshotResumePoint(), Accepted = accepted, Message = reason };
            }
            finally
            {
                slot.Gate.Release();
            }
        }
        finally
        {
            limiter.Release();
        }
    }

    /// <summary>Null if the complete staged snapshot can be ingested for its descriptor (checksums read: call off the driver thread), else why not.</summary>
    private static string? WhyNotInstallable(SnapshotReceiver receiver)
    {
        var d = receiver.Manifest?.RangeDescriptor;
        if (d is null || (!d.EndKey.IsEmpty && d.StartKey.Span.SequenceCompareTo(d.EndKey.Span) >= 0))
        {
            return "its descriptor's span is missing, empty or inverted";
        }

        return receiver.WhyNotIngestable(KeySpan.ForRange(d), checksums: true);
    }

    /// <summary>Checks a header; the refusal says what is wrong.</summary>
    private SnapshotHeader Check(SnapshotHeader? header)
    {
        if (header is null)
        {
            throw Refuse(StatusCode.InvalidArgument, "a snapshot call needs a header (first message of Send, or Begin's request)");
        }

        if (header.ToStore != store.StoreId)
        {
            throw Refuse(StatusCode.FailedPrecondition, $"this is store {store.StoreId}, not store {header.ToStore}: the sender (store {header.FromStore}) has a stale address for store {header.ToStore}");
        }

        var ours = clusterId();
        if (ours.Length > 0 && header.ClusterId.Length > 0 && ours != header.ClusterId)
        {
            throw Refuse(StatusCode.FailedPrecondition, $"store {store.StoreId} belongs to cluster {ours}, but store {header.FromStore} sent a snapshot for cluster {header.ClusterId}");
        }

        if (header.GroupId == 0 || header.Manifest is null || header.Manifest.RangeId != header.GroupId)
        {
            throw Refuse(StatusCode.InvalidArgument, $"a snapshot needs a range group (not 0) and a manifest of that range; got group {header.GroupId}, manifest of range {header.Manifest?.RangeId}");
        }

        if (header.Message is not { Snapshot: { } snap } m || m.Type != (uint)Raft.MessageType.Snap || snap.Index != header.Manifest.Index || snap.Term != header.Manifest.Term)
        {
            throw Refuse(StatusCode.InvalidArgument, $"the header's raft message must be a snapshot message whose index and term equal the manifest's ({header.Manifest.Index}, {header.Manifest.Term})");
        }

        return header;
    }

    private static async Task EnterAsync(Slot slot, ulong rangeId, CancellationToken ct)
    {
        if (!await slot.Gate.WaitAsync(GateWait, ct).ConfigureAwait(false))
        {
            throw Refuse(StatusCode.Unavailable, $"another snapshot transfer of range {rangeId} is under way on this store; retry later");
        }

        if (slot.Installing)
        {
            slot.Gate.Release();
            throw Refuse(StatusCode.Unavailable, $"a snapshot of range {rangeId} is being installed on this store; retry later");
        }
    }

    private SnapshotReceiver Receiver(Slot slot, ulong rangeId) =>
        slot.Receiver ??= SnapshotReceiver.Open(Path.Combine(directory, rangeId.ToString(System.Globalization.CultureInfo.InvariantCulture)));

    private static RpcException Refuse(StatusCode code, string message) => new(new Status(code, message));

    /// <summary>One range's receiver and the gate that gives it to one call at a time.</summary>
    private sealed class Slot
    {
        public SemaphoreSlim Gate { get; } = new(1, 1);

        public SnapshotReceiver? Receiver { get; set; }

        /// <summary>Handed to the store and not yet installed or refused: no call may touch the receiver.</summary>
        public volatile bool Installing;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "snapshot from store {FromStore} for range {RangeId} not taken by the store: {Reason}")]
    private partial void LogNotTaken(ulong fromStore, ulong rangeId, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "snapshot from store {FromStore} for range {RangeId} refused before install: {Reason}")]
    private partial void LogNotInstallable(ulong fromStore, ulong rangeId, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "snapshot chunk from store {FromStore} for range {RangeId} refused: {Reason}")]
    private partial void LogChunkRefused(ulong fromStore, ulong rangeId, string reason);
}

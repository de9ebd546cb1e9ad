using System.Buffers;
using System.IO.Pipelines;
using System.Runtime.CompilerServices;
using System.Security.Cryptography.X509Certificates;
using Kv.Client.Rpc;
using Kv.Client.Rpc.Wire;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Kv.Node.Server.Rpc;

/// <summary>
/// One call on the server, over one HTTP/2 stream: it is the handler's context, its request
/// reader and its response writer at once (one allocation per call).
/// Ordering contract:
/// 1. <see cref="TryStart"/> parses the deadline; a malformed one ends the call before the handler.
/// 2. The handler reads and writes; the transport's own reads and writes observe the call's
///    token, so a deadline or a client reset stops them even if the handler does not look.
/// 3. <see cref="Finish"/> writes the status once: as trailers after messages, or as a
///    Trailers-Only response when no message was sent. A framing error found by the reader
///    (<see cref="_transportError"/>) wins over whatever the handler did afterwards.
/// </summary>
internal sealed class HttpServerCall<TRequest, TResponse> : ServerCallContext, IAsyncStreamReader<TRequest>, IServerStreamWriter<TResponse>, IDisposable
{
    // CancellationTokenSource.CancelAfter accepts at most uint.MaxValue - 1 ms (about 49 days).
    private static readonly TimeSpan MaxTimer = TimeSpan.FromMilliseconds(uint.MaxValue - 1);

    // Messages up to this size are framed into one span of the response pipe: with the prefix
    // it fits one of Kestrel's 4 KiB pool blocks, so asking for it costs no extra buffer.
    private const int SpanSerializeLimit = 4096 - GrpcProtocol.FrameHeaderSize;

    private readonly HttpContext _http;
    private readonly Method<TRequest, TResponse> _method;
    private readonly RpcServerOptions _options;
    private readonly ILogger _logger;
    private CancellationTokenSource? _deadlineCts;   // only for calls with a deadline
    private CancellationToken _token;
    private DateTime _deadline = DateTime.MaxValue;
    private Status _status = Status.DefaultSuccess;
    private Status? _transportError;
    private Metadata? _requestHeaders;
    private Metadata? _trailers;
    private bool _messageWritten;   // a message went into the body: the status must go in trailers
    private bool _finished;
    private volatile bool _clientGone;   // a transport read or write failed because the client left
    private TRequest _current = default!;

    public HttpServerCall(HttpContext http, Method<TRequest, TResponse> method, RpcServerOptions options, ILogger logger)
    {
        _http = http;
        _method = method;
        _options = options;
        _logger = logger;
        _token = http.RequestAborted;
    }

    public override string Method => _method.FullName;

    public override string Peer => _http.Connection.RemoteIpAddress is { } ip
        ? $"{(ip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? "ipv6" : "ipv4")}:{ip}:{_http.Connection.RemotePort}"
        : "unknown";

    public override DateTime Deadline => _deadline;

    public override Metadata RequestHeaders => _requestHeaders ??= ReadRequestHeaders();

    public override CancellationToken CancellationToken => _token;

    public override bool DeadlineExceeded =>
        _deadlineCts is { IsCancellationRequested: true } && !_clientGone && !_http.RequestAborted.IsCancellationRequested;

    public override Metadata ResponseTrailers => _trailers ??= [];

    public override Status Status
    {
        get => _status;
        set => _status = value;
    }

    public override X509Certificate2? ClientCertificate => _http.Connection.ClientCertificate;

    public TRequest Current => _current;

    /// <summary>Parses <c>grpc-timeout</c> and arms the deadline; false with a status when it is malformed.</summary>
    public bool TryStart(out Status error)
    {
        error = default;
        var header = _http.Request.Headers[GrpcProtocol.TimeoutHeader];
        if (header.Count == 0)
        {
            return true;
        }

        if (header.Count > 1 || !GrpcTimeout.TryParse(header[0], out var timeout))
        {
            error = new Status(StatusCode.Internal, $"malformed grpc-timeout header '{header}'");
            return false;
        }

        _deadline = timeout > DateTime.MaxValue - DateTime.UtcNow ? DateTime.MaxValue : DateTime.UtcNow + timeout;
        if (timeout < MaxTimer)
        {
            _deadlineCts = CancellationTokenSource.CreateLinkedTokenSource(_http.RequestAborted);
            _deadlineCts.CancelAfter(timeout);
            _token = _deadlineCts.Token;
        }

        return true;
    }

    public override Task WriteResponseHeadersAsync(Metadata responseHeaders)
    {
        ArgumentNullException.ThrowIfNull(responseHeaders);
        var response = _http.Response;
        if (response.HasStarted)
        {
            throw new InvalidOperationException("response headers were already sent");
        }

        PrepareResponse(response);
        foreach (var entry in responseHeaders)
        {
            response.Headers.Append(entry.Key, entry.Value);
        }

        return response.StartAsync(_token);
    }

    public async ValueTask<bool> MoveNextAsync(CancellationToken cancellationToken = default)
    {
        using var linked = NeedsLink(cancellationToken) ? CancellationTokenSource.CreateLinkedTokenSource(_token, cancellationToken) : null;
        var token = linked?.Token ?? _token;
        var reader = _http.Request.BodyReader;
        while (true)
        {
            ReadResult result;
            try
            {
                result = await reader.ReadAsync(token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is IOException or InvalidOperationException)
            {
                throw ClientGone(ex);
            }

            var buffer = result.Buffer;
            if (TryReadFrame(ref buffer, out var payload))
            {
                try
                {
                    _current = _method.RequestMarshaller.Deserialize(payload);
                }
                catch (Exception ex) when (ex is not OutOfMemoryException)
                {
                    throw Fail(new Status(StatusCode.Internal, "failed to deserialize the request message"));
                }
                finally
                {
                    reader.AdvanceTo(buffer.Start);
                }

                return true;
            }

            if (result.IsCompleted)
            {
                reader.AdvanceTo(buffer.End);
                if (buffer.IsEmpty)
                {
                    return false;
                }

                throw Fail(new Status(StatusCode.Internal, $"the request ended inside a message ({buffer.Length} bytes of an incomplete message)"));
            }

            if (result.IsCanceled)
            {
                throw new OperationCanceledException(token);
            }

            // Nothing consumed, everything examined: Kestrel counts examined bytes for HTTP/2
            // flow control, so a message larger than the stream window still arrives.
            reader.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    /// <summary>
    /// The one request of a unary or server-streaming call. A ValueTask (pooled when it
    /// waits), as the request has usually arrived with the headers: no Task per call.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<TRequest> ReadSingleRequestAsync()
    {
        if (!await MoveNextAsync().ConfigureAwait(false))
        {
            throw Fail(new Status(StatusCode.Internal, "the request stream ended without a message; this method takes exactly one"));
        }

        var request = _current;
        if (await MoveNextAsync().ConfigureAwait(false))
        {
            throw Fail(new Status(StatusCode.Internal, "more than one request message for a method that takes exactly one"));
        }

        return request;
    }

    public ValueTask WriteAsync(TResponse message, CancellationToken cancellationToken = default)
    {
        if (_finished)
        {
            throw new InvalidOperationException("the call has completed; no more responses can be written");
        }

        WriteMessage(message);
        return FlushAsync(cancellationToken);
    }

    /// <summary>Frames a message into the response body without flushing it.</summary>
    public void WriteMessage(TResponse message)
    {
        _token.ThrowIfCancellationRequested();
        var size = _method.ResponseMarshaller.ComputeSize(message);
        if (size > _options.MaxSendMessageSize)
        {
            throw Fail(new Status(StatusCode.ResourceExhausted, $"Sending message exceeds the maximum configured message size ({size} vs. {_options.MaxSendMessageSize})"));
        }

        var response = _http.Response;
        if (!response.HasStarted && !_messageWritten)
        {
            PrepareResponse(response);
        }

        var writer = response.BodyWriter;
        var marshaller = _method.ResponseMarshaller;
        if (size <= SpanSerializeLimit && marshaller.CanSerializeToSpan)
        {
            // Prefix and message in one span of one pool block: cheaper than protobuf's
            // IBufferWriter path, which asks the pipe for memory more than once.
            var framed = GrpcProtocol.FrameHeaderSize + size;
            var span = writer.GetSpan(framed)[..framed];
            MessageFrame.WriteHeader(span, size);
            marshaller.TrySerialize(message, span[GrpcProtocol.FrameHeaderSize..]);
            writer.Advance(framed);
        }
        else
        {
            MessageFrame.WriteHeader(writer.GetSpan(GrpcProtocol.FrameHeaderSize), size);
            writer.Advance(GrpcProtocol.FrameHeaderSize);
            marshaller.Serialize(message, writer);
        }

        _messageWritten = true;
    }

    /// <summary>The status after the handler returned normally.</summary>
    public Status CompletionStatus()
    {
        if (_transportError is { } error)
        {
            return error;
        }

        // A handler that finishes after the deadline does not get to report success.
        return _token.IsCancellationRequested ? CancellationStatus() : _status;
    }

    /// <summary>The status for an exception that escaped the handler (or the transport).</summary>
    public Status StatusFromException(Exception exception)
    {
        if (_transportError is { } error)
        {
            return error;
        }

        if (exception is RpcException rpc)
        {
            if (rpc.Trailers.Count > 0)
            {
                foreach (var entry in rpc.Trailers)
                {
                    ResponseTrailers.Add(entry);
                }
            }

            return rpc.Status;
        }

        if (_token.IsCancellationRequested || (_clientGone && exception is OperationCanceledException))
        {
            return CancellationStatus();
        }

        RpcLog.HandlerThrew(_logger, _method.FullName, exception);
        return new Status(StatusCode.Internal, "Exception was thrown by handler.");
    }

    /// <summary>Writes the status (at most once). Never throws: the client may be gone.</summary>
    public void Finish(Status status)
    {
        if (_finished)
        {
            return;
        }

        _finished = true;
        if (status.StatusCode != StatusCode.OK)
        {
            RpcLog.CallRefused(_logger, _method.FullName, status.StatusCode, status.Detail);
        }

        if (_clientGone || _http.RequestAborted.IsCancellationRequested)
        {
            return;   // the stream was reset: nobody to tell
        }

        var response = _http.Response;
        try
        {
            if (!_messageWritten && !response.HasStarted)
            {
                GrpcResponse.WriteTrailersOnly(response, status, _trailers);
            }
            else
            {
                GrpcResponse.WriteTrailers(response, status, _trailers);
            }
        }
        catch (InvalidOperationException)
        {
            // The response already completed (for example after a reset racing this write).
        }
    }

    public void Dispose() => _deadlineCts?.Dispose();

    /// <summary>
    /// Flushes the response body. When the handler passes no token of its own (or the call's)
    /// and the pipe flushes at once, as it does while the client keeps up, no state machine runs.
    /// </summary>
    private ValueTask FlushAsync(CancellationToken cancellationToken)
    {
        if (NeedsLink(cancellationToken))
        {
            return FlushLinkedAsync(cancellationToken);
        }

        ValueTask<FlushResult> flush;
        try
        {
            flush = _http.Response.BodyWriter.FlushAsync(_token);
        }
        catch (Exception ex) when (ex is IOException or InvalidOperationException)
        {
            // Failures surface through the returned task, as they did when this was async.
            return ValueTask.FromException(ClientGone(ex));
        }

        if (!flush.IsCompletedSuccessfully)
        {
            return AwaitFlushAsync(flush);
        }

        var result = flush.Result;
        return result.IsCanceled || result.IsCompleted ? ValueTask.FromException(ClientGone(null)) : default;
    }

    private async ValueTask FlushLinkedAsync(CancellationToken cancellationToken)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(_token, cancellationToken);
        ValueTask<FlushResult> flush;
        try
        {
            flush = _http.Response.BodyWriter.FlushAsync(linked.Token);
        }
        catch (Exception ex) when (ex is IOException or InvalidOperationException)
        {
            throw ClientGone(ex);
        }

        await AwaitFlushAsync(flush).ConfigureAwait(false);
    }

    private async ValueTask AwaitFlushAsync(ValueTask<FlushResult> flush)
    {
        FlushResult result;
        try
        {
            result = await flush.ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or InvalidOperationException)
        {
            throw ClientGone(ex);
        }

        if (result.IsCanceled || result.IsCompleted)
        {
            // The client went away (or the response was aborted): the write went nowhere.
            throw ClientGone(null);
        }
    }

    /// <summary>
    /// Handlers usually pass the call's own token: linking it to itself would cost a
    /// CancellationTokenSource per message on the hot path for nothing.
    /// </summary>
    private bool NeedsLink(CancellationToken cancellationToken) =>
        cancellationToken.CanBeCanceled && cancellationToken != _token;

    private static void PrepareResponse(HttpResponse response)
    {
        response.StatusCode = StatusCodes.Status200OK;
        response.Headers.ContentType = GrpcProtocol.ContentType;
    }

    /// <summary>
    /// The stream was reset or the connection dropped. Kestrel signals RequestAborted on the
    /// thread pool, so the token may not show it yet: report it to the handler as the
    /// cancellation it is, right away.
    /// </summary>
    private OperationCanceledException ClientGone(Exception? cause)
    {
        if (_token.IsCancellationRequested && !_http.RequestAborted.IsCancellationRequested)
        {
            return new OperationCanceledException("the deadline passed", cause, _token);
        }

        _clientGone = true;
        return new OperationCanceledException("the client reset the stream or the connection was lost", cause, _token);
    }

    private Status CancellationStatus() => _clientGone || _http.RequestAborted.IsCancellationRequested
        ? new Status(StatusCode.Cancelled, "the client cancelled the call")
        : new Status(StatusCode.DeadlineExceeded, "Deadline Exceeded");

    /// <summary>Records a protocol error in the request or response; the call ends with it.</summary>
    private RpcException Fail(Status status)
    {
        _transportError ??= status;
        return new RpcException(status);
    }

    /// <summary>
    /// Cuts one whole message off the front of <paramref name="buffer"/>. False when more bytes
    /// are needed. Throws (via <see cref="Fail"/>) for a compressed message (we accept no
    /// encoding), an invalid flag, or a message over the receive limit — the last one as soon
    /// as the prefix arrives, before its bytes are buffered.
    /// </summary>
    private bool TryReadFrame(ref ReadOnlySequence<byte> buffer, out ReadOnlySequence<byte> payload)
    {
        payload = default;
        if (buffer.Length < GrpcProtocol.FrameHeaderSize)
        {
            return false;
        }

        Span<byte> header = stackalloc byte[GrpcProtocol.FrameHeaderSize];
        buffer.Slice(0, GrpcProtocol.FrameHeaderSize).CopyTo(header);
        MessageFrame.ReadHeader(header, out var flag, out var length);
        if (flag == 1)
        {
            throw Fail(new Status(StatusCode.Unimplemented, "the request message is compressed, but this server supports no grpc-encoding (accepted: identity)"));
        }

        if (flag != 0)
        {
            throw Fail(new Status(StatusCode.Internal, $"invalid Compressed-Flag {flag} in a request message"));
        }

        if (length > _options.MaxReceiveMessageSize)
        {
            throw Fail(new Status(StatusCode.ResourceExhausted, $"Received message larger than max ({length} vs. {_options.MaxReceiveMessageSize})"));
        }

        if (buffer.Length < GrpcProtocol.FrameHeaderSize + length)
        {
            return false;
        }

        payload = buffer.Slice(GrpcProtocol.FrameHeaderSize, length);
        buffer = buffer.Slice(GrpcProtocol.FrameHeaderSize + length);
        return true;
    }

    private Metadata ReadRequestHeaders()
    {
        var metadata = new Metadata();
        foreach (var header in _http.Request.Headers)
        {
            var key = header.Key.ToLowerInvariant();
            if (key.StartsWith(':') || key.StartsWith("grpc-", StringComparison.Ordinal) ||
                key is "content-type" or "te" or "user-agent" or "host" or "content-length" or "accept-encoding")
            {
                continue;
            }

            foreach (var value in header.Value)
            {
                if (value is null)
                {
                    continue;
                }

                try
                {
                    metadata.Add(Metadata.IsBinaryKey(key)
                        ? new Metadata.Entry(key, Convert.FromBase64String(value.PadRight(value.Length + ((4 - (value.Length % 4)) % 4), '=')))
                        : new Metadata.Entry(key, value));
                }
                catch (FormatException)
                {
                    // Malformed base64 from the client: the entry is dropped.
                }
                catch (ArgumentException)
                {
                    // A key or value Metadata refuses: the entry is dropped.
                }
            }
        }

        return metadata;
    }
}

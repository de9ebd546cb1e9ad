using System.Buffers;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Runtime.CompilerServices;
using Google.Protobuf;
using Kv.Client.Rpc.Wire;

namespace Kv.Client.Rpc.Http;

/// <summary>
/// One call over an HTTP/2 stream. Its life, in order:
/// 1. Start: the request headers go out (SendAsync); a request stream waits for the body stream.
/// 2. Response headers: a non-200 status, a trailers-only response or a wrong content type ends
///    the call; otherwise the body is read message by message.
/// 3. End: the end of the body brings the trailers and the status. Any failure (cancellation,
///    deadline, reset, a limit) ends the call instead. The call ends exactly once
///    (<see cref="Finish"/>); ending with a non-OK status resets the HTTP/2 stream.
/// Contract: one reader and one writer at a time (they may run concurrently with each other).
/// </summary>
internal sealed class HttpClientCall<TRequest, TResponse> : IClientCall<TRequest, TResponse>, IClientStreamWriter<TRequest>, IAsyncStreamReader<TResponse>
{
    private static readonly string UserAgent = "kv-client/" + BuildVersion.Version;

    // CancellationTokenSource.CancelAfter accepts at most uint.MaxValue - 1 ms (about 49 days).
    private static readonly TimeSpan MaxTimer = TimeSpan.FromMilliseconds(uint.MaxValue - 1);

    // Completed results for _responseTask, so a unary call keeps no Task of its own.
    private static readonly Task<bool> BodyFollows = Task.FromResult(true);
    private static readonly Task<bool> CallEnded = Task.FromResult(false);

    private readonly RpcChannel _channel;
    private readonly Method<TRequest, TResponse> _method;
    private readonly CallOptions _options;
    private readonly CancellationTokenSource? _cts;  // the caller's token, the deadline and Dispose, in one; see the constructor
    private readonly CancellationToken _token;       // _cts.Token (read once: _cts may be disposed later), else the caller's token
    private readonly object _sync = new();
    private HttpContent? _content;
    private StreamingRequestContent? _requestBody;   // null for calls with one request
    private Task<bool> _responseTask = CallEnded; // true: a body follows; false: the call ended
    private HttpResponseMessage? _response;
    private ResponseFrameReader? _reader;            // owned by the reading path only
    private Task<Metadata>? _headersTask;
    private CancellationTokenRegistration _abortRegistration;
    private Status? _status;
    private Metadata? _trailers;
    private bool _requestCompleted;
    private bool _timerArmed;                        // a deadline timer runs on _cts
    private volatile bool _cancelledByCaller;
    private volatile bool _disposed;
    private TResponse _current = default!;

    public HttpClientCall(RpcChannel channel, Method<TRequest, TResponse> method, CallOptions options)
    {
        _channel = channel;
        _method = method;
        _options = options;
        // A unary call without a deadline needs no source of its own: nothing but the caller's
        // token can cancel it (UnaryAsync reads it to its end before disposing it), so that
        // token is the call's. Streaming calls need one (Dispose resets a stream that is still
        // open, and MoveNextAsync/WriteAsync link per-operation tokens into it), as do deadlines.
        if (method.Type != MethodType.Unary || HasDeadline(options))
        {
            _cts = options.CancellationToken.CanBeCanceled
                ? CancellationTokenSource.CreateLinkedTokenSource(options.CancellationToken)
                : new CancellationTokenSource();
            _token = _cts.Token;
        }
        else
        {
            _token = options.CancellationToken;
        }
    }

    public IClientStreamWriter<TRequest> RequestStream => this;

    public IAsyncStreamReader<TResponse> ResponseStream => this;

    public Task<Metadata> ResponseHeadersAsync => _headersTask ??= GetHeadersAsync();

    public TResponse Current => _current;

    /// <summary>Runs a whole unary call and releases it.</summary>
    public async Task<TResponse> UnaryAsync(TRequest request)
    {
        try
        {
            // Nothing else looks at _responseTask of a unary call, so it is awaited here rather
            // than kept as a task of its own.
            if (TryCreateSingleRequestContent(request, out var content) && Start(content) is { } send)
            {
                _responseTask = await ReceiveHeadersCoreAsync(send).ConfigureAwait(false) ? BodyFollows : CallEnded;
            }

            return await ReadSingleResponseCoreAsync().ConfigureAwait(false);
        }
        finally
        {
            Dispose();
        }
    }

    public void StartServerStreaming(TRequest request)
    {
        if (TryCreateSingleRequestContent(request, out var content) && Start(content) is { } send)
        {
            _responseTask = ReceiveHeadersAsync(send);
            RegisterAbort();
        }
    }

    public void StartStreaming()
    {
        _requestBody = new StreamingRequestContent();
        if (Start(_requestBody) is { } send)
        {
            _responseTask = ReceiveHeadersAsync(send);
        }

        RegisterAbort();
    }

    public ValueTask<bool> MoveNextAsync(CancellationToken cancellationToken = default)
    {
        // Fast path: the next message is already buffered, so nothing waits and there is
        // nothing to cancel (a token already cancelled takes the slow path, which reports it).
        return !cancellationToken.IsCancellationRequested && TryReadBufferedMessage()
            ? new ValueTask<bool>(true)
            : MoveNextSlowAsync(cancellationToken);
    }

    private async ValueTask<bool> MoveNextSlowAsync(CancellationToken cancellationToken)
    {
        using var registration = RegisterCallerToken(cancellationToken);
        if (await ReadMessageAsync().ConfigureAwait(false))
        {
            return true;
        }

        ThrowIfFailed();
        return false;
    }

    public Task<TResponse> ReadSingleResponseAsync() => ReadSingleResponseCoreAsync().AsTask();

    /// <summary>Pooled state machine: awaited exactly once, by UnaryAsync or ReadSingleResponseAsync.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<TResponse> ReadSingleResponseCoreAsync()
    {
        if (!await ReadMessageAsync().ConfigureAwait(false))
        {
            ThrowIfFailed();
            throw new RpcException(new Status(StatusCode.Internal, "the server ended the call with OK but sent no response message"), Trailers);
        }

        var response = _current;
        if (await ReadMessageAsync().ConfigureAwait(false))
        {
            Finish(new Status(StatusCode.Internal, "the server sent more than one response message for a single-response call"));
        }

        ThrowIfFailed();
        return response;
    }

    public async ValueTask WriteAsync(TRequest message, CancellationToken cancellationToken = default)
    {
        var body = _requestBody ?? throw new InvalidOperationException("this call has no request stream");
        if (_requestCompleted)
        {
            throw new InvalidOperationException("the request stream was already completed");
        }

        ThrowIfEnded();
        var size = _method.RequestMarshaller.ComputeSize(message);
        if (size > _channel.Options.MaxSendMessageSize)
        {
            Finish(SendLimitStatus(size));
            ThrowIfEnded();
        }

        var length = GrpcProtocol.FrameHeaderSize + size;
        var buffer = ArrayPool<byte>.Shared.Rent(length);
        try
        {
            Serialize(message, size, buffer);
            using var registration = RegisterCallerToken(cancellationToken);
            var stream = await body.StreamAsync.WaitAsync(_token).ConfigureAwait(false);
            await stream.WriteAsync(buffer.AsMemory(0, length), _token).ConfigureAwait(false);
            await stream.FlushAsync(_token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not RpcException)
        {
            // The stream is gone: the call ended, was cancelled, or the connection failed. If the
            // response is still flowing, its trailers carry the real status for the reader, so
            // report this failure without ending the call.
            if (_status is null)
            {
                await _responseTask.ConfigureAwait(false);
            }

            throw new RpcException(_status ?? StatusFromException(ex), Trailers, ex);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    public ValueTask CompleteAsync()
    {
        if (_requestBody is null)
        {
            throw new InvalidOperationException("this call has no request stream");
        }

        _requestCompleted = true;
        _requestBody.Complete();
        return default;
    }

    public Status GetStatus() => _status ?? throw new InvalidOperationException("the call has not completed yet: read the response stream to its end first");

    public Metadata GetTrailers() => _status is not null ? Trailers : throw new InvalidOperationException("the call has not completed yet: read the response stream to its end first");

    /// <summary>The trailers once the call ended; created on first use, as most calls have none.</summary>
    private Metadata Trailers => _trailers ??= new Metadata();

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        if (Finish(new Status(StatusCode.Cancelled, "the call was disposed before it completed")))
        {
            _cts?.Cancel();
        }

        _abortRegistration.Dispose();
        _content?.Dispose();
        _response?.Dispose();
        _cts?.Dispose();
    }

    private bool TryCreateSingleRequestContent(TRequest request, out HttpContent content)
    {
        content = null!;
        int size;
        byte[] buffer;
        try
        {
            size = _method.RequestMarshaller.ComputeSize(request);
            if (size > _channel.Options.MaxSendMessageSize)
            {
                Finish(SendLimitStatus(size));
                return false;
            }

            buffer = ArrayPool<byte>.Shared.Rent(GrpcProtocol.FrameHeaderSize + size);
            Serialize(request, size, buffer);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            Finish(new Status(StatusCode.Internal, "failed to serialize the request: " + ex.Message));
            return false;
        }

        content = new UnaryRequestContent(buffer, GrpcProtocol.FrameHeaderSize + size);
        return true;
    }

    private void Serialize(TRequest message, int size, byte[] buffer)
    {
        MessageFrame.WriteHeader(buffer, size);
        if (_method.RequestMarshaller.TrySerialize(message, buffer.AsSpan(GrpcProtocol.FrameHeaderSize, size)))
        {
            return;
        }

        var writer = new FixedBufferWriter(buffer, GrpcProtocol.FrameHeaderSize);
        _method.RequestMarshaller.Serialize(message, writer);
        if (writer.Written != size)
        {
            throw new InvalidOperationException($"the marshaller wrote {writer.Written} bytes but ComputeSize reported {size}");
        }
    }

    private Status SendLimitStatus(int size) =>
        new(StatusCode.ResourceExhausted, $"Sending message exceeds the maximum configured message size ({size} vs. {_channel.Options.MaxSendMessageSize})");

    /// <summary>Sends the request headers; returns the response task, or null when the call already ended.</summary>
    private Task<HttpResponseMessage>? Start(HttpContent content)
    {
        _content = content;
        string? timeout = null;
        if (_options.Deadline is { } deadline && deadline != DateTime.MaxValue)
        {
            var remaining = deadline.ToUniversalTime() - DateTime.UtcNow;
            if (remaining <= TimeSpan.Zero)
            {
                Finish(new Status(StatusCode.DeadlineExceeded, "Deadline Exceeded (the deadline passed before the call started)"));
                return null;
            }

            timeout = GrpcTimeout.Encode(remaining);
            if (remaining < MaxTimer)
            {
                _cts!.CancelAfter(remaining);
                _timerArmed = true;
            }
        }

        var request = new HttpRequestMessage(HttpMethod.Post, _channel.GetUri(_method))
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = content,
        };
        var headers = request.Headers;
        headers.TryAddWithoutValidation("te", "trailers");
        headers.TryAddWithoutValidation("user-agent", UserAgent);
        if (timeout is not null)
        {
            headers.TryAddWithoutValidation(GrpcProtocol.TimeoutHeader, timeout);
        }

        if (_options.Headers is { Count: > 0 } metadata)
        {
            HttpMetadata.AddTo(headers, metadata);
        }

        Task<HttpResponseMessage> send;
        try
        {
            send = _channel.Invoker.SendAsync(request, _token);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            send = Task.FromException<HttpResponseMessage>(ex);
        }

        return send;
    }

    /// <summary>Streaming calls are not always awaiting something: reset the stream as soon as the call is cancelled.</summary>
    private void RegisterAbort() =>
        _abortRegistration = _token.UnsafeRegister(static s => ((HttpClientCall<TRequest, TResponse>)s!).OnCancelled(), this);

    private CancellationTokenRegistration RegisterCallerToken(CancellationToken cancellationToken) =>
        cancellationToken.CanBeCanceled
            ? cancellationToken.UnsafeRegister(static s => ((HttpClientCall<TRequest, TResponse>)s!).CancelByCaller(), this)
            : default;

    private void CancelByCaller()
    {
        _cancelledByCaller = true;
        try
        {
            _cts?.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // The call was disposed meanwhile: nothing left to cancel.
        }
    }

    private void OnCancelled() => Finish(CancellationStatus());

    private async Task<bool> ReceiveHeadersAsync(Task<HttpResponseMessage> send) =>
        await ReceiveHeadersCoreAsync(send).ConfigureAwait(false);

    /// <summary>Pooled state machine: awaited exactly once, by UnaryAsync or ReceiveHeadersAsync.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<bool> ReceiveHeadersCoreAsync(Task<HttpResponseMessage> send)
    {
        HttpResponseMessage response;
        try
        {
            response = await send.ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            Finish(StatusFromException(ex));
            return false;
        }

        lock (_sync)
        {
            if (_status is not null)
            {
                response.Dispose();
                return false;
            }

            _response = response;
        }

        if (response.StatusCode != HttpStatusCode.OK)
        {
            Finish(new Status(StatusMapping.FromHttpStatus(response.StatusCode), $"Bad gRPC response. HTTP status code: {(int)response.StatusCode}"));
            return false;
        }

        if (TryGetStatus(response.Headers, out var trailersOnly))
        {
            Finish(trailersOnly, HttpMetadata.From(response.Headers));
            return false;
        }

        var contentType = response.Content.Headers.NonValidated.TryGetValues("Content-Type", out var ct) ? ct.ToString() : null;
        if (!GrpcProtocol.IsGrpcContentType(contentType))
        {
            Finish(new Status(StatusCode.Internal, $"Bad gRPC response. Invalid content-type value: {contentType}"));
            return false;
        }

        try
        {
            var stream = await response.Content.ReadAsStreamAsync(_token).ConfigureAwait(false);
            _reader = new ResponseFrameReader(stream, _method.Type is MethodType.Unary or MethodType.ClientStreaming
                ? ResponseFrameReader.SingleResponseBufferSize
                : ResponseFrameReader.StreamBufferSize);
            return true;
        }
        catch (Exception ex)
        {
            Finish(StatusFromException(ex));
            return false;
        }
    }

    /// <summary>
    /// Takes the next message into <see cref="_current"/> if the body is open and the message
    /// is already buffered. False otherwise; a failure ends the call (as in ReadMessageAsync),
    /// and the slow path then reports it.
    /// </summary>
    private bool TryReadBufferedMessage()
    {
        if (_status is not null || _reader is not { } reader || !_responseTask.IsCompletedSuccessfully)
        {
            return false;
        }

        try
        {
            if (reader.TryReadBuffered(_channel.Options.MaxReceiveMessageSize))
            {
                _current = _method.ResponseMarshaller.Deserialize(reader.Payload);
                return true;
            }
        }
        catch (Exception ex)
        {
            Finish(StatusFromException(ex));
        }

        return false;
    }

    /// <summary>Pooled state machine: every caller awaits it exactly once.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<bool> ReadMessageAsync()
    {
        if (await _responseTask.ConfigureAwait(false) && _status is null && _reader is { } reader)
        {
            try
            {
                if (await reader.ReadAsync(_channel.Options.MaxReceiveMessageSize, _token).ConfigureAwait(false))
                {
                    _current = _method.ResponseMarshaller.Deserialize(reader.Payload);
                    return true;
                }

                var trailers = _response!.TrailingHeaders;
                Finish(
                    TryGetStatus(trailers, out var status) ? status : new Status(StatusCode.Internal, "the server ended the response without a grpc-status"),
                    HttpMetadata.FromOrNull(trailers));
            }
            catch (Exception ex)
            {
                Finish(StatusFromException(ex));
            }
        }

        _reader?.Dispose();
        _reader = null;
        return false;
    }

    private async Task<Metadata> GetHeadersAsync()
    {
        await _responseTask.ConfigureAwait(false);
        if (_response is { StatusCode: HttpStatusCode.OK } response)
        {
            return HttpMetadata.From(response.Headers);
        }

        throw new RpcException(_status ?? new Status(StatusCode.Internal, "no response headers"), Trailers);
    }

    /// <summary>Ends the call with <paramref name="status"/> unless it already ended; true if this call ended it.</summary>
    private bool Finish(Status status, Metadata? trailers = null)
    {
        lock (_sync)
        {
            if (_status is not null)
            {
                return false;
            }

            _trailers = trailers;
            _status = status;
        }

        if (_timerArmed && !_disposed)
        {
            try
            {
                _cts!.CancelAfter(Timeout.InfiniteTimeSpan);
            }
            catch (ObjectDisposedException)
            {
                // Already released.
            }
        }

        // A request stream still open after the call ended has nowhere to go.
        _requestBody?.Abort();
        if (status.StatusCode != StatusCode.OK)
        {
            // Resets the HTTP/2 stream if the body was not read to its end.
            _response?.Dispose();
        }

        return true;
    }

    private void ThrowIfFailed()
    {
        var status = _status!.Value;
        if (status.StatusCode != StatusCode.OK)
        {
            throw new RpcException(status, Trailers);
        }
    }

    private void ThrowIfEnded()
    {
        if (_status is { } status)
        {
            throw status.StatusCode != StatusCode.OK
                ? new RpcException(status, Trailers)
                : new InvalidOperationException("the call has already completed");
        }
    }

    private Status CancellationStatus()
    {
        if (_cancelledByCaller || _options.CancellationToken.IsCancellationRequested)
        {
            return new Status(StatusCode.Cancelled, "Call canceled by the client.");
        }

        return _disposed
            ? new Status(StatusCode.Cancelled, "the call was disposed before it completed")
            : new Status(StatusCode.DeadlineExceeded, "Deadline Exceeded");
    }

    private Status StatusFromException(Exception ex)
    {
        if (_token.IsCancellationRequested)
        {
            return CancellationStatus();
        }

        for (var e = ex; e is not null; e = e.InnerException)
        {
            switch (e)
            {
                case RpcException rpc:
                    return rpc.Status;
                case HttpProtocolException protocol:
                    return new Status(StatusMapping.FromHttp2ErrorCode(protocol.ErrorCode), $"the HTTP/2 stream failed with error code {protocol.ErrorCode}: {protocol.Message}");
                case InvalidProtocolBufferException:
                    return new Status(StatusCode.Internal, "failed to deserialize the response message: " + e.Message);
            }
        }

        return ex switch
        {
            HttpRequestException => new Status(StatusCode.Unavailable, $"error talking to {_channel.Address}: {ex.Message}"),
            IOException or ObjectDisposedException => new Status(StatusCode.Unavailable, $"the connection to {_channel.Address} was lost: {ex.Message}"),
            _ => new Status(StatusCode.Internal, "error in the RPC client: " + ex.Message),
        };
    }

    private static bool HasDeadline(CallOptions options) =>
        options.Deadline is { } deadline && deadline != DateTime.MaxValue;

    private static bool TryGetStatus(HttpHeaders headers, out Status status)
    {
        status = default;
        if (!headers.NonValidated.TryGetValues(GrpcProtocol.StatusHeader, out var values))
        {
            return false;
        }

        var text = values.ToString();
        var message = headers.NonValidated.TryGetValues(GrpcProtocol.MessageHeader, out var m) ? StatusMessageEncoding.Decode(m.ToString()) : string.Empty;
        status = int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var code) && code is >= 0 and <= 16
            ? new Status((StatusCode)code, message)
            : new Status(StatusCode.Unknown, $"invalid grpc-status '{text}': {message}");
        return true;
    }
}

using System.Net;

namespace Kv.Client.Rpc.Http;

/// <summary>
/// The body of a call with a request stream. SocketsHttpHandler calls
/// <see cref="SerializeToStreamAsync(Stream, TransportContext?, CancellationToken)"/> once the
/// request headers are sent; we hand that stream to the call's writer and keep the body open
/// until the writer completes (END_STREAM) or the call is aborted (RST_STREAM).
/// </summary>
internal sealed class StreamingRequestContent : HttpContent
{
    private readonly TaskCompletionSource<Stream> _stream = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _complete = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public StreamingRequestContent() =>
        Headers.TryAddWithoutValidation("Content-Type", Wire.GrpcProtocol.ContentType);

    /// <summary>The request body stream, once the handler has started sending the body.</summary>
    public Task<Stream> StreamAsync => _stream.Task;

    /// <summary>Ends the request stream normally.</summary>
    public void Complete() => _complete.TrySetResult();

    /// <summary>Ends the request stream abnormally; the handler resets the HTTP/2 stream.</summary>
    public void Abort()
    {
        _stream.TrySetCanceled();
        _complete.TrySetCanceled();
    }

    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
        SerializeToStreamAsync(stream, context, CancellationToken.None);

    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
    {
        _stream.TrySetResult(stream);
        return _complete.Task;
    }

    protected override bool TryComputeLength(out long length)
    {
        length = -1;
        return false;
    }
}

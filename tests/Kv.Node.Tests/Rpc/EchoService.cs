using System.Collections.Concurrent;
using Google.Protobuf;
using Grpc.Core;
using Kv.Proto.V1;

namespace Kv.Node.Tests.Rpc;

/// <summary>
/// <c>kv.v1.Echo</c>, the test service that proves the RPC stack (tests host it; production
/// nodes do not serve it). Semantics are in proto/kv/v1/echo.proto; tests/interop/server.js
/// implements the same ones. Calls named by a <c>tag</c> report how they ended
/// (<see cref="CallEnded"/>), so tests can check that a handler really observed a cancellation
/// or deadline.
/// </summary>
public sealed class EchoService : Echo.EchoBase
{
    private readonly ConcurrentDictionary<string, TaskCompletionSource<StatusCode>> _endings = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, TaskCompletionSource> _starts = new(StringComparer.Ordinal);

    /// <summary>Completes with how the handler of the call tagged <paramref name="tag"/> ended.</summary>
    public Task<StatusCode> CallEnded(string tag) => Ending(tag).Task;

    /// <summary>Completes once the handler of the call tagged <paramref name="tag"/> is running (its tag known).</summary>
    public Task CallStarted(string tag) => Start(tag).Task;

    public override Task<EchoResponse> Unary(EchoRequest request, ServerCallContext context) =>
        ObserveAsync(request.Tag, context, async () =>
        {
            await DelayAsync(request, context).ConfigureAwait(false);
            ThrowIfAsked(request);
            return Reply(request, 0);
        });

    public override Task ServerStream(EchoRequest request, IServerStreamWriter<EchoResponse> responseStream, ServerCallContext context) =>
        ObserveAsync(request.Tag, context, async () =>
        {
            ThrowIfAsked(request);
            for (long i = 0; request.Count == 0 || i < request.Count; i++)
            {
                await DelayAsync(request, context).ConfigureAwait(false);
                await responseStream.WriteAsync(Reply(request, i), context.CancellationToken).ConfigureAwait(false);
            }

            return true;
        });

    public override Task<EchoResponse> ClientStream(IAsyncStreamReader<EchoRequest> requestStream, ServerCallContext context)
    {
        string? tag = null;
        return ObserveAsync(() => tag, context, async () =>
        {
            long count = 0, bytes = 0;
            while (await requestStream.MoveNext(context.CancellationToken).ConfigureAwait(false))
            {
                var request = requestStream.Current;
                tag ??= request.Tag.Length > 0 ? request.Tag : null;
                await DelayAsync(request, context).ConfigureAwait(false);
                ThrowIfAsked(request);
                count++;
                bytes += request.Payload.Length;
            }

            return new EchoResponse { Count = count, TotalBytes = bytes };
        });
    }

    public override Task Bidi(IAsyncStreamReader<EchoRequest> requestStream, IServerStreamWriter<EchoResponse> responseStream, ServerCallContext context)
    {
        string? tag = null;
        return ObserveAsync(() => tag, context, async () =>
        {
            long i = 0;
            while (await requestStream.MoveNext(context.CancellationToken).ConfigureAwait(false))
            {
                var request = requestStream.Current;
                tag ??= request.Tag.Length > 0 ? request.Tag : null;
                await DelayAsync(request, context).ConfigureAwait(false);
                ThrowIfAsked(request);
                await responseStream.WriteAsync(Reply(request, i++), context.CancellationToken).ConfigureAwait(false);
            }

            return true;
        });
    }

    private static EchoResponse Reply(EchoRequest request, long index) => new()
    {
        Payload = request.ResponseSize > 0 ? ByteString.CopyFrom(new byte[request.ResponseSize]) : request.Payload,
        Message = request.Message,
        Index = index,
    };

    private static void ThrowIfAsked(EchoRequest request)
    {
        if (request.FailCode != 0)
        {
            throw new RpcException(new Status((StatusCode)request.FailCode, request.FailMessage));
        }
    }

    /// <summary>The test hook "answer slowly": waits, but never past cancellation.</summary>
    private static Task DelayAsync(EchoRequest request, ServerCallContext context) => request.DelayMs switch
    {
        0 => Task.CompletedTask,
        < 0 => Task.Delay(Timeout.Infinite, context.CancellationToken),
        _ => Task.Delay(request.DelayMs, context.CancellationToken),
    };

    private Task<T> ObserveAsync<T>(string tag, ServerCallContext context, Func<Task<T>> body) =>
        ObserveAsync(() => tag.Length > 0 ? tag : null, context, body);

    private async Task<T> ObserveAsync<T>(Func<string?> tag, ServerCallContext context, Func<Task<T>> body)
    {
        if (tag() is { } known)
        {
            Start(known).TrySetResult();
        }

        try
        {
            var result = await body().ConfigureAwait(false);
            Record(tag(), StatusCode.OK);
            return result;
        }
        catch (Exception e) when (e is OperationCanceledException or IOException)
        {
            // A client that resets its stream mid-read surfaces as an IOException from
            // Grpc.AspNetCore's request reader ("the client reset the request stream"), a
            // cancelled token or write as an OperationCanceledException: both mean the call was cut short.
            // The transport reports a reset stream as a cancellation even before the token shows it.
            // Grpc.AspNetCore sets the call's status to DEADLINE_EXCEEDED when its deadline timer
            // fires; a client that left (reset, disconnect) leaves it as it was.
            Record(tag(), context.Status.StatusCode == StatusCode.DeadlineExceeded ? StatusCode.DeadlineExceeded : StatusCode.Cancelled);
            throw;
        }
        catch (RpcException ex)
        {
            Record(tag(), ex.StatusCode);
            throw;
        }
    }

    private void Record(string? tag, StatusCode code)
    {
        if (tag is not null)
        {
            Ending(tag).TrySetResult(code);
        }
    }

    private TaskCompletionSource Start(string tag) =>
        _starts.GetOrAdd(tag, static _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));

    private TaskCompletionSource<StatusCode> Ending(string tag) =>
        _endings.GetOrAdd(tag, static _ => new TaskCompletionSource<StatusCode>(TaskCreationOptions.RunContinuationsAsynchronously));
}

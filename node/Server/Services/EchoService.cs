using System.Collections.Concurrent;
using Google.Protobuf;
using Kv.Client.Contracts;
using Kv.Client.Rpc;
using Kv.Node.Server.Rpc;
using Kv.Proto.V1;

namespace Kv.Node.Server.Services;

/// <summary>
/// <c>kv.v1.Echo</c>: the health/echo service that proves the RPC layer. Semantics are in
/// proto/kv/v1/echo.proto; tests/interop/server.js implements the same ones. Calls named by a
/// <c>tag</c> report how they ended (<see cref="CallEnded"/>), so tests can check that a
/// handler really observed a cancellation or deadline.
/// </summary>
public sealed class EchoService
{
    private readonly ConcurrentDictionary<string, TaskCompletionSource<StatusCode>> _endings = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, TaskCompletionSource> _starts = new(StringComparer.Ordinal);

    /// <summary>Completes with how the handler of the call tagged <paramref name="tag"/> ended.</summary>
    public Task<StatusCode> CallEnded(string tag) => Ending(tag).Task;

    /// <summary>Completes once the handler of the call tagged <paramref name="tag"/> is running (its tag known).</summary>
    public Task CallStarted(string tag) => Start(tag).Task;

    public ServerServiceDefinition BindService() => ServerServiceDefinition.CreateBuilder()
        .AddMethod(EchoContract.Unary, UnaryAsync)
        .AddMethod(EchoContract.ServerStream, ServerStreamAsync)
        .AddMethod(EchoContract.ClientStream, ClientStreamAsync)
        .AddMethod(EchoContract.Bidi, BidiAsync)
        .Build();

    private Task<EchoResponse> UnaryAsync(EchoRequest request, ServerCallContext context) =>
        ObserveAsync(request.Tag, context, async () =>
        {
            await DelayAsync(request, context).ConfigureAwait(false);
            ThrowIfAsked(request);
            return Reply(request, 0);
        });

    private Task ServerStreamAsync(EchoRequest request, IServerStreamWriter<EchoResponse> responses, ServerCallContext context) =>
        ObserveAsync(request.Tag, context, async () =>
        {
            ThrowIfAsked(request);
            for (long i = 0; request.Count == 0 || i < request.Count; i++)
            {
                await DelayAsync(request, context).ConfigureAwait(false);
                await responses.WriteAsync(Reply(request, i), context.CancellationToken).ConfigureAwait(false);
            }

            return true;
        });

    private Task<EchoResponse> ClientStreamAsync(IAsyncStreamReader<EchoRequest> requests, ServerCallContext context)
    {
        string? tag = null;
        return ObserveAsync(() => tag, context, async () =>
        {
            long count = 0, bytes = 0;
            while (await requests.MoveNextAsync(context.CancellationToken).ConfigureAwait(false))
            {
                var request = requests.Current;
                tag ??= request.Tag.Length > 0 ? request.Tag : null;
                await DelayAsync(request, context).ConfigureAwait(false);
                ThrowIfAsked(request);
                count++;
                bytes += request.Payload.Length;
            }

            return new EchoResponse { Count = count, TotalBytes = bytes };
        });
    }

    private Task BidiAsync(IAsyncStreamReader<EchoRequest> requests, IServerStreamWriter<EchoResponse> responses, ServerCallContext context)
    {
        string? tag = null;
        return ObserveAsync(() => tag, context, async () =>
        {
            long i = 0;
            while (await requests.MoveNextAsync(context.CancellationToken).ConfigureAwait(false))
            {
                var request = requests.Current;
                tag ??= request.Tag.Length > 0 ? request.Tag : null;
                await DelayAsync(request, context).ConfigureAwait(false);
                ThrowIfAsked(request);
                await responses.WriteAsync(Reply(request, i++), context.CancellationToken).ConfigureAwait(false);
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
        catch (OperationCanceledException)
        {
            // The transport reports a reset stream as a cancellation even before the token shows it.
            Record(tag(), context.DeadlineExceeded ? StatusCode.DeadlineExceeded : StatusCode.Cancelled);
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

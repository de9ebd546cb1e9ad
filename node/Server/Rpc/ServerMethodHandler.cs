using Kv.Client.Rpc;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Kv.Node.Server.Rpc;

/// <summary>Runs one kind of method: reads the request(s), calls the handler, writes the ending.</summary>
internal sealed class ServerMethodHandler<TRequest, TResponse>(Method<TRequest, TResponse> method, Delegate handler) : ServerMethodHandler
{
    public override IMethod Method => method;

    public override async Task HandleAsync(HttpContext http, RpcServerOptions options, ILogger logger)
    {
        using var call = new HttpServerCall<TRequest, TResponse>(http, method, options, logger);
        if (!call.TryStart(out var startError))
        {
            call.Finish(startError);
            return;
        }

        Status status;
        try
        {
            switch (method.Type)
            {
                case MethodType.Unary:
                    {
                        var request = await call.ReadSingleRequestAsync().ConfigureAwait(false);
                        var response = await ((UnaryServerMethod<TRequest, TResponse>)handler)(request, call).ConfigureAwait(false);
                        status = call.CompletionStatus();
                        if (status.StatusCode == StatusCode.OK)
                        {
                            // Not flushed: Kestrel sends the message and the trailers together.
                            call.WriteMessage(response);
                        }

                        break;
                    }

                case MethodType.ServerStreaming:
                    {
                        var request = await call.ReadSingleRequestAsync().ConfigureAwait(false);
                        await ((ServerStreamingServerMethod<TRequest, TResponse>)handler)(request, call, call).ConfigureAwait(false);
                        status = call.CompletionStatus();
                        break;
                    }

                case MethodType.ClientStreaming:
                    {
                        var response = await ((ClientStreamingServerMethod<TRequest, TResponse>)handler)(call, call).ConfigureAwait(false);
                        status = call.CompletionStatus();
                        if (status.StatusCode == StatusCode.OK)
                        {
                            call.WriteMessage(response);
                        }

                        break;
                    }

                default:
                    await ((DuplexStreamingServerMethod<TRequest, TResponse>)handler)(call, call, call).ConfigureAwait(false);
                    status = call.CompletionStatus();
                    break;
            }
        }
        catch (Exception ex)
        {
            status = call.StatusFromException(ex);
        }

        call.Finish(status);
    }
}

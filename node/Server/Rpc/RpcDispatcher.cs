using System.Collections.Frozen;
using Kv.Client.Rpc;
using Kv.Client.Rpc.Wire;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Kv.Node.Server.Rpc;

/// <summary>
/// Entry point of every request: refuses what is not gRPC (with the HTTP status the gRPC spec
/// asks for) and routes the rest by <c>:path</c> to its method. A terminal middleware: it can
/// be mounted on any Kestrel pipeline with <c>app.Run(dispatcher.HandleAsync)</c>.
/// </summary>
internal sealed class RpcDispatcher
{
    private readonly FrozenDictionary<string, ServerMethodHandler> _methods;
    private readonly RpcServerOptions _options;
    private readonly ILogger _logger;

    public RpcDispatcher(IEnumerable<ServerServiceDefinition> services, RpcServerOptions options, ILogger logger)
    {
        var methods = new Dictionary<string, ServerMethodHandler>(StringComparer.Ordinal);
        foreach (var service in services)
        {
            foreach (var method in service.Methods)
            {
                if (!methods.TryAdd(method.Method.FullName, method))
                {
                    throw new ArgumentException($"method {method.Method.FullName} is bound by two services", nameof(services));
                }
            }
        }

        _methods = methods.ToFrozenDictionary(StringComparer.Ordinal);
        _options = options;
        _logger = logger;
    }

    public Task HandleAsync(HttpContext http)
    {
        var request = http.Request;
        if (!HttpProtocol.IsHttp2(request.Protocol))
        {
            return GrpcResponse.RefuseAsync(http, StatusCodes.Status426UpgradeRequired, $"gRPC requires HTTP/2; this request used {request.Protocol}");
        }

        if (!HttpMethods.IsPost(request.Method))
        {
            return GrpcResponse.RefuseAsync(http, StatusCodes.Status405MethodNotAllowed, $"gRPC requests use POST, not {request.Method}");
        }

        if (!GrpcProtocol.IsGrpcContentType(request.ContentType))
        {
            return GrpcResponse.RefuseAsync(http, StatusCodes.Status415UnsupportedMediaType, $"Content-Type '{request.ContentType}' is not supported; gRPC requests use 'application/grpc'");
        }

        var path = request.Path.Value ?? string.Empty;
        if (!_methods.TryGetValue(path, out var method))
        {
            var status = new Status(StatusCode.Unimplemented, $"Method is unimplemented: {path}");
            RpcLog.CallRefused(_logger, path, status.StatusCode, status.Detail);
            GrpcResponse.WriteTrailersOnly(http.Response, status, trailers: null);
            return Task.CompletedTask;
        }

        return method.HandleAsync(http, _options, _logger);
    }
}

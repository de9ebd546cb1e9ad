using Microsoft.Extensions.Logging;

namespace Kv.Node.Server.Rpc;

/// <summary>Log lines of the RPC server (source-generated, fixed property names).</summary>
internal static partial class RpcLog
{
    [LoggerMessage(EventId = 1, Level = LogLevel.Error, Message = "RPC {Method} failed: the handler threw; the client gets INTERNAL without details")]
    public static partial void HandlerThrew(ILogger logger, string method, Exception exception);

    [LoggerMessage(EventId = 2, Level = LogLevel.Debug, Message = "RPC {Method} refused: {Code} {Detail}")]
    public static partial void CallRefused(ILogger logger, string method, Kv.Client.Rpc.StatusCode code, string detail);
}

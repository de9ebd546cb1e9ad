using Google.Protobuf;
using Kv.Client.Rpc;
using Kv.Proto.V1;

namespace Kv.Client.Contracts;

/// <summary>Method descriptors of <c>kv.v1.RawKv</c> (proto/kv/v1/raw_kv.proto); checked against the proto by ContractTests.</summary>
public static class RawKvContract
{
    public const string ServiceName = "kv.v1.RawKv";

    public static readonly Method<RawGetRequest, RawGetResponse> Get = Unary("Get", RawGetRequest.Parser, RawGetResponse.Parser);
    public static readonly Method<RawPutRequest, RawPutResponse> Put = Unary("Put", RawPutRequest.Parser, RawPutResponse.Parser);
    public static readonly Method<RawDeleteRequest, RawDeleteResponse> Delete = Unary("Delete", RawDeleteRequest.Parser, RawDeleteResponse.Parser);
    public static readonly Method<RawScanRequest, RawScanResponse> Scan = Unary("Scan", RawScanRequest.Parser, RawScanResponse.Parser);

    public static IReadOnlyList<IMethod> All => [Get, Put, Delete, Scan];

    private static Method<TRequest, TResponse> Unary<TRequest, TResponse>(string name, MessageParser<TRequest> request, MessageParser<TResponse> response)
        where TRequest : IMessage<TRequest>
        where TResponse : IMessage<TResponse> =>
        new(MethodType.Unary, ServiceName, name, Marshallers.Create(request), Marshallers.Create(response));
}

using Google.Protobuf;
using Kv.Client.Rpc;

namespace Kv.Bench.Etcd;

/// <summary>
/// Method descriptors of etcd's <c>etcdserverpb.KV</c> and <c>etcdserverpb.Maintenance</c> services
/// (the subset in etcd_kv.proto), written by hand like client/Contracts/EchoContract.cs, so the
/// load generator drives etcd through the same <see cref="Kv.Client.Rpc.Http.RpcChannel"/> as ours.
/// </summary>
internal static class EtcdContract
{
    public static readonly Method<PutRequest, PutResponse> Put = Unary("etcdserverpb.KV", "Put", PutRequest.Parser, PutResponse.Parser);

    public static readonly Method<RangeRequest, RangeResponse> Range = Unary("etcdserverpb.KV", "Range", RangeRequest.Parser, RangeResponse.Parser);

    public static readonly Method<TxnRequest, TxnResponse> Txn = Unary("etcdserverpb.KV", "Txn", TxnRequest.Parser, TxnResponse.Parser);

    public static readonly Method<StatusRequest, StatusResponse> Status = Unary("etcdserverpb.Maintenance", "Status", StatusRequest.Parser, StatusResponse.Parser);

    private static Method<TRequest, TResponse> Unary<TRequest, TResponse>(string service, string name, MessageParser<TRequest> request, MessageParser<TResponse> response)
        where TRequest : IMessage<TRequest>
        where TResponse : IMessage<TResponse> =>
        new(MethodType.Unary, service, name, Marshallers.Create(request), Marshallers.Create(response));
}

using Google.Protobuf.Reflection;
using Kv.Client.Contracts;
using Kv.Client.Rpc;
using Kv.Proto.V1;

namespace Kv.Client.Tests.Rpc;

/// <summary>The hand-written descriptors of every service must match the proto services exactly.</summary>
public sealed class ContractTests
{
    public static TheoryData<string> Services => new() { EchoContract.ServiceName, RawKvContract.ServiceName, PlacementContract.ServiceName, RaftTransportContract.ServiceName, AdminContract.ServiceName, SnapshotContract.ServiceName, TxnKvContract.ServiceName };

    [Theory]
    [MemberData(nameof(Services))]
    public void Descriptors_match_the_proto_service(string serviceName)
    {
        var (service, ours) = serviceName switch
        {
            EchoContract.ServiceName => (EchoReflection.Descriptor.Services.Single(), (IReadOnlyList<IMethod>)[EchoContract.Unary, EchoContract.ServerStream, EchoContract.ClientStream, EchoContract.Bidi]),
            RawKvContract.ServiceName => (RawKvReflection.Descriptor.Services.Single(), RawKvContract.All),
            PlacementContract.ServiceName => (PlacementReflection.Descriptor.Services.Single(), PlacementContract.All),
            AdminContract.ServiceName => (AdminReflection.Descriptor.Services.Single(), AdminContract.All),
            SnapshotContract.ServiceName => (SnapshotReflection.Descriptor.Services.Single(), SnapshotContract.All),
            TxnKvContract.ServiceName => (TxnKvReflection.Descriptor.Services.Single(), TxnKvContract.All),
            _ => (RaftReflection.Descriptor.Services.Single(), RaftTransportContract.All),
        };
        Assert.Equal(serviceName, service.FullName);
        Assert.Equal(service.Methods.Count, ours.Count);
        foreach (var method in ours)
        {
            MethodDescriptor? proto = service.FindMethodByName(method.Name);
            Assert.NotNull(proto);
            Assert.Equal($"/{service.FullName}/{proto.Name}", method.FullName);
            var expected = (proto.IsClientStreaming, proto.IsServerStreaming) switch
            {
                (false, false) => MethodType.Unary,
                (false, true) => MethodType.ServerStreaming,
                (true, false) => MethodType.ClientStreaming,
                _ => MethodType.DuplexStreaming,
            };
            Assert.Equal(expected, method.Type);
        }
    }
}

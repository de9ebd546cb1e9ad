using Kv.Client.Contracts;
using Kv.Client.Rpc;
using Kv.Proto.V1;

namespace Kv.Client.Tests.Rpc;

/// <summary>The hand-written descriptors must match the service in proto/kv/v1/echo.proto.</summary>
public sealed class EchoContractTests
{
    [Fact]
    public void Echo_descriptors_match_the_proto_service()
    {
        var service = EchoReflection.Descriptor.Services.Single();
        Assert.Equal(EchoContract.ServiceName, service.FullName);

        var ours = new IMethod[] { EchoContract.Unary, EchoContract.ServerStream, EchoContract.ClientStream, EchoContract.Bidi };
        Assert.Equal(service.Methods.Count, ours.Length);
        foreach (var method in ours)
        {
            var proto = service.FindMethodByName(method.Name);
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

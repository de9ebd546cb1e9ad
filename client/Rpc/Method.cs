namespace Kv.Client.Rpc;

/// <summary>The untyped part of a method descriptor, for routing tables.</summary>
public interface IMethod
{
    MethodType Type { get; }

    /// <summary>Fully qualified service name, for example <c>kv.v1.Echo</c>.</summary>
    string ServiceName { get; }

    /// <summary>Method name within the service, for example <c>Unary</c>.</summary>
    string Name { get; }

    /// <summary>The HTTP/2 <c>:path</c>: <c>/kv.v1.Echo/Unary</c>.</summary>
    string FullName { get; }
}

/// <summary>
/// Describes one RPC method: its shape, its wire name and how its messages are marshalled.
/// Instances are immutable and meant to be static fields of a service contract class.
/// </summary>
public sealed class Method<TRequest, TResponse> : IMethod
{
    public Method(MethodType type, string serviceName, string name, Marshaller<TRequest> requestMarshaller, Marshaller<TResponse> responseMarshaller)
    {
        ArgumentException.ThrowIfNullOrEmpty(serviceName);
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(requestMarshaller);
        ArgumentNullException.ThrowIfNull(responseMarshaller);
        Type = type;
        ServiceName = serviceName;
        Name = name;
        FullName = "/" + serviceName + "/" + name;
        RequestMarshaller = requestMarshaller;
        ResponseMarshaller = responseMarshaller;
    }

    public MethodType Type { get; }

    public string ServiceName { get; }

    public string Name { get; }

    public string FullName { get; }

    public Marshaller<TRequest> RequestMarshaller { get; }

    public Marshaller<TResponse> ResponseMarshaller { get; }

    public override string ToString() => FullName;
}

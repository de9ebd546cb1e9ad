using Grpc.Net.Client;
using Kv.Proto.V1;

namespace Kv.Client.Transport;

/// <summary>
/// The generated client stubs of the services a client calls on one node, sharing that node's
/// channel. Stubs are thin wrappers over the channel's invoker, so making them once per channel
/// saves an allocation per call and nothing else.
/// </summary>
public sealed class NodeStubs : IDisposable
{
    public NodeStubs(GrpcChannel channel)
    {
        ArgumentNullException.ThrowIfNull(channel);
        Channel = channel;
        RawKv = new RawKv.RawKvClient(channel);
        TxnKv = new TxnKv.TxnKvClient(channel);
        Admin = new Admin.AdminClient(channel);
        Placement = new Placement.PlacementClient(channel);
    }

    public GrpcChannel Channel { get; }

    public RawKv.RawKvClient RawKv { get; }

    public TxnKv.TxnKvClient TxnKv { get; }

    public Admin.AdminClient Admin { get; }

    public Placement.PlacementClient Placement { get; }

    /// <summary>Disposes the channel (and its connections).</summary>
    public void Dispose() => Channel.Dispose();
}

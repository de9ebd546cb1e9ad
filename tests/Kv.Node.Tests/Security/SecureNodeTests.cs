using Google.Protobuf;
using Grpc.Core;
using Kv.Client.Security;
using Kv.Client.Transport;
using Kv.Proto.V1;

namespace Kv.Node.Tests.Security;

/// <summary>One secure 3-node in-process cluster shared by the refusal tests (each leaves it unchanged).</summary>
#pragma warning disable CA1001 // disposed in IAsyncLifetime.DisposeAsync
public sealed class SecureClusterFixture : IAsyncLifetime
#pragma warning restore CA1001
{
    internal SecureCluster Secure { get; private set; } = null!;

    internal string ClusterId { get; private set; } = "";

    public async Task InitializeAsync()
    {
        Secure = new SecureCluster(3);
        ClusterId = await Secure.StartAndBootstrapAsync();
    }

    public async Task DisposeAsync() => await Secure.DisposeAsync();
}

/// <summary>
/// Secure mode end to end on 127.0.0.1 (real Kestrel, real TLS, real certificates from
/// KvCertificates): Raft between the nodes runs over mutual TLS with node certificates, an admin
/// certificate may write and run admin calls, and every bad caller is refused with
/// UNAUTHENTICATED or PERMISSION_DENIED and a reason, with the range's epoch and data unchanged.
/// </summary>
public sealed class SecureNodeTests(SecureClusterFixture fixture) : IClassFixture<SecureClusterFixture>
{
    private SecureCluster Secure => fixture.Secure;

    [Fact]
    public async Task Admin_certificate_writes_replicated_data_and_runs_admin_calls_over_mutual_TLS()
    {
        // A put commits only with a quorum: the nodes' Raft streams (node certificates) work.
        await Secure.Cluster.PutAsync("secure/hello", "world");
        var stores = await AdminCallAsync(static s => s.Admin.ListStoreStatusAsync(new ListStoreStatusRequest { Header = new() }).ResponseAsync, r => r.Error);
        var get = await Secure.Cluster.GetAsync((await Secure.Cluster.WaitForRangeLeaderAsync(1)).LeaderAddress, "secure/hello");

        Assert.Equal(3, stores.Stores.Count);
        Assert.Equal("world", get.Value.ToStringUtf8());
    }

    [Fact]
    public async Task Client_certificate_may_read_and_write_keys()
    {
        var leader = (await Secure.Cluster.WaitForRangeLeaderAsync(1)).LeaderAddress;
        using var client = new NodeStubs(KvChannels.ForHostPort(leader, Secure.Options(Secure.Client)));
        var epoch = (await RangeAsync()).Epoch;

        var put = await client.RawKv.PutAsync(new RawPutRequest { Context = new RangeContext { RangeId = 1, Epoch = epoch }, Key = ByteString.CopyFromUtf8("secure/app"), Value = ByteString.CopyFromUtf8("v") });

        Assert.Null(put.Error);
    }

    [Fact]
    public async Task Client_role_submitting_a_split_is_PERMISSION_DENIED_and_nothing_changes()
    {
        var before = await StateAsync();
        using var client = Secure.Stubs(0, Secure.Options(Secure.Client));

        var ex = await Assert.ThrowsAsync<RpcException>(() => client.Admin.SubmitOperationAsync(new SubmitOperationRequest
        {
            Header = new(),
            Id = "tls-denied-split",
            Spec = new OperationSpec { Kind = OperationKind.Split, RangeId = 1, SplitKey = ByteString.CopyFromUtf8("secure/m") },
            RequestedBy = "test",
        }).ResponseAsync);

        Assert.Equal(StatusCode.PermissionDenied, ex.StatusCode);
        Assert.Contains("kv.v1.Admin/SubmitOperation needs role admin", ex.Status.Detail, StringComparison.Ordinal);
        Assert.Contains("has role client", ex.Status.Detail, StringComparison.Ordinal);
        Assert.Contains("kvctl cert create-client --role admin", ex.Status.Detail, StringComparison.Ordinal);
        await AssertUnchangedAsync(before);
    }

    [Fact]
    public async Task Client_and_admin_roles_may_not_call_node_to_node_services()
    {
        foreach (var certificate in new[] { Secure.Client, Secure.Admin })
        {
            using var stubs = Secure.Stubs(0, Secure.Options(certificate));
            var raft = new RaftTransport.RaftTransportClient(stubs.Channel);
            var ex = await Assert.ThrowsAsync<RpcException>(async () =>
            {
                using var call = raft.Send();
                await call.RequestStream.WriteAsync(new RaftMessageBatch { FromStore = 2, ToStore = 1 });
                await call.RequestStream.CompleteAsync();
                await call.ResponseAsync;
            });

            Assert.Equal(StatusCode.PermissionDenied, ex.StatusCode);
            Assert.Contains("needs role node", ex.Status.Detail, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Expired_certificate_is_UNAUTHENTICATED_and_its_write_is_not_applied()
    {
        var before = await StateAsync();
        using var expired = KvCertificates.IssueClient(Secure.Authority, "expired-admin", KvRole.Admin, DateTimeOffset.UtcNow.AddDays(-2), DateTimeOffset.UtcNow.AddDays(-1));

        var ex = await PutWithAsync(Secure.Options(expired));

        Assert.Equal(StatusCode.Unauthenticated, ex.StatusCode);
        Assert.Contains("expired", ex.Status.Detail, StringComparison.Ordinal);
        Assert.Contains("issue a new one", ex.Status.Detail, StringComparison.Ordinal);
        await AssertUnchangedAsync(before);
    }

    [Fact]
    public async Task Certificate_from_another_CA_is_UNAUTHENTICATED_and_its_write_is_not_applied()
    {
        var before = await StateAsync();
        using var otherCa = KvCertificates.CreateAuthority("some other CA", TimeSpan.FromDays(1));
        using var stranger = KvCertificates.IssueClient(otherCa, "stranger", KvRole.Admin);

        var ex = await PutWithAsync(new KvChannelOptions { TrustedRoot = Secure.Authority, ClientCertificate = stranger });

        Assert.Equal(StatusCode.Unauthenticated, ex.StatusCode);
        Assert.Contains("does not chain to this cluster's CA", ex.Status.Detail, StringComparison.Ordinal);
        await AssertUnchangedAsync(before);
    }

    [Fact]
    public async Task Plaintext_call_to_a_secure_node_is_UNAUTHENTICATED_and_its_write_is_not_applied()
    {
        var before = await StateAsync();

        var ex = await PutWithAsync(null);

        Assert.Equal(StatusCode.Unauthenticated, ex.StatusCode);
        Assert.Contains("plaintext", ex.Status.Detail, StringComparison.Ordinal);
        await AssertUnchangedAsync(before);
    }

    [Fact]
    public async Task Node_to_node_stream_from_another_cluster_is_PERMISSION_DENIED_and_nothing_changes()
    {
        var before = await StateAsync();
        // A node certificate of the same CA (clusters may share one), but another cluster's id.
        using var otherNode = KvCertificates.IssueNode(Secure.Authority, ["127.0.0.1"]);
        var leaderStore = (await RangeAsync()).Replicas.Count; // any store; the stream is refused before it is read
        using var stubs = Secure.Stubs(0, Secure.Options(otherNode, () => "another-cluster"));
        var raft = new RaftTransport.RaftTransportClient(stubs.Channel);

        var ex = await Assert.ThrowsAsync<RpcException>(async () =>
        {
            using var call = raft.Send();
            await call.RequestStream.WriteAsync(new RaftMessageBatch { FromStore = 9, ToStore = 1, ClusterId = "another-cluster" });
            await call.RequestStream.CompleteAsync();
            await call.ResponseAsync;
        });

        Assert.True(leaderStore > 0);
        Assert.Equal(StatusCode.PermissionDenied, ex.StatusCode);
        Assert.Contains($"belongs to cluster {fixture.ClusterId}", ex.Status.Detail, StringComparison.Ordinal);
        Assert.Contains("another-cluster", ex.Status.Detail, StringComparison.Ordinal);
        await AssertUnchangedAsync(before);
    }

    [Fact]
    public async Task Node_certificate_of_this_cluster_may_open_a_raft_stream()
    {
        using var node = KvCertificates.IssueNode(Secure.Authority, ["127.0.0.1"]);
        using var stubs = Secure.Stubs(0, Secure.Options(node, () => fixture.ClusterId));
        var raft = new RaftTransport.RaftTransportClient(stubs.Channel);

        using var call = raft.Send();
        await call.RequestStream.CompleteAsync();
        var summary = await call.ResponseAsync;

        Assert.Equal(0UL, summary.Batches);
    }

    private async Task<RpcException> PutWithAsync(KvChannelOptions? options)
    {
        var range = await RangeAsync();
        using var stubs = Secure.Stubs(0, options ?? new KvChannelOptions());
        return await Assert.ThrowsAsync<RpcException>(() => stubs.RawKv.PutAsync(new RawPutRequest
        {
            Context = new RangeContext { RangeId = 1, Epoch = range.Epoch },
            Key = ByteString.CopyFromUtf8("secure/refused"),
            Value = ByteString.CopyFromUtf8("must not be written"),
        }).ResponseAsync);
    }

    /// <summary>An Admin call with the admin certificate, on each node in turn until the placement leader answers.</summary>
    private async Task<T> AdminCallAsync<T>(Func<NodeStubs, Task<T>> call, Func<T, PlacementError?> error)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (true)
        {
            for (var i = 0; i < Secure.Cluster.Addresses.Length; i++)
            {
                using var stubs = Secure.Stubs(i, Secure.Options(Secure.Admin));
                var response = await call(stubs);
                if (error(response) is null || DateTime.UtcNow > deadline)
                {
                    Assert.Null(error(response));
                    return response;
                }
            }

            await Task.Delay(50);
        }
    }

    private async Task<RangeDescriptor> RangeAsync() => (await Secure.Cluster.WaitForRangeLeaderAsync(1)).Range;

    private async Task<(RangeEpoch Epoch, int Operations, bool RefusedKeyAbsent)> StateAsync()
    {
        var range = await RangeAsync();
        var operations = await AdminCallAsync(static s => s.Admin.ListOperationsAsync(new ListOperationsRequest { Header = new() }).ResponseAsync, r => r.Error);
        var leader = (await Secure.Cluster.WaitForRangeLeaderAsync(1)).LeaderAddress;
        var refused = await Secure.Cluster.GetAsync(leader, "secure/refused");
        return (range.Epoch, operations.Operations.Count, refused.Value.IsEmpty);
    }

    private async Task AssertUnchangedAsync((RangeEpoch Epoch, int Operations, bool RefusedKeyAbsent) before)
    {
        var after = await StateAsync();
        Assert.Equal(before.Epoch, after.Epoch);
        Assert.Equal(before.Operations, after.Operations);
        Assert.True(after.RefusedKeyAbsent, "a refused write must not be applied");
    }
}

/// <summary>
/// The negative control: the same wrong-role call against a node whose role check is disabled
/// (NodeHost.CheckRoles, a test hook) goes through, so the refusal above comes from that check.
/// </summary>
public sealed class SecureNodeRoleCheckControlTests
{
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Client_role_admin_call_is_refused_only_while_roles_are_checked(bool checkRoles)
    {
        await using var secure = new SecureCluster(1, checkRoles);
        await secure.StartAndBootstrapAsync();
        using var client = secure.Stubs(0, secure.Options(secure.Client));

        var call = client.Admin.ListStoreStatusAsync(new ListStoreStatusRequest { Header = new() }).ResponseAsync;

        if (checkRoles)
        {
            var ex = await Assert.ThrowsAsync<RpcException>(() => call);
            Assert.Equal(StatusCode.PermissionDenied, ex.StatusCode);
        }
        else
        {
            var stores = await call;
            Assert.Single(stores.Stores);
        }
    }
}

/// <summary>Secure mode's start-up refusals: the node names the flag that is wrong, and serves nothing.</summary>
public sealed class SecureNodeConfigTests
{
    [Theory]
    [InlineData("--tls-cert", "--tls-key and --tls-client-ca missing")]
    [InlineData("--tls-key", "--tls-cert and --tls-client-ca missing")]
    [InlineData("--tls-client-ca", "--tls-cert and --tls-key missing")]
    public void A_half_given_TLS_configuration_is_refused_naming_the_missing_flags(string given, string message)
    {
        var ex = Assert.Throws<Kv.Node.Server.Configuration.NodeConfigException>(() =>
            Kv.Node.Server.Configuration.NodeConfigLoader.Load(["--data-dir", "/tmp/x", "--join", "127.0.0.1:20160", given, "/tmp/some.pem"], new Dictionary<string, string>()));

        Assert.Contains(message, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unreadable_certificate_file_stops_the_node_naming_the_flag()
    {
        using var dir = new TestSupport.TempDirectory();
        using var ca = KvCertificates.CreateAuthority("ca", TimeSpan.FromDays(1));
        KvCertificates.WritePem(ca, dir.Sub("ca.crt"), null);
        var config = new Kv.Node.Server.Configuration.NodeConfig
        {
            DataDir = dir.Sub("data"),
            Listen = "127.0.0.1:1",
            MetricsAddr = "127.0.0.1:0",
            Join = ["127.0.0.1:1"],
            TlsCert = dir.Sub("missing.crt"),
            TlsKey = dir.Sub("missing.key"),
            TlsClientCa = dir.Sub("ca.crt"),
        };
        await using var host = new Kv.Node.Server.Hosting.NodeHost(config, Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance);

        var ex = await Assert.ThrowsAsync<Kv.Node.Server.Configuration.NodeConfigException>(() => host.StartAsync(CancellationToken.None));

        Assert.StartsWith("--tls-cert/--tls-key:", ex.Message, StringComparison.Ordinal);
        Assert.Contains("missing.crt", ex.Message, StringComparison.Ordinal);
        Assert.False(Directory.Exists(dir.Sub("data")), "nothing is created before the certificates load");
    }

    [Fact]
    public async Task A_client_certificate_given_as_the_node_certificate_is_refused()
    {
        using var dir = new TestSupport.TempDirectory();
        using var ca = KvCertificates.CreateAuthority("ca", TimeSpan.FromDays(1));
        using var admin = KvCertificates.IssueClient(ca, "admin", KvRole.Admin);
        KvCertificates.WritePem(ca, dir.Sub("ca.crt"), null);
        KvCertificates.WritePem(admin, dir.Sub("admin.crt"), dir.Sub("admin.key"));
        var config = new Kv.Node.Server.Configuration.NodeConfig
        {
            DataDir = dir.Sub("data"),
            Listen = "127.0.0.1:1",
            MetricsAddr = "127.0.0.1:0",
            Join = ["127.0.0.1:1"],
            TlsCert = dir.Sub("admin.crt"),
            TlsKey = dir.Sub("admin.key"),
            TlsClientCa = dir.Sub("ca.crt"),
        };
        await using var host = new Kv.Node.Server.Hosting.NodeHost(config, Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance);

        var ex = await Assert.ThrowsAsync<Kv.Node.Server.Configuration.NodeConfigException>(() => host.StartAsync(CancellationToken.None));

        Assert.Contains("has role admin, but a node needs a node certificate", ex.Message, StringComparison.Ordinal);
    }
}

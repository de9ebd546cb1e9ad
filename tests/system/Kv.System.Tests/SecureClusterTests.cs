using Kv.Client;
using Kv.Client.Administration;
using Kv.Client.Cluster;
using Kv.Client.Security;
using Kv.Client.Transport;
using Kv.Client.Views;
using Kv.System.Tests.Cluster;
using Xunit.Abstractions;

namespace Kv.System.Tests;

/// <summary>
/// A secure cluster of real kv-node processes (--tls-cert/--tls-key/--tls-client-ca, certificates
/// made in the test by KvCertificates, the code kvctl cert uses): bootstrap, writes and a split
/// operation over mutual TLS with an admin certificate (Raft, heartbeats and the operation's steps
/// between the nodes run on their node certificates); then a client-role admin call and a
/// plaintext client are refused with the reason, and the range's epoch and data are unchanged.
/// </summary>
public sealed class SecureClusterTests(ITestOutputHelper output) : IDisposable
{
    private static readonly TimeSpan Ready = TimeSpan.FromSeconds(90);
    private readonly string _certs = Path.Combine(Path.GetTempPath(), "kv-system-tests", "certs-" + Guid.NewGuid().ToString("N"));

    [Fact]
    public async Task Secure_cluster_writes_and_splits_over_mutual_TLS_and_refuses_wrong_role_and_plaintext_callers()
    {
        // 1. A CA, one node certificate for 127.0.0.1, an admin and a client certificate.
        Directory.CreateDirectory(_certs);
        using (var ca = KvCertificates.CreateAuthority("system test CA", TimeSpan.FromDays(1)))
        using (var node = KvCertificates.IssueNode(ca, ["127.0.0.1", "localhost"]))
        using (var admin = KvCertificates.IssueClient(ca, "admin", KvRole.Admin))
        using (var app = KvCertificates.IssueClient(ca, "app", KvRole.Client))
        {
            KvCertificates.WritePem(ca, File("ca.crt"), null);
            KvCertificates.WritePem(node, File("node.crt"), File("node.key"));
            KvCertificates.WritePem(admin, File("admin.crt"), File("admin.key"));
            KvCertificates.WritePem(app, File("app.crt"), File("app.key"));
        }

        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, global::System.IO.File.GetUnixFileMode(File("node.key")));
        }
        var adminChannel = KvChannelOptions.MutualTls(File("ca.crt"), File("admin.crt"), File("admin.key"));
        await using var cluster = new TestCluster(output)
        {
            ExtraArguments = ["--tls-cert", File("node.crt"), "--tls-key", File("node.key"), "--tls-client-ca", File("ca.crt")],
            Channel = adminChannel,
        };

        // 2. Start, bootstrap (admin), write and read back over mutual TLS.
        cluster.StartAll();
        await cluster.WaitReadyAsync(Ready);
        await using var data = cluster.Client(TimeSpan.FromSeconds(30));
        for (var i = 0; i < 20; i++)
        {
            await data.PutAsync(Key($"k{i:D2}"), Key($"v{i}"));
        }

        Assert.Equal("secure/v7", global::System.Text.Encoding.UTF8.GetString((await data.GetAsync(Key("k07")))!));

        // 3. An admin operation: split range 1 at k10; the executor drives it on the range leader (node to node).
        await using var adminClient = cluster.Admin(TimeSpan.FromSeconds(30));
        var split = await adminClient.RunAsync(OperationRequest.Split(new RangeId(1), Key("k10")) with { Reason = "secure system test" });
        Assert.Equal(OperationStateView.Succeeded, split.State);
        using var probe = cluster.Probe();
        var left = await probe.RangeAsync(Key("k00"), DateTime.UtcNow + Ready);
        var right = await probe.RangeAsync(Key("k15"), DateTime.UtcNow + Ready);
        Assert.NotEqual(left.Range.RangeId, right.Range.RangeId);

        // 4. A client certificate may use keys but not the Admin service: PERMISSION_DENIED, nothing changes.
        var appChannel = KvChannelOptions.MutualTls(File("ca.crt"), File("app.crt"), File("app.key"));
        await using (var appAdmin = KvAdminClient.Connect(cluster.Endpoints, new KvClientOptions { RequestTimeout = TimeSpan.FromSeconds(10), Channel = appChannel }, who: "app"))
        {
            var refused = await Assert.ThrowsAsync<KvException>(() => appAdmin.SubmitAsync(OperationRequest.Split(new RangeId(right.Range.RangeId), Key("k15")) with { Reason = "must be refused" }));
            Assert.Contains("PermissionDenied", refused.Message, StringComparison.Ordinal);
            Assert.Contains("needs role admin", refused.Message, StringComparison.Ordinal);
        }

        await using (var appData = KvClient.Connect(cluster.Endpoints, new KvClientOptions { RequestTimeout = TimeSpan.FromSeconds(10), Channel = appChannel }))
        {
            Assert.Equal("secure/v15", global::System.Text.Encoding.UTF8.GetString((await appData.GetAsync(Key("k15")))!));
        }

        // 5. Plaintext to the secure nodes: UNAUTHENTICATED with the reason; the write is not applied.
        await using (var plain = KvClient.Connect(cluster.Endpoints, new KvClientOptions { RequestTimeout = TimeSpan.FromSeconds(10) }))
        {
            var refused = await Assert.ThrowsAsync<KvException>(() => plain.PutAsync(Key("k15"), Key("plaintext")));
            Assert.Contains("Unauthenticated", refused.Message, StringComparison.Ordinal);
            Assert.Contains("mutual TLS only", refused.Message, StringComparison.Ordinal);
        }

        var rightAfter = await probe.RangeAsync(Key("k15"), DateTime.UtcNow + Ready);
        Assert.Equal(right.Range.Epoch, rightAfter.Range.Epoch);
        Assert.Equal("secure/v15", global::System.Text.Encoding.UTF8.GetString((await data.GetAsync(Key("k15")))!));
    }

    public void Dispose()
    {
        if (Directory.Exists(_certs))
        {
            Directory.Delete(_certs, recursive: true);
        }
    }

    private string File(string name) => Path.Combine(_certs, name);

    private static byte[] Key(string text) => global::System.Text.Encoding.UTF8.GetBytes("secure/" + text);
}

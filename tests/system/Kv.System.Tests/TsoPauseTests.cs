using System.Diagnostics;
using System.Globalization;
using Grpc.Core;
using Kv.Client.Transport;
using Kv.Proto.V1;
using Kv.System.Tests.Cluster;
using Xunit.Abstractions;

namespace Kv.System.Tests;

/// <summary>
/// The TSO lease (node/Placement/TsoLease.cs) on real processes: the placement leader is frozen
/// with SIGSTOP, a new leader takes over and serves timestamps, the old one is resumed still
/// believing it leads. Clients ask every node directly (not following leader hints, as a client
/// with a stale route would), and the test checks every answer: no timestamp is handed out twice,
/// and whenever one call returned before another was sent, the later one got a higher timestamp
/// (so nothing served after the resume is below what was already served).
/// </summary>
public sealed class TsoPauseTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Ready = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan Failover = TimeSpan.FromSeconds(60);

    private sealed record Served(int Node, long Sent, long Returned, ulong Ts);

    [Fact]
    public async Task A_placement_leader_resumed_after_SIGSTOP_never_hands_out_a_timestamp_below_one_already_served()
    {
        await using var cluster = new TestCluster(output);
        cluster.StartAll();
        await cluster.WaitReadyAsync(Ready);
        using var probe = cluster.Probe();
        var old = await cluster.PlacementLeaderNodeAsync(probe, Failover);

        var served = new List<Served>();
        var answersAfter = new int[cluster.Count + 1]; // answers (served or refused) per node since `countFrom`
        long countFrom = long.MaxValue;
        var clock = Stopwatch.StartNew();
        using var stop = new CancellationTokenSource();
        var pollers = Enumerable.Range(1, cluster.Count).Select(node => Task.Run(async () =>
        {
            using var channel = KvChannels.Create(new Uri("http://" + cluster.AddressOf(node)), new KvChannelOptions { ConnectTimeout = TimeSpan.FromSeconds(1) });
            var stubs = new NodeStubs(channel);
            while (!stop.IsCancellationRequested)
            {
                long sent = clock.ElapsedTicks;
                try
                {
                    var response = await stubs.Placement.GetTimestampAsync(new GetTimestampRequest { Count = 1 },
                        new CallOptions(deadline: DateTime.UtcNow + TimeSpan.FromSeconds(1), cancellationToken: stop.Token));
                    long returned = clock.ElapsedTicks;
                    lock (served)
                    {
                        if (response.Header.Error is null)
                        {
                            served.Add(new Served(node, sent, returned, response.Last));
                        }

                        if (sent > Interlocked.Read(ref countFrom))
                        {
                            answersAfter[node]++;
                        }
                    }

                    if (response.Header.Error is not null)
                    {
                        await Task.Delay(20); // pacing a refused poller, not waiting for state
                    }
                }
                catch (RpcException)
                {
                    // Frozen (deadline) or stopping: the next call tries again.
                }
            }
        })).ToList();

        int ServedBy(Func<Served, bool> which)
        {
            lock (served)
            {
                return served.Count(which);
            }
        }

        // 1. The leader serves.
        await Eventually.TrueAsync(() => (ServedBy(s => s.Node == old) >= 20, $"node {old} (leader) served {ServedBy(s => s.Node == old)} of 20 timestamps"), DateTime.UtcNow + Failover);

        // 2. Freeze it; another node takes over and serves.
        output.WriteLine($"{DateTime.UtcNow:HH:mm:ss.fff} SIGSTOP node {old}");
        Signal("STOP", cluster.Node(old)!.Pid);
        long stoppedAt = clock.ElapsedTicks;
        try
        {
            await Eventually.TrueAsync(() => (ServedBy(s => s.Node != old && s.Sent > stoppedAt) >= 20,
                $"the other nodes served {ServedBy(s => s.Node != old && s.Sent > stoppedAt)} of 20 timestamps since node {old} was stopped"), DateTime.UtcNow + Failover);
        }
        finally
        {
            // 3. Resume it, still believing it leads; let it answer a few calls sent after the resume.
            Signal("CONT", cluster.Node(old)!.Pid);
            output.WriteLine($"{DateTime.UtcNow:HH:mm:ss.fff} SIGCONT node {old}");
        }

        Interlocked.Exchange(ref countFrom, clock.ElapsedTicks);
        await Eventually.TrueAsync(() =>
        {
            lock (served)
            {
                return (answersAfter[old] >= 20, $"node {old} answered {answersAfter[old]} of 20 calls sent after it resumed");
            }
        }, DateTime.UtcNow + Failover);
        await stop.CancelAsync();
        await Task.WhenAll(pollers);

        // 4. Unique, and real-time order agrees with timestamp order.
        List<Served> all;
        lock (served)
        {
            all = [.. served];
        }

        var dup = all.GroupBy(s => s.Ts).FirstOrDefault(g => g.Count() > 1);
        Assert.True(dup is null, $"timestamp {dup?.Key} was handed out {dup?.Count()} times, by nodes {string.Join(',', dup?.Select(s => s.Node) ?? [])}");
        var byReturn = all.OrderBy(s => s.Returned).ToList();
        Served? highest = null;
        int next = 0;
        foreach (var b in all.OrderBy(s => s.Sent))
        {
            while (next < byReturn.Count && byReturn[next].Returned < b.Sent)
            {
                if (highest is null || byReturn[next].Ts > highest.Ts)
                {
                    highest = byReturn[next];
                }

                next++;
            }

            Assert.True(highest is null || b.Ts > highest.Ts,
                $"node {b.Node} handed out {b.Ts} after node {highest?.Node} had returned {highest?.Ts}: a timestamp below one already served (stopped node {old})");
        }

        output.WriteLine($"{all.Count} timestamps checked; node {old} served {all.Count(s => s.Node == old && s.Sent > stoppedAt)} after it was stopped");
    }

    private static void Signal(string signal, int pid)
    {
        using var kill = Process.Start(new ProcessStartInfo("kill", ["-" + signal, pid.ToString(CultureInfo.InvariantCulture)]) { UseShellExecute = false })!;
        kill.WaitForExit();
        Assert.Equal(0, kill.ExitCode);
    }
}

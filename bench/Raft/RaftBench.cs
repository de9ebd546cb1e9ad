using System.Globalization;
using Kv.Bench.Harness;
using Kv.Node.Raft;

namespace Kv.Bench.Raft;

/// <summary>
/// A 3-member Raft group in one process over an in-memory network (no disk, no sockets): how
/// many proposals per second the core commits and applies on the leader, when the host hands it
/// `batch` proposals between Ready cycles. Measures the core's CPU cost: entries appended,
/// messages built and stepped, quorum computed, entries applied. Storage is MemoryRaftStorage.
/// Usage: kv-bench raft [proposals-per-run]
/// </summary>
internal static class RaftBench
{
    private const int PayloadBytes = 128;

    public static int Run(string[] args)
    {
        var total = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 200_000;
        Console.WriteLine($"## Raft: 3 members in one process, in-memory network and storage, {PayloadBytes} B proposals, {total:N0} per run");
        Console.WriteLine();
        Console.WriteLine("| proposals per Ready cycle | committed proposals/s (median of 5) | min | max |");
        Console.WriteLine("| ---: | ---: | ---: | ---: |");
        foreach (var batch in new[] { 1, 16, 256 })
        {
            var runs = Runner.OpsPerSecond(() => new Group().Drive(total, batch), runs: 5);
            Console.WriteLine($"| {batch} | {Sample.Format(Sample.Median(runs))} | {Sample.Format(runs.Min())} | {Sample.Format(runs.Max())} |");
        }

        return 0;
    }

    private sealed class ZeroRandom : IElectionRandom
    {
        public int Next(int maxExclusive) => 0;
    }

    private sealed class Group
    {
        private readonly RaftNode[] nodes = new RaftNode[3];
        private readonly MemoryRaftStorage[] storages = new MemoryRaftStorage[3];
        private readonly Queue<Message> network = new();
        private long appliedOnLeader;

        public Group()
        {
            for (var i = 0; i < 3; i++)
            {
                var s = new MemoryRaftStorage();
                s.ApplySnapshot(new Snapshot(new SnapshotMetadata(1, 1, ConfState.OfVoters(1, 2, 3)), ReadOnlyMemory<byte>.Empty));
                storages[i] = s;
                nodes[i] = new RaftNode(new RaftConfig { Id = (ulong)i + 1, MaxInflightMsgs = 256, MaxSizePerMsg = 1 << 20 }, s, new ZeroRandom());
            }

            nodes[0].Campaign();
            Pump();
        }

        public long Drive(int total, int batch)
        {
            var payload = new byte[PayloadBytes];
            var leader = nodes[0];
            var proposed = 0;
            var start = appliedOnLeader;
            while (appliedOnLeader - start < total)
            {
                for (var i = 0; i < batch && proposed < total; i++, proposed++)
                {
                    if (leader.Propose(payload) != StepResult.Ok)
                    {
                        throw new InvalidOperationException("proposal refused on a stable leader");
                    }
                }

                Pump();
            }

            return appliedOnLeader - start;
        }

        /// <summary>Runs every node's Ready (persist, send, apply, Advance) and delivers messages until quiet.</summary>
        private void Pump()
        {
            while (true)
            {
                var any = false;
                for (var i = 0; i < 3; i++)
                {
                    var n = nodes[i];
                    if (!n.HasReady)
                    {
                        continue;
                    }

                    any = true;
                    var rd = n.Ready();
                    var s = storages[i];
                    s.Append(rd.Entries);
                    if (rd.HardState is { } hs)
                    {
                        s.SetHardState(hs);
                    }

                    foreach (var m in rd.Messages)
                    {
                        network.Enqueue(m);
                    }

                    if (i == 0)
                    {
                        foreach (var e in rd.CommittedEntries)
                        {
                            if (e.Data.Length == PayloadBytes)
                            {
                                appliedOnLeader++;
                            }
                        }
                    }

                    n.Advance();

                    // Keep memory flat: compact what is applied everywhere-ish (all members stay close here).
                    if (n.Applied > s.FirstIndex() + 20_000)
                    {
                        s.CreateSnapshot(n.Applied - 10_000, n.ConfState, ReadOnlyMemory<byte>.Empty);
                        s.Compact(n.Applied - 10_000);
                    }
                }

                while (network.TryDequeue(out var m))
                {
                    any = true;
                    nodes[m.To - 1].Step(m);
                }

                if (!any)
                {
                    return;
                }
            }
        }
    }
}

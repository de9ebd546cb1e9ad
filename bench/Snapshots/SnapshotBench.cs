using System.Diagnostics;
using System.Globalization;
using Google.Protobuf;
using Kv.Bench.Harness;
using Kv.Node.Raft;
using Kv.Node.Ranges;
using Kv.Node.Ranges.Snapshots;
using Kv.Node.Ranges.Transport;
using Kv.Node.Server.Rpc;
using Kv.Node.Server.Services;
using Kv.Node.Storage;
using Kv.Proto.V1;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kv.Bench.Snapshots;

/// <summary>
/// Replica snapshot throughput, store to store over kv.v1.SnapshotTransport on loopback, with the
/// real pieces: the leader store's SnapshotSender builds SST files from a RocksDB snapshot of a
/// range holding `megabytes` of incompressible 1 KiB values, streams them in 1 MiB checksummed
/// chunks; the receiving store's SnapshotService stages them (fsync per chunk), verifies them, and
/// its Store creates the replica and ingests them. The disk's sequential write rate (1 MiB writes,
/// one fsync at the end) is measured in the same run, on the same file system, for comparison.
/// Usage: kv-bench snapshot [megabytes] [data-directory]
/// </summary>
internal static class SnapshotBench
{
    private const int ValueBytes = 1024;

    public static int Run(string[] args)
    {
        var megabytes = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 200;
        var root = args.Length > 1 ? args[1] : Path.Combine(Path.GetTempPath(), "kv-bench-snapshot-" + Guid.NewGuid().ToString("N"));
        try
        {
            return RunAsync(megabytes, root).GetAwaiter().GetResult();
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    private static async Task<int> RunAsync(int megabytes, string root)
    {
        var disk = DiskWriteMBps(Path.Combine(root, "disk"), megabytes);
        var range = new RangeDescriptor
        {
            RangeId = 7,
            StartKey = ByteString.CopyFromUtf8("a"),
            EndKey = ByteString.Empty,
            Epoch = new RangeEpoch { ConfVer = 2, Version = 1 },
            Replicas =
            {
                new ReplicaDescriptor { ReplicaId = 1, StoreId = 1, Role = ReplicaRole.Voter },
                new ReplicaDescriptor { ReplicaId = 2, StoreId = 2, Role = ReplicaRole.Learner },
            },
        };

        using var source = Kv.Node.Storage.Engine.Open(Path.Combine(root, "leader"));
        var keys = Fill(source, megabytes);
        using var target = Kv.Node.Storage.Engine.Open(Path.Combine(root, "follower", "db"));
        using var store = new Store(target, 2, new StoreOptions(), new Discard(), NullLogger.Instance) { Ranges = new LocalRanges() };
        store.Start();
        var service = new SnapshotService(store, Path.Combine(root, "follower", "recv"), new SnapshotLimiter(4), () => "", NullLogger.Instance);
        await using var server = await RpcServer.StartAsync(new RpcServerOptions { MaxReceiveMessageSize = 64 << 20 }, [service.BindService()]).ConfigureAwait(false);
        await using var sender = new SnapshotSender(1, source, Path.Combine(root, "send"), new Fixed(server.Address.Authority), () => "", new SnapshotLimiter(4), NullLogger.Instance);

        var clock = Stopwatch.StartNew();
        var reported = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        sender.Send(new SnapshotJob(range.RangeId, 2, 1, 2, 3, range, 42, 3, new ConfState([1], [2], [], [], false), source.GetSnapshot(), f => reported.TrySetResult(f)));
        if (await reported.Task.ConfigureAwait(false))
        {
            Console.Error.WriteLine("the snapshot was not accepted; see the sender's log");
            return 1;
        }

        while (store.SnapshotsInstalled == 0)
        {
            await Task.Delay(5).ConfigureAwait(false);
        }

        var total = clock.Elapsed;
        var (bytes, streamed) = sender.Transfers.Single();
        var mb = bytes / 1e6;
        Console.WriteLine($"## Replica snapshot: one range of {keys:N0} keys ({megabytes} MB of 1 KiB values), store to store on loopback");
        Console.WriteLine();
        Console.WriteLine("| SST bytes | stream (MB/s) | build + stream + verify + ingest (MB/s) | disk sequential write, same run (MB/s) |");
        Console.WriteLine("| ---: | ---: | ---: | ---: |");
        Console.WriteLine($"| {mb:N0} MB | {Sample.Format(mb / streamed.TotalSeconds)} | {Sample.Format(mb / total.TotalSeconds)} | {Sample.Format(disk)} |");
        return 0;
    }

    /// <summary>Writes incompressible values under 'z' + key until about megabytes are stored; returns the key count.</summary>
    private static long Fill(Kv.Node.Storage.Engine engine, int megabytes)
    {
        var random = new Random(42);
        var value = new byte[ValueBytes];
        long n = 0;
        var total = (long)megabytes * 1_000_000 / ValueBytes;
        while (n < total)
        {
            using var batch = engine.NewWriteBatch();
            for (var i = 0; i < 1000 && n < total; i++, n++)
            {
#pragma warning disable CA5394 // benchmark data, not security
                random.NextBytes(value);
#pragma warning restore CA5394
                batch.Put(ColumnFamily.Default, Keys.Data(System.Text.Encoding.ASCII.GetBytes($"key{n:D10}")), value);
            }

            engine.Write(batch);
        }

        engine.Flush();
        return n;
    }

    private static double DiskWriteMBps(string directory, int megabytes)
    {
        Directory.CreateDirectory(directory);
        var path = Path.Combine(directory, "seq");
        var buffer = new byte[1 << 20];
        new Random(1).NextBytes(buffer);
        var sw = Stopwatch.StartNew();
        using (var f = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1, FileOptions.None))
        {
            for (var i = 0; i < megabytes; i++)
            {
                f.Write(buffer);
            }

            f.Flush(flushToDisk: true);
        }

        var seconds = sw.Elapsed.TotalSeconds;
        File.Delete(path);
        return megabytes * (double)buffer.Length / 1e6 / seconds;
    }

    private sealed class Discard : IRaftMessageSender
    {
        public void Send(ulong toStore, ulong groupId, Message message)
        {
        }

        public void Flush()
        {
        }
    }

    private sealed class Fixed(string address) : IStoreResolver
    {
        public string? AddressOf(ulong storeId) => address;
    }
}

using System.Diagnostics;
using System.Globalization;
using Google.Protobuf;
using Kv.Bench.Harness;
using Kv.Node.Raft;
using Kv.Node.Ranges;
using Kv.Node.Ranges.Snapshots;
using Kv.Node.Ranges.Transport;
using Kv.Node.Server.Hosting;
using Kv.Node.Server.Services;
using Kv.Node.Storage;
using Kv.Proto.V1;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kv.Bench.Snapshots;

/// <summary>
/// Replica snapshot throughput, store to store over kv.v1.SnapshotTransport on loopback, with the
/// real pieces: the leader store's SnapshotSender builds SST files from a RocksDB snapshot of a
/// range holding `megabytes` of incompressible 1 KiB values and streams them in 1 MiB checksummed
/// chunks; the receiving store's SnapshotService stages them (fsync per chunk), verifies them, and
/// its Store creates the replica and ingests them. Each run sends to a fresh receiving store. The
/// disk's sequential write rate (1 MiB writes, one fsync at the end) is measured in the same run,
/// on the same file system, before and after, for comparison.
/// Usage: kv-bench snapshot [megabytes] [runs] [data-directory]
/// </summary>
internal static class SnapshotBench
{
    private const int ValueBytes = 1024;

    public static int Run(string[] args)
    {
        var megabytes = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 200;
        var runs = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 3;
        var root = args.Length > 2 ? args[2] : Path.Combine(Path.GetTempPath(), "kv-bench-snapshot-" + Guid.NewGuid().ToString("N"));
        try
        {
            return RunAsync(megabytes, runs, root).GetAwaiter().GetResult();
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    private static async Task<int> RunAsync(int megabytes, int runs, string root)
    {
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

        var disk = new List<double> { DiskWriteMBps(Path.Combine(root, "disk"), megabytes) };
        using var source = Kv.Node.Storage.Engine.Open(Path.Combine(root, "leader"));
        var keys = Fill(source, megabytes);
        var build = new List<double>();
        var stream = new List<double>();
        var endToEnd = new List<double>();
        ulong bytes = 0;
        for (var run = 0; run < runs; run++)
        {
            var (b, buildTime, streamTime, total) = await SendOnceAsync(source, range, Path.Combine(root, $"run{run}")).ConfigureAwait(false);
            bytes = b;
            build.Add(b / 1e6 / buildTime.TotalSeconds);
            stream.Add(b / 1e6 / streamTime.TotalSeconds);
            endToEnd.Add(b / 1e6 / total.TotalSeconds);
        }

        disk.Add(DiskWriteMBps(Path.Combine(root, "disk"), megabytes));
        Console.WriteLine($"## Replica snapshot: one range of {keys:N0} keys ({megabytes} MB of 1 KiB values), store to store on loopback, median of {runs} runs");
        Console.WriteLine();
        Console.WriteLine("| SST bytes | build (MB/s) | stream + verify + ingest (MB/s) | end to end (MB/s) | min-max end to end | disk sequential write, same run (MB/s) |");
        Console.WriteLine("| ---: | ---: | ---: | ---: | ---: | ---: |");
        Console.WriteLine($"| {bytes / 1e6:N0} MB | {Sample.Format(Sample.Median(build))} | {Sample.Format(Sample.Median(stream))} | {Sample.Format(Sample.Median(endToEnd))} | " +
            $"{Sample.Format(endToEnd.Min())}-{Sample.Format(endToEnd.Max())} | {Sample.Format(disk.Min())}-{Sample.Format(disk.Max())} |");
        return 0;
    }

    private static async Task<(ulong Bytes, TimeSpan Build, TimeSpan Stream, TimeSpan Total)> SendOnceAsync(Kv.Node.Storage.Engine source, RangeDescriptor range, string dir)
    {
        using var target = Kv.Node.Storage.Engine.Open(Path.Combine(dir, "follower", "db"));
        using var store = new Store(target, 2, new StoreOptions(), new Discard(), NullLogger.Instance) { Ranges = new LocalRanges() };
        store.Start();
        var service = new SnapshotService(store, Path.Combine(dir, "follower", "recv"), new SnapshotLimiter(4), () => "", NullLogger.Instance);
        await using var server = await GrpcServer.StartAsync(
            new GrpcServerOptions { MaxReceiveMessageSize = 64 << 20 },
            services => services.AddSingleton(service),
            endpoints => endpoints.MapGrpcService<SnapshotService>()).ConfigureAwait(false);
        await using var sender = new SnapshotSender(1, source, Path.Combine(dir, "send"), new Fixed(server.Address.Authority), () => "", new SnapshotLimiter(4), NullLogger.Instance);

        var clock = Stopwatch.StartNew();
        var reported = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        sender.Send(new SnapshotJob(range.RangeId, 2, 1, 2, 3, range, 42, 3, new ConfState([1], [2], [], [], false), source.GetSnapshot(), f => reported.TrySetResult(f)));
        if (await reported.Task.ConfigureAwait(false))
        {
            throw new InvalidOperationException("the snapshot was not accepted; see the sender's log");
        }

        // Accepted means staged and handed over; the install happens in the store's next round.
        var installDeadline = DateTime.UtcNow.AddMinutes(2);
        while (store.SnapshotsInstalled == 0)
        {
            if (DateTime.UtcNow > installDeadline)
            {
                throw new TimeoutException("the accepted snapshot was not installed within 2 minutes; see the store's log");
            }

            await Task.Delay(2).ConfigureAwait(false);
        }

        var total = clock.Elapsed;
        var (bytes, build, streamed) = sender.Transfers.Single();
        return (bytes, build, total - build, total);
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
#pragma warning disable CA5394 // benchmark data, not security
        new Random(1).NextBytes(buffer);
#pragma warning restore CA5394
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

using System.Diagnostics;
using System.Globalization;
using Kv.Node.Storage;
using Kv.StorageCrashWriter;
using Xunit.Abstractions;

namespace Kv.System.Tests;

/// <summary>
/// Acknowledged writes survive SIGKILL. A child process writes with sync and prints "ack N"
/// after each write returns; the test kills it at a random moment, reopens the store and checks
/// that every acknowledged write is there, that the one write in flight was applied entirely or
/// not at all, and that nothing else appeared. Several rounds run on the same directory, so each
/// recovery starts from a store that was itself recovered from a crash.
///
/// What SIGKILL cannot show: losing the OS page cache. A killed process's buffered writes still
/// reach the disk, so this checks RocksDB's WAL and recovery as used by the engine, not fsync
/// itself; power-loss testing needs a fault-injecting file system.
/// </summary>
public sealed class StorageCrashDurabilityTests(ITestOutputHelper output) : IDisposable
{
    private const int Rounds = 6;
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(90);
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "kv-system-tests", Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
            // leave it for the temp cleaner; the assertion that failed says more
        }
    }

    [Fact]
    public async Task Every_acknowledged_sync_write_survives_kill_9_over_repeated_crashes()
    {
        var seed = int.TryParse(Environment.GetEnvironmentVariable("KV_CRASH_SEED"), out var s) ? s : Environment.TickCount;
        output.WriteLine($"seed {seed} (replay: KV_CRASH_SEED={seed} dotnet test tests/system/Kv.System.Tests --filter {nameof(Every_acknowledged_sync_write_survives_kill_9_over_repeated_crashes)})");
        var random = new Random(seed);
        long maxAcked = -1; // every write 0..maxAcked was acknowledged, in some round

        for (var round = 0; round < Rounds; round++)
        {
            // 1. Start a writer that continues after the last acknowledged write.
            var start = maxAcked + 1;
            await using var writer = WriterProcess.Start(_dir, start);

            // 2. Crash it at a random moment: mostly after a random number of acknowledgements,
            //    sometimes soon after start (while it may still be opening or recovering).
            var killEarly = round > 0 && random.Next(5) == 0;
            if (killEarly)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(random.Next(0, 400)));
            }
            else
            {
                var target = random.Next(20, 300);
                await writer.WaitForAcks(target, Deadline);
                if (round == 0)
                {
                    // While the writer runs, its directory is locked against other processes.
                    var e = Assert.Throws<StorageException>(() => Engine.Open(_dir));
                    Assert.Equal(StorageErrorKind.Locked, e.Kind);
                }
            }

            var acks = await writer.KillAndCollectAcks();
            Assert.True(acks.SequenceEqual(Enumerable.Range(0, acks.Count).Select(i => start + i)), "acknowledgements out of order");
            if (acks.Count > 0)
            {
                maxAcked = acks[^1];
            }

            // 3. Sometimes leave a torn record at the WAL's tail, as a crash mid-append would.
            var torn = random.Next(3) == 0 && TearWalTail(random);
            output.WriteLine($"round {round}: killed {(killEarly ? "early" : "after acks")}, {acks.Count} acks this round, acknowledged 0..{maxAcked}{(torn ? ", WAL tail torn" : string.Empty)}");

            // 4. Recover and verify, then crash again in the next round.
            using var engine = Engine.Open(_dir, new EngineOptions { CreateIfMissing = round == 0 && maxAcked < 0 });
            Verify(engine, maxAcked);
        }

        Assert.True(maxAcked > 50, $"too few writes were acknowledged ({maxAcked + 1}) for the test to mean much");
    }

    private bool TearWalTail(Random random)
    {
        var wal = Directory.GetFiles(_dir, "*.log").OrderBy(f => f, StringComparer.Ordinal).LastOrDefault();
        if (wal is null)
        {
            return false;
        }

        var garbage = new byte[random.Next(1, 200)];
        random.NextBytes(garbage);
        using var f = File.Open(wal, FileMode.Append, FileAccess.Write);
        f.Write(garbage);
        return true;
    }

    /// <summary>Checks the store against the workload, given that writes 0..maxAcked were acknowledged.</summary>
    private static void Verify(Engine engine, long maxAcked)
    {
        var inFlight = maxAcked + 1;
        var inFlightApplied = IsApplied(engine, inFlight);

        for (long i = 0; i <= maxAcked; i++)
        {
            var next = i + 1;
            var deletedByNext = CrashWorkload.IsBatch(next) && (next <= maxAcked || inFlightApplied);
            var value = engine.Get(ColumnFamily.Default, CrashWorkload.Key(i));
            if (deletedByNext)
            {
                Assert.True(value is null, $"write {i} should have been deleted by batch {next}");
            }
            else
            {
                Assert.True(value is not null, $"acknowledged write {i} is missing after recovery");
                Assert.True(value.AsSpan().SequenceEqual(CrashWorkload.Value(i)), $"acknowledged write {i} has the wrong value");
            }

            if (CrashWorkload.IsBatch(i))
            {
                Assert.True(IsApplied(engine, i), $"acknowledged batch {i} is not (entirely) there");
            }
        }

        // Nothing beyond the write in flight exists.
        using var it = engine.NewIterator(ColumnFamily.Default);
        if (it.SeekToLast())
        {
            var last = long.Parse(global::System.Text.Encoding.ASCII.GetString(it.Key[1..]), CultureInfo.InvariantCulture);
            Assert.True(last <= inFlight, $"write {last} exists but only 0..{maxAcked} (+1 in flight) were attempted");
        }
    }

    /// <summary>Whether write i is in the store, asserting that a batch is there entirely or not at all.</summary>
    private static bool IsApplied(Engine engine, long i)
    {
        var expected = CrashWorkload.Value(i);
        var main = engine.Get(ColumnFamily.Default, CrashWorkload.Key(i));
        Assert.True(main is null || main.AsSpan().SequenceEqual(expected), $"write {i} has a wrong value");
        if (!CrashWorkload.IsBatch(i))
        {
            return main is not null;
        }

        var parts = new[]
        {
            engine.Get(ColumnFamily.Lock, CrashWorkload.BatchKey(i, 0)),
            engine.Get(ColumnFamily.Write, CrashWorkload.BatchKey(i, 1)),
        };
        var applied = main is not null;
        foreach (var part in parts)
        {
            Assert.True((part is not null) == applied, $"batch {i} is partly applied: atomicity broken");
            Assert.True(part is null || part.AsSpan().SequenceEqual(expected), $"batch {i} has a wrong value");
        }

        if (applied && i > 0)
        {
            Assert.True(engine.Get(ColumnFamily.Default, CrashWorkload.Key(i - 1)) is null, $"batch {i} is applied but its delete of {i - 1} is not");
        }

        return applied;
    }

    /// <summary>The writer child process and the acknowledgements it printed.</summary>
    private sealed class WriterProcess : IAsyncDisposable
    {
        private readonly Process _process;
        private readonly List<long> _acks = [];
        private readonly Task _reader;
        private readonly Task<string> _stderr;
        private readonly TaskCompletionSource _reached = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _target = int.MaxValue;

        private WriterProcess(Process process)
        {
            _process = process;
            _stderr = process.StandardError.ReadToEndAsync();
            _reader = Task.Run(ReadAsync);
        }

        public static WriterProcess Start(string dir, long start)
        {
            var dll = Path.Combine(AppContext.BaseDirectory, "Kv.StorageCrashWriter.dll");
            var info = new ProcessStartInfo("dotnet")
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            info.ArgumentList.Add(dll);
            info.ArgumentList.Add(dir);
            info.ArgumentList.Add(start.ToString(CultureInfo.InvariantCulture));
            return new WriterProcess(Process.Start(info) ?? throw new InvalidOperationException("could not start the writer"));
        }

        public async Task WaitForAcks(int count, TimeSpan deadline)
        {
            lock (_acks)
            {
                _target = count;
                if (_acks.Count >= count)
                {
                    return;
                }
            }

            var exited = _process.WaitForExitAsync();
            var done = await Task.WhenAny(_reached.Task, exited, Task.Delay(deadline));
            if (done != _reached.Task)
            {
                var why = done == exited ? $"the writer exited ({_process.ExitCode}): {await _stderr}" : $"no {count} acknowledgements within {deadline}";
                throw new InvalidOperationException(why);
            }
        }

        /// <summary>SIGKILL, then every acknowledgement the writer printed before it died.</summary>
        public async Task<List<long>> KillAndCollectAcks()
        {
            if (!_process.HasExited)
            {
                _process.Kill(); // SIGKILL on Linux
            }

            await _process.WaitForExitAsync();
            await _reader; // reads to EOF: lines written before the kill are still in the pipe
            lock (_acks)
            {
                return [.. _acks];
            }
        }

        public async ValueTask DisposeAsync()
        {
            if (!_process.HasExited)
            {
                _process.Kill();
                await _process.WaitForExitAsync();
            }

            _process.Dispose();
        }

        private async Task ReadAsync()
        {
            while (await _process.StandardOutput.ReadLineAsync() is { } line)
            {
                if (!line.StartsWith("ack ", StringComparison.Ordinal))
                {
                    continue;
                }

                lock (_acks)
                {
                    _acks.Add(long.Parse(line.AsSpan(4), CultureInfo.InvariantCulture));
                    if (_acks.Count >= _target)
                    {
                        _reached.TrySetResult();
                    }
                }
            }
        }
    }
}

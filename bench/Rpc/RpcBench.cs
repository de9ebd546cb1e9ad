using System.Diagnostics;
using System.Globalization;
using Grpc.Core;
using Kv.Bench.Harness;

namespace Kv.Bench.Rpc;

/// <summary>
/// kv-bench rpc [--seconds S] [--runs N] [--alloc]: the gRPC stack as the node uses it (Grpc.AspNetCore
/// server, Grpc.Net.Client channel with our settings) against a plain
/// Kestrel HTTP/2 endpoint and SocketsHttpHandler client doing the same work, in one process and
/// one run. Runs of the two alternate so machine noise hits both alike; figures are medians.
/// With --alloc it reports managed bytes allocated per call (client and server together, whole
/// process) instead: a measure the noise of a shared machine does not move.
/// </summary>
internal static class RpcBench
{
    private const int UnaryPayload = RpcBenchRig.UnaryPayload;
    private const int StreamMessages = RpcBenchRig.StreamMessages;
    private const int StreamMessageSize = RpcBenchRig.StreamMessageSize;

    public static int Run(string[] args)
    {
        var seconds = Option(args, "--seconds", 2.0);
        var runs = (int)Option(args, "--runs", 5);
        if (args.Contains("--alloc"))
        {
            AllocAsync().GetAwaiter().GetResult();
            return 0;
        }

        var loop = Array.IndexOf(args, "--loop");
        if (loop >= 0 && loop + 1 < args.Length)
        {
            LoopAsync(args[loop + 1], TimeSpan.FromSeconds(seconds)).GetAwaiter().GetResult();
            return 0;
        }

        RunAsync(TimeSpan.FromSeconds(seconds), runs).GetAwaiter().GetResult();
        return 0;
    }

    private static async Task RunAsync(TimeSpan duration, int runs)
    {
        await using var rig = await RpcBenchRig.StartAsync();
        var (grpc, plain, unaryRequest, streamRequest) = (rig.Grpc, rig.Plain, rig.UnaryRequest, rig.StreamRequest);

        async Task GrpcUnary()
        {
            var response = await grpc.UnaryAsync(unaryRequest);
            Check(response.Payload.Length == UnaryPayload);
        }

        async Task PlainUnary()
        {
            var response = await plain.UnaryAsync(unaryRequest);
            Check(response.Payload.Length == UnaryPayload);
        }

        async Task<long> GrpcStream()
        {
            using var call = grpc.ServerStream(streamRequest);
            long n = 0;
            while (await call.ResponseStream.MoveNext())
            {
                n++;
            }

            RpcBenchService.EnsureOk(call.GetStatus());
            Check(n == StreamMessages);
            return n;
        }

        Console.WriteLine($"## RPC: gRPC (Grpc.AspNetCore + Grpc.Net.Client) vs plain Kestrel HTTP/2 ({runs} runs of {duration.TotalSeconds:0.#} s each, medians; unary payload {UnaryPayload} B; streams of {StreamMessages} x {StreamMessageSize} B back to back)");
        Console.WriteLine();
        Console.WriteLine("| workload | gRPC | plain HTTP/2 | gRPC / plain |");
        Console.WriteLine("| --- | --- | --- | --- |");
        foreach (var concurrency in new[] { 1, 64 })
        {
            var ours = new Measurements();
            var theirs = new Measurements();
            for (var run = -1; run < runs; run++)
            {
                // run -1 is the warm-up of both (JIT, connections), not recorded.
                ours.Add(run, await MeasureUnaryAsync(GrpcUnary, concurrency, duration));
                theirs.Add(run, await MeasureUnaryAsync(PlainUnary, concurrency, duration));
            }

            Row($"unary, {concurrency} concurrent: calls/s", ours.Throughput, theirs.Throughput, higherIsBetter: true);
            Row($"unary, {concurrency} concurrent: p50 latency (µs)", ours.P50, theirs.P50, higherIsBetter: false);
            Row($"unary, {concurrency} concurrent: p99 latency (µs)", ours.P99, theirs.P99, higherIsBetter: false);
        }

        // Each run streams back to back for the whole duration: one stream of 50,000 messages
        // lasts only some 50 ms, too short to average out a shared machine's noise.
        long Repeat(Func<Task<long>> stream)
        {
            var stopAt = Stopwatch.GetTimestamp() + (long)(duration.TotalSeconds * Stopwatch.Frequency);
            long messages = 0;
            do
            {
                messages += stream().GetAwaiter().GetResult();
            }
            while (Stopwatch.GetTimestamp() < stopAt);
            return messages;
        }

        var oursStream = new List<double>();
        var theirsStream = new List<double>();
        for (var run = -1; run < runs; run++)
        {
            var a = Runner.OpsPerSecond(() => Repeat(GrpcStream), runs: 1, warmups: 0)[0];
            var b = Runner.OpsPerSecond(() => Repeat(() => plain.StreamAsync(streamRequest)), runs: 1, warmups: 0)[0];
            if (run >= 0)
            {
                oursStream.Add(a);
                theirsStream.Add(b);
            }
        }

        Row("server streaming: messages/s", oursStream, theirsStream, higherIsBetter: true);
    }

    /// <summary>
    /// Bytes allocated per unary call (sequential) and per streamed message, ours and plain,
    /// counted by <see cref="GC.GetTotalAllocatedBytes"/> over many calls after a warm-up.
    /// </summary>
    private static async Task AllocAsync()
    {
        await using var rig = await RpcBenchRig.StartAsync();
        var (grpc, plain, unaryRequest, streamRequest) = (rig.Grpc, rig.Plain, rig.UnaryRequest, rig.StreamRequest);

        static async Task<double> PerCall(Func<Task> call, int n)
        {
            for (var i = 0; i < Math.Min(n, 2000); i++)
            {
                await call();
            }

            var before = GC.GetTotalAllocatedBytes(precise: true);
            for (var i = 0; i < n; i++)
            {
                await call();
            }

            return (GC.GetTotalAllocatedBytes(precise: true) - before) / (double)n;
        }

        const int Calls = 20_000;
        var oursUnary = await PerCall(async () => await grpc.UnaryAsync(unaryRequest), Calls);
        var plainUnary = await PerCall(async () => await plain.UnaryAsync(unaryRequest), Calls);
        var oursStream = await PerCall(async () =>
        {
            using var call = grpc.ServerStream(streamRequest);
            while (await call.ResponseStream.MoveNext())
            {
            }
        }, 4) / StreamMessages;
        var plainStream = await PerCall(async () => await plain.StreamAsync(streamRequest), 4) / StreamMessages;
        Console.WriteLine("| allocated bytes (client + server) | gRPC | plain HTTP/2 |");
        Console.WriteLine("| --- | --- | --- |");
        Console.WriteLine($"| per unary call | {oursUnary:0} | {plainUnary:0} |");
        Console.WriteLine($"| per streamed message | {oursStream:0.0} | {plainStream:0.0} |");
    }

    /// <summary>
    /// For profilers: runs one side of one workload (ours-unary, plain-unary, ours-stream,
    /// plain-stream; unary at 64 concurrent calls) for the given time, so a sampling profile
    /// of the process shows that side alone.
    /// </summary>
    private static async Task LoopAsync(string workload, TimeSpan duration)
    {
        await using var rig = await RpcBenchRig.StartAsync();
        var (grpc, plain, unaryRequest, streamRequest) = (rig.Grpc, rig.Plain, rig.UnaryRequest, rig.StreamRequest);
        var stopAt = Stopwatch.GetTimestamp() + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        long ops = 0;
        switch (workload)
        {
            case "ours-unary":
            case "plain-unary":
                var workers = new Task[64];
                for (var w = 0; w < workers.Length; w++)
                {
                    workers[w] = Task.Run(async () =>
                    {
                        while (Stopwatch.GetTimestamp() < stopAt)
                        {
                            _ = workload == "ours-unary" ? await grpc.UnaryAsync(unaryRequest) : await plain.UnaryAsync(unaryRequest);
                            Interlocked.Increment(ref ops);
                        }
                    });
                }

                await Task.WhenAll(workers);
                break;
            case "ours-stream":
                while (Stopwatch.GetTimestamp() < stopAt)
                {
                    using var call = grpc.ServerStream(streamRequest);
                    while (await call.ResponseStream.MoveNext())
                    {
                        ops++;
                    }
                }

                break;
            case "plain-stream":
                while (Stopwatch.GetTimestamp() < stopAt)
                {
                    ops += await plain.StreamAsync(streamRequest);
                }

                break;
            default:
                throw new ArgumentException($"unknown workload {workload}");
        }

        Console.WriteLine($"{workload}: {ops / duration.TotalSeconds:0} per second");
    }

    private static async Task<(double Throughput, double P50, double P99)> MeasureUnaryAsync(Func<Task> call, int concurrency, TimeSpan duration)
    {
        var latencies = new List<double>[concurrency];
        var ops = Runner.OpsPerSecond(() =>
        {
            var stopAt = Stopwatch.GetTimestamp() + (long)(duration.TotalSeconds * Stopwatch.Frequency);
            var workers = new Task[concurrency];
            for (var w = 0; w < concurrency; w++)
            {
                var list = latencies[w] = new List<double>(100_000);
                workers[w] = Task.Run(async () =>
                {
                    while (Stopwatch.GetTimestamp() < stopAt)
                    {
                        var start = Stopwatch.GetTimestamp();
                        await call();
                        list.Add(Stopwatch.GetElapsedTime(start).TotalMicroseconds);
                    }
                });
            }

            Task.WaitAll(workers);
            return latencies.Sum(l => (long)l.Count);
        }, runs: 1, warmups: 0)[0];

        var all = latencies.SelectMany(l => l).ToArray();
        return (ops, Sample.Quantile(all, 0.50), Sample.Quantile(all, 0.99));
    }

    private static void Row(string name, IReadOnlyCollection<double> ours, IReadOnlyCollection<double> theirs, bool higherIsBetter)
    {
        var a = Sample.Median(ours);
        var b = Sample.Median(theirs);
        var ratio = higherIsBetter ? a / b : b / a;
        Console.WriteLine($"| {name} | {Sample.Format(a)} | {Sample.Format(b)} | {ratio.ToString("P0", CultureInfo.InvariantCulture)} |");
    }

    private static void Check(bool ok)
    {
        if (!ok)
        {
            throw new InvalidOperationException("benchmark response had the wrong payload");
        }
    }

    private static double Option(string[] args, string name, double fallback)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? double.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;
    }

    /// <summary>Per-run figures of one side; run -1 (warm-up) is dropped.</summary>
    private sealed class Measurements
    {
        public List<double> Throughput { get; } = [];

        public List<double> P50 { get; } = [];

        public List<double> P99 { get; } = [];

        public void Add(int run, (double Throughput, double P50, double P99) m)
        {
            if (run < 0)
            {
                return;
            }

            Throughput.Add(m.Throughput);
            P50.Add(m.P50);
            P99.Add(m.P99);
        }
    }
}

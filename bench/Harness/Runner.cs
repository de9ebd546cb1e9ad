using System.Diagnostics;

namespace Kv.Bench.Harness;

/// <summary>
/// Runs a workload a few times after a warm-up and returns operations per second for each run.
/// The workload returns how many operations it performed.
/// </summary>
internal static class Runner
{
    public static double[] OpsPerSecond(Func<long> workload, int runs, int warmups = 1)
    {
        for (var i = 0; i < warmups; i++)
        {
            workload();
        }

        var result = new double[runs];
        for (var i = 0; i < runs; i++)
        {
            var sw = Stopwatch.StartNew();
            var ops = workload();
            result[i] = ops / sw.Elapsed.TotalSeconds;
        }

        return result;
    }
}

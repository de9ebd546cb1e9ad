using System.Runtime.InteropServices;

namespace Kv.Bench.Harness;

/// <summary>
/// CPU time of the calling thread (Linux CLOCK_THREAD_CPUTIME_ID). On a shared, loaded machine wall
/// time includes every moment the thread waited for a core; this clock does not, so comparing two
/// implementations by it is far steadier. C peers read the same clock.
/// </summary>
internal static partial class ThreadCpuTime
{
    private const int ClockThreadCpuTime = 3;

    public static unsafe double Seconds()
    {
        var ts = stackalloc long[2]; // struct timespec { time_t tv_sec; long tv_nsec; } on 64-bit Linux
        if (clock_gettime(ClockThreadCpuTime, ts) != 0)
        {
            return double.NaN;
        }

        return ts[0] + (ts[1] * 1e-9);
    }

    [LibraryImport("libc", EntryPoint = "clock_gettime")]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static unsafe partial int clock_gettime(int clock, long* timespec);
}

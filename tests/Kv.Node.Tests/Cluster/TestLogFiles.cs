using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kv.Node.Tests.Cluster;

/// <summary>
/// Node logs for diagnosing a failing cluster test: with KV_TEST_LOG_DIR set, each in-process
/// node writes its log to DIR/&lt;test run&gt;-node&lt;i&gt;.log; otherwise logs are dropped (the default,
/// so a normal run writes nothing).
/// </summary>
internal static class TestLogFiles
{
    private static readonly string? Directory = Environment.GetEnvironmentVariable("KV_TEST_LOG_DIR");
    private static readonly string RunId = DateTime.UtcNow.ToString("HHmmss", System.Globalization.CultureInfo.InvariantCulture);
    private static int clusters;

    /// <summary>A new id per cluster, so two clusters' node 0 do not share a file.</summary>
    public static int NextClusterId() => Interlocked.Increment(ref clusters);

    public static ILoggerFactory For(int cluster, int node)
    {
        if (string.IsNullOrEmpty(Directory))
        {
            return NullLoggerFactory.Instance;
        }

        System.IO.Directory.CreateDirectory(Directory);
        return new LoggerFactory([new Provider(Path.Combine(Directory, $"{RunId}-c{cluster}-node{node}.log"))]);
    }

    private sealed class Provider(string path) : ILoggerProvider
    {
        private static readonly ConcurrentDictionary<string, object> Locks = new();

        public ILogger CreateLogger(string categoryName) => new FileLogger(path, categoryName, Locks.GetOrAdd(path, _ => new object()));

        public void Dispose()
        {
        }
    }

    private sealed class FileLogger(string path, string category, object gate) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Debug;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            var line = $"{DateTime.UtcNow:HH:mm:ss.fff} {logLevel} {category}: {formatter(state, exception)}{(exception is null ? "" : " " + exception)}\n";
            lock (gate)
            {
                File.AppendAllText(path, line);
            }
        }
    }
}

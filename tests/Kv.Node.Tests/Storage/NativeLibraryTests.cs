using Kv.Node.Storage;
using Kv.Node.Tests.TestSupport;

namespace Kv.Node.Tests.Storage;

/// <summary>
/// The engine runs on the librocksdb of the RocksDB NuGet package (11.12), copied into the build
/// output, and on nothing the machine has installed (issue 12: no apt package is needed).
/// </summary>
public sealed class NativeLibraryTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void The_engine_loads_the_package_library_from_the_build_output()
    {
        using var engine = Engine.Open(_dir.Path);
        var loaded = Engine.NativeLibrary;
        Assert.NotNull(loaded);
        Assert.StartsWith(AppContext.BaseDirectory, loaded, StringComparison.Ordinal);
        if (OperatingSystem.IsLinux())
        {
            Assert.EndsWith("librocksdb.so", loaded, StringComparison.Ordinal);
            // The process maps exactly that file, and no other librocksdb (Debian's librocksdb.so.7.8 included).
            var mapped = File.ReadLines("/proc/self/maps")
                .Select(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries))
                .Where(fields => fields.Length >= 6 && fields[5].Contains("librocksdb", StringComparison.Ordinal))
                .Select(fields => fields[5])
                .Distinct()
                .ToList();
            Assert.Equal([loaded], mapped);
        }
    }

    [Fact]
    public void A_new_store_is_written_by_RocksDB_11_12()
    {
        using (Engine.Open(_dir.Path))
        {
        }

        var options = Directory.GetFiles(_dir.Path, "OPTIONS-*").Max()!;
        Assert.Contains(File.ReadLines(options), line => line.Trim() == "rocksdb_version=11.12.0");
    }
}

using Kv.Node.Storage;
using Kv.Node.Storage.Tools;
using Kv.Node.Tests.TestSupport;
using static Kv.Node.Tests.Storage.Bytes;

namespace Kv.Node.Tests.Storage;

public sealed class StorageCheckTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Passes_on_a_new_directory_and_again_on_its_own_probe_store()
    {
        var stdout = new StringWriter();
        Assert.Equal(0, StorageCheck.Run(_dir.Sub("probe"), stdout, new StringWriter()));
        Assert.Contains("storage check passed", stdout.ToString(), StringComparison.Ordinal);
        Assert.Equal(0, StorageCheck.Run(_dir.Sub("probe"), new StringWriter(), new StringWriter()));
    }

    [Fact]
    public void Refuses_a_real_store_and_leaves_it_untouched()
    {
        using (var engine = Engine.Open(_dir.Sub("store")))
        {
            engine.Put(ColumnFamily.Default, Of("user"), Of("data"), sync: true);
        }

        var stderr = new StringWriter();
        Assert.Equal(3, StorageCheck.Run(_dir.Sub("store"), new StringWriter(), stderr));
        Assert.Contains("holds a store", stderr.ToString(), StringComparison.Ordinal);
        using var reopened = Engine.Open(_dir.Sub("store"));
        using var it = reopened.NewIterator(ColumnFamily.Default);
        Assert.True(it.SeekToFirst());
        Assert.Equal("user", Str(it.Key));
        Assert.False(it.Next());
        Assert.Null(reopened.Get(ColumnFamily.Meta, Of("storage-check-probe")));
    }

    [Fact]
    public void Refuses_a_non_empty_directory_that_is_not_a_store()
    {
        Directory.CreateDirectory(_dir.Sub("other"));
        File.WriteAllText(_dir.Sub("other/notes.txt"), "keep me");
        var stderr = new StringWriter();
        Assert.Equal(3, StorageCheck.Run(_dir.Sub("other"), new StringWriter(), stderr));
        Assert.Contains("is not empty", stderr.ToString(), StringComparison.Ordinal);
        Assert.Equal(["notes.txt"], Directory.GetFiles(_dir.Sub("other")).Select(Path.GetFileName));
    }
}

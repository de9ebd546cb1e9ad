using Kv.Node.Storage;
using Kv.Proto.V1;

namespace Kv.Node.Ranges.Snapshots;

/// <summary>
/// Cuts a replica snapshot: one SST file per non-empty span, holding that span's keys as an
/// <see cref="EngineSnapshot"/> sees them, and the manifest that describes the files.
///
/// Contract:
/// 1. The caller takes the <see cref="EngineSnapshot"/> at the Raft (term, index) it passes in, so
///    the files hold exactly the state that log position produced; later writes are not included.
/// 2. The caller computes the spans from the descriptor (<see cref="KeySpan.ForRange"/>: raw-KV and
///    transactional data); every span goes into the manifest, empty ones included, so a receiver clears them too.
/// 3. Files are written into the given directory, which must be empty or absent; they are
///    not fsynced (a sender that crashes cuts a new snapshot). Delete the directory when the
///    transfer is done.
/// </summary>
internal static class RangeSnapshotBuilder
{
    public static SnapshotManifest Build(
        Engine engine,
        EngineSnapshot snapshot,
        RangeDescriptor descriptor,
        ulong term,
        ulong index,
        IReadOnlyList<KeySpan> spans,
        string directory)
    {
        ArgumentNullException.ThrowIfNull(engine);
        ArgumentNullException.ThrowIfNull(snapshot);
        ArgumentNullException.ThrowIfNull(descriptor);
        ArgumentNullException.ThrowIfNull(spans);
        ArgumentException.ThrowIfNullOrWhiteSpace(directory);
        if (spans.Count == 0)
        {
            throw new ArgumentException("a snapshot needs at least one span; compute them from the descriptor (KeySpan.RawData)", nameof(spans));
        }

        if (KeySpan.CheckDisjoint(spans) is { } overlap)
        {
            throw new ArgumentException($"cannot build a snapshot of range {descriptor.RangeId}: {overlap}", nameof(spans));
        }

        var dir = Path.GetFullPath(directory);
        if (File.Exists(dir) || (Directory.Exists(dir) && Directory.EnumerateFileSystemEntries(dir).Any()))
        {
            throw new ArgumentException($"the snapshot directory {dir} must be empty or absent; choose a new one", nameof(directory));
        }

        Directory.CreateDirectory(dir);
        var manifest = new SnapshotManifest { RangeId = descriptor.RangeId, RangeDescriptor = descriptor.Clone(), Term = term, Index = index };
        for (var i = 0; i < spans.Count; i++)
        {
            var span = spans[i];
            manifest.Spans.Add(span.ToProto());
            var name = $"{i:D4}-{ColumnFamilyNames.Of(span.ColumnFamily)}.sst";
            var file = WriteSpan(engine, snapshot, span, Path.Combine(dir, name));
            if (file is not null)
            {
                file.SpanIndex = (uint)i;
                file.Name = name;
                file.ColumnFamily = manifest.Spans[i].ColumnFamily;
                file.LowerKey = manifest.Spans[i].LowerKey;
                file.UpperKey = manifest.Spans[i].UpperKey;
                manifest.Files.Add(file);
            }
        }

        return manifest;
    }

    /// <summary>Writes the span's keys to <paramref name="path"/>; null (and no file) if the span is empty.</summary>
    private static SnapshotFile? WriteSpan(Engine engine, EngineSnapshot snapshot, KeySpan span, string path)
    {
        using var it = engine.NewIterator(span.ColumnFamily, span.Lower.Span, span.Upper.Span, snapshot, fillCache: false);
        if (!it.SeekToFirst())
        {
            return null;
        }

        ulong keys = 0;
        ulong size;
        using (var writer = engine.NewSstFileWriter(span.ColumnFamily, path))
        {
            do
            {
                writer.Put(it.Key, it.Value);
                keys++;
            }
            while (it.Next());

            size = writer.Finish();
        }

        var (length, crc) = SnapshotFiles.Checksum(path);
        if ((ulong)length != size)
        {
            throw new InvalidOperationException($"the SST writer reported {size} bytes for {path} but the file has {length}");
        }

        return new SnapshotFile { SizeBytes = size, Crc32C = crc, KeyCount = keys };
    }
}

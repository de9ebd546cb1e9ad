using Google.Protobuf;
using Kv.Proto.V1;

namespace Kv.Node.Ranges.Snapshots;

/// <summary>
/// Reads a built snapshot (<see cref="RangeSnapshotBuilder"/>) as checksummed chunks, files in
/// manifest order, starting anywhere: a broken transfer resumes at the point the receiver reports
/// (<see cref="SnapshotReceiver.ResumePoint"/>). The sequence is pulled, one chunk read per
/// MoveNext, so the transport's flow control (sending the next chunk only when the stream has
/// room) bounds memory to the chunks in flight.
/// </summary>
internal static class SnapshotChunkReader
{
    public const int DefaultChunkBytes = 1 << 20;

    /// <summary>Largest chunk either side accepts: bounds a receiver's memory per message.</summary>
    public const int MaxChunkBytes = 16 << 20;

    /// <summary>
    /// Chunks of the files in <paramref name="directory"/> from <paramref name="from"/> (the
    /// beginning when null) to the end. Arguments are checked now; file errors surface while enumerating.
    /// </summary>
    public static IEnumerable<SnapshotChunk> Read(string directory, SnapshotManifest manifest, SnapshotResumePoint? from = null, int chunkBytes = DefaultChunkBytes)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(directory);
        ArgumentNullException.ThrowIfNull(manifest);
        if (chunkBytes is < 1 or > MaxChunkBytes)
        {
            throw new ArgumentOutOfRangeException(nameof(chunkBytes), chunkBytes, $"the chunk size must be between 1 byte and {MaxChunkBytes} bytes");
        }

        var fileIndex = (int)(from?.FileIndex ?? 0);
        var offset = (long)(from?.Offset ?? 0);
        if (fileIndex > manifest.Files.Count || (fileIndex == manifest.Files.Count && offset != 0) ||
            (fileIndex < manifest.Files.Count && (ulong)offset > manifest.Files[fileIndex].SizeBytes))
        {
            throw new ArgumentOutOfRangeException(nameof(from), $"resume point file {fileIndex} offset {offset} is not inside this snapshot of {manifest.Files.Count} files; resume from the receiver's ResumePoint of this snapshot");
        }

        return Chunks(Path.GetFullPath(directory), manifest, fileIndex, offset, chunkBytes);
    }

    private static IEnumerable<SnapshotChunk> Chunks(string directory, SnapshotManifest manifest, int fileIndex, long offset, int chunkBytes)
    {
        for (var i = fileIndex; i < manifest.Files.Count; i++, offset = 0)
        {
            var file = manifest.Files[i];
            var path = Path.Combine(directory, file.Name);
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1, FileOptions.SequentialScan);
            if ((ulong)stream.Length != file.SizeBytes)
            {
                throw new InvalidOperationException($"snapshot file {path} has {stream.Length} bytes but the manifest says {file.SizeBytes}: it changed after the snapshot was built; build a new snapshot");
            }

            stream.Position = offset;
            while ((ulong)offset < file.SizeBytes)
            {
                var buffer = new byte[(int)Math.Min(chunkBytes, (long)file.SizeBytes - offset)];
                stream.ReadExactly(buffer);
                yield return new SnapshotChunk
                {
                    RangeId = manifest.RangeId,
                    Term = manifest.Term,
                    Index = manifest.Index,
                    FileIndex = (uint)i,
                    Offset = (ulong)offset,
                    Data = UnsafeByteOperations.UnsafeWrap(buffer), // the buffer is this chunk's alone
                    Crc32C = Crc32C.Compute(buffer),
                };
                offset += buffer.Length;
            }
        }
    }
}

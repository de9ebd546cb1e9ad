namespace Kv.Node.Ranges.Snapshots;

/// <summary>File helpers shared by the builder, the chunk reader and the receiver.</summary>
internal static class SnapshotFiles
{
    /// <summary>Length and CRC-32C of the whole file.</summary>
    public static (long Length, uint Crc) Checksum(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1, FileOptions.SequentialScan);
        var buffer = new byte[1 << 20];
        uint crc = 0;
        long length = 0;
        int read;
        while ((read = stream.Read(buffer)) > 0)
        {
            crc = Crc32C.Append(crc, buffer.AsSpan(0, read));
            length += read;
        }

        return (length, crc);
    }
}

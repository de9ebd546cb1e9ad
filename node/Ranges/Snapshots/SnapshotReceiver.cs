using Google.Protobuf;
using Kv.Node.Storage;
using Kv.Proto.V1;

namespace Kv.Node.Ranges.Snapshots;

/// <summary>
/// The receiving end of one replica snapshot: stages the manifest and the chunks of its files in
/// a directory, survives restarts, and installs the files into the engine.
///
/// Contract, in order:
/// 1. <see cref="Begin"/> checks the manifest and writes it to the staging directory (temp file,
///    fsync, rename). A staging directory already holding the same manifest resumes; one holding
///    another snapshot is refused until <see cref="Reset"/>.
/// 2. <see cref="Accept"/> takes chunks strictly in order at <see cref="ResumePoint"/>. It checks
///    the chunk (snapshot identity, position, length, CRC-32C of its bytes) BEFORE writing; a
///    refused chunk writes nothing. An accepted chunk is appended and fsynced before Accept returns.
/// 3. When a file's last chunk arrives, the whole file's size and CRC-32C are checked against the
///    manifest; a file that does not match (a torn write after power loss) is deleted and the
///    refusal says to resend it from offset 0.
/// 4. After a restart, <see cref="Open"/> over the same directory derives the resume point from the
///    files' lengths (everything on disk was checked and fsynced by step 2).
/// 5. <see cref="Ingest"/>, once <see cref="IsComplete"/>, re-verifies every file (size, CRC) and
///    then, for each column family, makes ONE <see cref="Engine.IngestExternalFiles"/> call with:
///    a tombstone file the receiver writes (a point deletion of every key the engine holds in that
///    family's spans now), followed by the snapshot's files of that family. RocksDB gives each file
///    of an overlapping ingest its own, increasing sequence number, so the snapshot's keys shadow
///    the tombstones and every other old key is deleted; all files of one call become visible
///    at once, or none. (The order is load-bearing: SnapshotTransferTests fail if the files are
///    passed the other way round.) So after the call, each span of that family holds exactly the snapshot's
///    keys, and no reader ever sees a half-replaced family. Keys outside the spans are untouched.
///    (A range-deletion SST would avoid the scan, but the Storage binding has no
///    SstFileWriter.DeleteRange yet; tombstones cost one pass over the old keys of the spans.)
/// 6. The caller keeps writes out of the spans during Ingest (the replica is not applying):
///    a key written between the tombstone scan and the ingest would survive.
///
/// Crash window (stated, not closed): RocksDB 7.8's C API ingests into one column family per call,
/// so a snapshot spanning several families is atomic per family, not across them. A crash between
/// two families' ingests leaves some families replaced and others old. The caller closes it: it
/// durably records "installing snapshot (term, index)" before Ingest, and after a restart that
/// finds the record it calls Ingest again from the same staging directory before serving the
/// range. Ingest is idempotent: staged files are copied, not moved (move: false), and the tombstones are
/// recomputed from what the engine holds then. Only after that does it clear the record and Reset.
/// A snapshot of the raw-KV data span alone (one family) has no such window.
///
/// Not thread-safe: one transfer drives one receiver.
/// </summary>
internal sealed class SnapshotReceiver
{
    private const string ManifestFile = "manifest.pb";
    private const int MaxSpans = 64;
    private const int MaxFiles = 64;

    private readonly string _directory;
    private SnapshotManifest? _manifest;
    private KeySpan[] _spans = [];
    private int _fileIndex;   // the resume point: first file not fully received
    private long _offset;     // and the first byte of it not received

    private SnapshotReceiver(string directory) => _directory = directory;

    /// <summary>The staging directory, as an absolute path.</summary>
    public string Directory => _directory;

    /// <summary>The manifest being received, or null before <see cref="Begin"/>.</summary>
    public SnapshotManifest? Manifest => _manifest;

    /// <summary>Where the sender should continue: the first byte not received yet.</summary>
    public SnapshotResumePoint ResumePoint => new() { FileIndex = (uint)_fileIndex, Offset = (ulong)_offset };

    /// <summary>True once every file of the manifest is received and verified.</summary>
    public bool IsComplete => _manifest is not null && _fileIndex == _manifest.Files.Count;

    /// <summary>
    /// A receiver over <paramref name="stagingDirectory"/> (created if absent), resuming what a
    /// previous receiver left there. An unreadable manifest (corruption) discards the staged snapshot.
    /// </summary>
    public static SnapshotReceiver Open(string stagingDirectory)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(stagingDirectory);
        var dir = Path.GetFullPath(stagingDirectory);
        System.IO.Directory.CreateDirectory(dir);
        var receiver = new SnapshotReceiver(dir);
        var manifestPath = Path.Combine(dir, ManifestFile);
        if (File.Exists(manifestPath))
        {
            SnapshotManifest? manifest;
            try
            {
                manifest = SnapshotManifest.Parser.ParseFrom(File.ReadAllBytes(manifestPath));
            }
            catch (InvalidProtocolBufferException)
            {
                manifest = null;
            }

            if (manifest is not null && Check(manifest, out var spans) is null)
            {
                receiver._manifest = manifest;
                receiver._spans = spans;
                receiver.RecoverResumePoint();
            }
            else
            {
                receiver.Reset();
            }
        }
        else
        {
            receiver.DeleteStagedFiles(0);
        }

        return receiver;
    }

    /// <summary>Accepts the manifest of the snapshot to receive (step 1).</summary>
    /// <exception cref="InvalidSnapshotException">The manifest is malformed, or another snapshot is staged here.</exception>
    public void Begin(SnapshotManifest manifest)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        if (_manifest is not null)
        {
            if (_manifest.Equals(manifest))
            {
                return; // the same snapshot again (a sender reconnecting): keep what we have
            }

            throw new InvalidSnapshotException($"the staging directory {_directory} holds snapshot term {_manifest.Term} index {_manifest.Index} of range {_manifest.RangeId}, not term {manifest.Term} index {manifest.Index} of range {manifest.RangeId}; nothing was changed. Reset the receiver to discard the staged snapshot first.");
        }

        if (Check(manifest, out var spans) is { } error)
        {
            throw new InvalidSnapshotException($"refused snapshot manifest for range {manifest.RangeId}: {error}; nothing was staged. Build the snapshot again with RangeSnapshotBuilder.");
        }

        DeleteStagedFiles(0);
        var tmp = Path.Combine(_directory, ManifestFile + ".tmp");
        using (var stream = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            manifest.WriteTo(stream);
            stream.Flush(flushToDisk: true);
        }

        File.Move(tmp, Path.Combine(_directory, ManifestFile), overwrite: true);
        _manifest = manifest.Clone();
        _spans = spans;
        _fileIndex = 0;
        _offset = 0;
    }

    /// <summary>Takes the next chunk (steps 2 and 3).</summary>
    /// <exception cref="InvalidSnapshotException">The chunk was refused; the message says why and where to resume.</exception>
    public void Accept(SnapshotChunk chunk)
    {
        ArgumentNullException.ThrowIfNull(chunk);
        var manifest = _manifest ?? throw new InvalidSnapshotException("a snapshot chunk arrived before its manifest; nothing was written. Send the manifest first (Begin).");
        if (chunk.RangeId != manifest.RangeId || chunk.Term != manifest.Term || chunk.Index != manifest.Index)
        {
            throw new InvalidSnapshotException($"a chunk of snapshot range {chunk.RangeId} term {chunk.Term} index {chunk.Index} arrived while receiving range {manifest.RangeId} term {manifest.Term} index {manifest.Index}; nothing was written. Send chunks of the staged snapshot, or Reset the receiver.");
        }

        if (IsComplete)
        {
            throw new InvalidSnapshotException($"snapshot of range {manifest.RangeId} is already complete; the chunk for file {chunk.FileIndex} offset {chunk.Offset} was not written. Ingest it.");
        }

        var file = manifest.Files[_fileIndex];
        var where = $"file {chunk.FileIndex} ({Describe(chunk.FileIndex)}) at offset {chunk.Offset}";
        if (chunk.FileIndex != (uint)_fileIndex || chunk.Offset != (ulong)_offset)
        {
            throw new InvalidSnapshotException($"snapshot chunk for {where} is out of order; nothing was written. Resume from file {_fileIndex} offset {_offset}.");
        }

        if (chunk.Data.IsEmpty || chunk.Data.Length > SnapshotChunkReader.MaxChunkBytes)
        {
            throw new InvalidSnapshotException($"snapshot chunk for {where} has {chunk.Data.Length} bytes; a chunk holds 1 to {SnapshotChunkReader.MaxChunkBytes} bytes. Nothing was written.");
        }

        if ((ulong)_offset + (ulong)chunk.Data.Length > file.SizeBytes)
        {
            throw new InvalidSnapshotException($"snapshot chunk for {where} of {chunk.Data.Length} bytes runs past the file's {file.SizeBytes} bytes in the manifest; nothing was written.");
        }

        var crc = Crc32C.Compute(chunk.Data.Span);
        if (crc != chunk.Crc32C)
        {
            throw new InvalidSnapshotException($"snapshot chunk for {where} failed its checksum (CRC-32C of the bytes is {crc:x8}, the chunk says {chunk.Crc32C:x8}); nothing was written. Resend the chunk from file {_fileIndex} offset {_offset}.");
        }

        var path = StagedPath(_fileIndex);
        using (var stream = new FileStream(path, FileMode.OpenOrCreate, FileAccess.Write, FileShare.None))
        {
            try
            {
                stream.Position = _offset;
                stream.Write(chunk.Data.Span);
                stream.SetLength(_offset + chunk.Data.Length);
                stream.Flush(flushToDisk: true);
            }
            catch (IOException)
            {
                stream.SetLength(_offset); // leave no part of the chunk behind
                throw;
            }
        }

        _offset += chunk.Data.Length;
        if ((ulong)_offset == file.SizeBytes)
        {
            if (VerifyFile(_fileIndex) is { } error)
            {
                File.Delete(path);
                _offset = 0;
                throw new InvalidSnapshotException($"snapshot {error}; the staged file was discarded. Resend file {_fileIndex} from offset 0.");
            }

            _fileIndex++;
            _offset = 0;
        }
    }

    /// <summary>
    /// Discards what was received of the file at the resume point (after a chunk of it was refused,
    /// say): the resume point moves to that file's offset 0. Earlier, complete files are kept.
    /// </summary>
    public void DiscardCurrentFile()
    {
        if (_manifest is null || IsComplete)
        {
            return;
        }

        File.Delete(StagedPath(_fileIndex));
        _offset = 0;
    }

    /// <summary>
    /// Why <see cref="Ingest"/> with these spans would refuse the staged snapshot, or null if it
    /// would not: complete, the spans equal the manifest's, every file present with its manifest
    /// size, and (with <paramref name="checksums"/>, which reads every file: not on a driver
    /// thread) its CRC-32C. Changes nothing. Lets a caller for whom a failed Ingest is fatal
    /// (the Store, once Raft took the snapshot) refuse the snapshot before committing to it.
    /// </summary>
    public string? WhyNotIngestable(IReadOnlyList<KeySpan> spans, bool checksums)
    {
        ArgumentNullException.ThrowIfNull(spans);
        if (_manifest is not { } manifest)
        {
            return "no snapshot is staged";
        }

        if (!IsComplete)
        {
            return $"snapshot of range {manifest.RangeId} is incomplete (next: file {_fileIndex} offset {_offset})";
        }

        if (spans.Count != _spans.Length || !spans.Select((s, i) => s.SameAs(_spans[i])).All(same => same))
        {
            return $"snapshot of range {manifest.RangeId} covers [{string.Join("; ", _spans.Select(s => s.ToString()))}] but its descriptor needs exactly [{string.Join("; ", spans.Select(s => s.ToString()))}]";
        }

        for (var i = 0; i < manifest.Files.Count; i++)
        {
            var path = StagedPath(i);
            var expected = manifest.Files[i];
            if (!File.Exists(path))
            {
                return $"staged file {i} ({expected.Name}) is missing from {_directory}";
            }

            if ((ulong)new FileInfo(path).Length != expected.SizeBytes)
            {
                return $"staged file {i} ({expected.Name}) has {new FileInfo(path).Length} bytes, the manifest says {expected.SizeBytes}";
            }

            if (checksums && VerifyFile(i) is { } error)
            {
                return $"staged {error}";
            }
        }

        return null;
    }

    /// <summary>
    /// Replaces each span's data in <paramref name="engine"/> with the snapshot's (step 5).
    /// <paramref name="spans"/> are what the caller expects from the descriptor; they must equal the manifest's.
    /// With <paramref name="move"/> the staged files are hard-linked into the engine instead of
    /// copied (no second write of the data, so the step is short), and are gone from the staging
    /// directory afterwards: a second Ingest is then impossible and the receiver resumes from file
    /// 0. Use it only when a crash after the ingest is covered otherwise (the Store's replica
    /// snapshots: the leader sends a new snapshot; one column family, so no cross-family window).
    /// </summary>
    /// <exception cref="InvalidSnapshotException">The snapshot is incomplete, a staged file no longer matches the manifest, or the spans differ; nothing was ingested.</exception>
    public void Ingest(Engine engine, IReadOnlyList<KeySpan> spans, bool move = false)
    {
        ArgumentNullException.ThrowIfNull(engine);
        ArgumentNullException.ThrowIfNull(spans);
        var manifest = _manifest ?? throw new InvalidSnapshotException("no snapshot is staged; nothing was ingested. Begin and receive a snapshot first.");
        if (!IsComplete)
        {
            throw new InvalidSnapshotException($"snapshot of range {manifest.RangeId} is incomplete (next: file {_fileIndex} offset {_offset}); nothing was ingested. Receive the remaining chunks first.");
        }

        if (spans.Count != _spans.Length || !spans.Select((s, i) => s.SameAs(_spans[i])).All(same => same))
        {
            throw new InvalidSnapshotException($"snapshot of range {manifest.RangeId} covers [{string.Join("; ", _spans.Select(s => s.ToString()))}] but the caller expects [{string.Join("; ", spans.Select(s => s.ToString()))}]; nothing was ingested. The snapshot was cut for another descriptor: request a new one.");
        }

        for (var i = 0; i < manifest.Files.Count; i++)
        {
            if (VerifyFile(i) is { } error)
            {
                File.Delete(StagedPath(i));
                RecoverResumePoint();
                throw new InvalidSnapshotException($"staged snapshot {error}; nothing was ingested and the file was discarded. Resend from file {_fileIndex} offset {_offset}.");
            }
        }

        foreach (var cf in _spans.Select(s => s.ColumnFamily).Distinct().Order())
        {
            var files = new List<string>();
            var tombstones = Path.Combine(_directory, $"tombstones-{ColumnFamilyNames.Of(cf)}.sst");
            File.Delete(tombstones);
            if (WriteTombstones(engine, cf, tombstones))
            {
                files.Add(tombstones);
            }

            for (var i = 0; i < manifest.Files.Count; i++)
            {
                if (_spans[manifest.Files[i].SpanIndex].ColumnFamily == cf)
                {
                    files.Add(StagedPath(i));
                }
            }

            if (files.Count > 0)
            {
                engine.IngestExternalFiles(cf, files, move);
            }

            File.Delete(tombstones);
        }
    }

    /// <summary>Discards the staged snapshot: the directory is left empty and the receiver awaits a new manifest.</summary>
    public void Reset()
    {
        File.Delete(Path.Combine(_directory, ManifestFile));
        DeleteStagedFiles(0);
        foreach (var f in System.IO.Directory.EnumerateFiles(_directory))
        {
            File.Delete(f);
        }

        _manifest = null;
        _spans = [];
        _fileIndex = 0;
        _offset = 0;
    }

    /// <summary>Null if the manifest is well-formed, else what is wrong; <paramref name="spans"/> are its spans.</summary>
    private static string? Check(SnapshotManifest m, out KeySpan[] spans)
    {
        spans = [];
        if (m.RangeId == 0)
        {
            return "range id 0 is not a range";
        }

        if (m.RangeDescriptor is null || m.RangeDescriptor.RangeId != m.RangeId)
        {
            return $"the descriptor is missing or names range {m.RangeDescriptor?.RangeId}";
        }

        if (m.Spans.Count is 0 or > MaxSpans || m.Files.Count > MaxFiles)
        {
            return $"{m.Spans.Count} spans and {m.Files.Count} files (a snapshot has 1 to {MaxSpans} spans and at most {MaxFiles} files)";
        }

        var result = new KeySpan[m.Spans.Count];
        for (var i = 0; i < result.Length; i++)
        {
            var span = KeySpan.FromProto(m.Spans[i], out var error);
            if (span is null)
            {
                return $"span {i}: {error}";
            }

            result[i] = span;
        }

        if (KeySpan.CheckDisjoint(result) is { } overlap)
        {
            return overlap;
        }

        var seen = new bool[result.Length];
        for (var i = 0; i < m.Files.Count; i++)
        {
            var f = m.Files[i];
            if (f.SpanIndex >= (uint)result.Length || seen[f.SpanIndex])
            {
                return $"file {i} ({f.Name}) names span {f.SpanIndex}, which is absent or already has a file";
            }

            seen[f.SpanIndex] = true;
            var span = m.Spans[(int)f.SpanIndex];
            if (f.ColumnFamily != span.ColumnFamily || f.LowerKey != span.LowerKey || f.UpperKey != span.UpperKey)
            {
                return $"file {i} ({f.Name}) claims {f.ColumnFamily} [{RangeBounds.Describe(f.LowerKey)}, {RangeBounds.Describe(f.UpperKey)}) but its span {f.SpanIndex} is {span.ColumnFamily} [{RangeBounds.Describe(span.LowerKey)}, {RangeBounds.Describe(span.UpperKey)})";
            }

            if (f.SizeBytes is 0 or > long.MaxValue / 2)
            {
                return $"file {i} ({f.Name}) has an impossible size of {f.SizeBytes} bytes";
            }
        }

        spans = result;
        return null;
    }

    /// <summary>Null if staged file <paramref name="i"/> matches the manifest's size and CRC, else what is wrong.</summary>
    private string? VerifyFile(int i)
    {
        var expected = _manifest!.Files[i];
        var path = StagedPath(i);
        if (!File.Exists(path))
        {
            return $"file {i} ({expected.Name}) is missing from {_directory}";
        }

        var (length, crc) = SnapshotFiles.Checksum(path);
        if ((ulong)length != expected.SizeBytes)
        {
            return $"file {i} ({expected.Name}) has {length} bytes, the manifest says {expected.SizeBytes}";
        }

        return crc != expected.Crc32C ? $"file {i} ({expected.Name}) has CRC-32C {crc:x8}, the manifest says {expected.Crc32C:x8}" : null;
    }

    /// <summary>Writes a deletion of every key the engine holds in <paramref name="cf"/>'s spans; false (no file) if there is none.</summary>
    private bool WriteTombstones(Engine engine, ColumnFamily cf, string path)
    {
        SstFileWriter? writer = null;
        try
        {
            // Spans of one family are disjoint; in ascending order their keys are ascending, as the SST needs.
            foreach (var span in _spans.Where(s => s.ColumnFamily == cf).OrderBy(s => s.Lower.ToArray(), ByteArrayComparer.Instance))
            {
                using var it = engine.NewIterator(cf, span.Lower.Span, span.Upper.Span, fillCache: false);
                for (var ok = it.SeekToFirst(); ok; ok = it.Next())
                {
                    writer ??= engine.NewSstFileWriter(cf, path);
                    writer.Delete(it.Key);
                }
            }

            if (writer is null)
            {
                return false;
            }

            writer.Finish();
            return true;
        }
        finally
        {
            writer?.Dispose();
        }
    }

    /// <summary>Sets the resume point from the staged files' lengths (step 4).</summary>
    private void RecoverResumePoint()
    {
        var files = _manifest!.Files;
        _fileIndex = files.Count;
        _offset = 0;
        for (var i = 0; i < files.Count; i++)
        {
            var path = StagedPath(i);
            var length = File.Exists(path) ? new FileInfo(path).Length : 0;
            if ((ulong)length > files[i].SizeBytes)
            {
                File.Delete(path); // longer than the manifest allows: not ours to trust
                length = 0;
            }

            if ((ulong)length < files[i].SizeBytes)
            {
                _fileIndex = i;
                _offset = length;
                DeleteStagedFiles(i + 1); // nothing after the resume point can be valid
                return;
            }
        }
    }

    private void DeleteStagedFiles(int from)
    {
        foreach (var f in System.IO.Directory.EnumerateFiles(_directory, "file-*.sst"))
        {
            if (int.TryParse(Path.GetFileNameWithoutExtension(f).AsSpan(5), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var i) && i >= from)
            {
                File.Delete(f);
            }
        }
    }

    private string StagedPath(int i) => Path.Combine(_directory, $"file-{i:D6}.sst");

    private string Describe(uint fileIndex) =>
        _manifest is not null && fileIndex < (uint)_manifest.Files.Count ? _manifest.Files[(int)fileIndex].Name : "no such file";

    private sealed class ByteArrayComparer : IComparer<byte[]>
    {
        public static readonly ByteArrayComparer Instance = new();

        public int Compare(byte[]? x, byte[]? y) => x.AsSpan().SequenceCompareTo(y);
    }
}

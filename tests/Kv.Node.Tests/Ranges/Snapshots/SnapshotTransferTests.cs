using Google.Protobuf;
using Kv.Node.Ranges;
using Kv.Node.Ranges.Snapshots;
using Kv.Node.Storage;
using Kv.Node.Tests.TestSupport;
using Kv.Proto.V1;
using static Kv.Node.Tests.Storage.Bytes;

namespace Kv.Node.Tests.Ranges.Snapshots;

/// <summary>
/// Replica snapshots end to end on real RocksDB: build on engine A, chunk, receive into a staging
/// directory, ingest into engine B, compare B with what A's snapshot saw.
/// </summary>
public sealed class SnapshotTransferTests : IDisposable
{
    private const ulong Term = 7;
    private const ulong Index = 42;

    private static readonly RangeDescriptor Range = new()
    {
        RangeId = 3,
        StartKey = ByteString.CopyFromUtf8("b"),
        EndKey = ByteString.CopyFromUtf8("m"),
        Epoch = new RangeEpoch { ConfVer = 1, Version = 2 },
    };

    private readonly TempDirectory _dir = new();
    private readonly Engine _a;
    private readonly Engine _b;

    public SnapshotTransferTests()
    {
        _a = Engine.Open(_dir.Sub("a"));
        _b = Engine.Open(_dir.Sub("b"));
    }

    public void Dispose()
    {
        _a.Dispose();
        _b.Dispose();
        _dir.Dispose();
    }

    private static KeySpan[] Spans(RangeDescriptor d) => [KeySpan.RawData(d)];

    private static void PutUser(Engine e, string key, string value) => e.Put(ColumnFamily.Default, Keys.Data(Of(key)), Of(value));

    /// <summary>Every default-CF entry as "key=value" (the 'z' prefix dropped for data keys).</summary>
    private static List<string> Dump(Engine e, ReadOnlySpan<byte> lower = default, ReadOnlySpan<byte> upper = default, EngineSnapshot? snapshot = null, ColumnFamily cf = ColumnFamily.Default)
    {
        var result = new List<string>();
        using var it = e.NewIterator(cf, lower, upper, snapshot);
        for (var ok = it.SeekToFirst(); ok; ok = it.Next())
        {
            result.Add($"{Str(it.Key)}={Str(it.Value)}");
        }

        return result;
    }

    private static List<string> DumpRange(Engine e, EngineSnapshot? snapshot = null)
    {
        var span = KeySpan.RawData(Range);
        return Dump(e, span.Lower.Span, span.Upper.Span, snapshot);
    }

    /// <summary>A with 200 keys in the range and some outside; B with stale data in and around the range.</summary>
    private void Seed()
    {
        for (var i = 0; i < 200; i++)
        {
            PutUser(_a, $"c{i:D4}", $"a-value-{i}-" + new string('x', i % 50));
        }

        PutUser(_a, "a-outside", "a");
        PutUser(_a, "m", "a-at-end-key"); // the end key is outside [b, m)
        PutUser(_a, "b", "a-at-start-key");

        PutUser(_b, "c0001", "stale-same-key");
        PutUser(_b, "d-only-in-b", "stale-extra");
        PutUser(_b, "b", "stale-start");
        PutUser(_b, "a-outside-b", "keep-me");
        PutUser(_b, "m", "keep-me-too");
        _b.Put(ColumnFamily.Meta, Of("meta-key"), Of("keep"));
        _b.Flush(); // some of B's stale data in SST files, some in the memtable below
        PutUser(_b, "k-memtable-stale", "stale-in-memtable");
    }

    private static void Receive(SnapshotReceiver receiver, IEnumerable<SnapshotChunk> chunks)
    {
        foreach (var chunk in chunks)
        {
            receiver.Accept(chunk);
        }
    }

    [Fact]
    public void Built_snapshot_ingested_on_another_store_equals_the_snapshots_view_of_the_range()
    {
        Seed();
        var outsideBefore = Dump(_b).Where(kv => !kv.StartsWith("zc", StringComparison.Ordinal) && !kv.StartsWith("zd", StringComparison.Ordinal) && !kv.StartsWith("zb=", StringComparison.Ordinal) && !kv.StartsWith("zk", StringComparison.Ordinal)).ToList();
        using var snapshot = _a.GetSnapshot();
        var expected = DumpRange(_a, snapshot);

        // Writes after the snapshot must not travel.
        PutUser(_a, "c0000", "written-after-snapshot");
        PutUser(_a, "e-new-after", "new");
        _a.Delete(ColumnFamily.Default, Keys.Data(Of("c0005")));

        var manifest = RangeSnapshotBuilder.Build(_a, snapshot, Range, Term, Index, Spans(Range), _dir.Sub("out"));
        Assert.Equal(3ul, manifest.RangeId);
        Assert.Equal((Term, Index), (manifest.Term, manifest.Index));
        Assert.Equal(Range, manifest.RangeDescriptor);
        var file = Assert.Single(manifest.Files);
        Assert.Equal(201ul, file.KeyCount); // c0000..c0199 and b
        Assert.Equal("default", file.ColumnFamily);
        Assert.Equal(Keys.Data(Of("b")), file.LowerKey.ToByteArray());
        Assert.Equal(Keys.Data(Of("m")), file.UpperKey.ToByteArray());
        Assert.Equal((ulong)new FileInfo(Path.Combine(_dir.Sub("out"), file.Name)).Length, file.SizeBytes);

        var receiver = SnapshotReceiver.Open(_dir.Sub("staging"));
        receiver.Begin(manifest);
        var chunks = SnapshotChunkReader.Read(_dir.Sub("out"), manifest, chunkBytes: 512).ToList();
        Assert.True(chunks.Count > 3, "the test needs several chunks");
        Receive(receiver, chunks);
        Assert.True(receiver.IsComplete);
        receiver.Ingest(_b, Spans(Range));

        Assert.Equal(expected, DumpRange(_b));
        Assert.Contains("zc0000=a-value-0-", DumpRange(_b));
        Assert.DoesNotContain(DumpRange(_b), kv => kv.Contains("stale", StringComparison.Ordinal));
        var outsideAfter = Dump(_b).Where(kv => !kv.StartsWith("zc", StringComparison.Ordinal) && !kv.StartsWith("zd", StringComparison.Ordinal) && !kv.StartsWith("zb=", StringComparison.Ordinal) && !kv.StartsWith("zk", StringComparison.Ordinal)).ToList();
        Assert.Equal(outsideBefore, outsideAfter);
        Assert.Equal(["za-outside-b=keep-me", "zm=keep-me-too"], outsideAfter);
        Assert.Equal("keep", Str(_b.Get(ColumnFamily.Meta, Of("meta-key"))));
    }

    [Fact]
    public void A_chunk_with_a_flipped_byte_is_refused_and_its_good_retransmission_accepted()
    {
        Seed();
        using var snapshot = _a.GetSnapshot();
        var manifest = RangeSnapshotBuilder.Build(_a, snapshot, Range, Term, Index, Spans(Range), _dir.Sub("out"));
        var receiver = SnapshotReceiver.Open(_dir.Sub("staging"));
        receiver.Begin(manifest);
        var chunks = SnapshotChunkReader.Read(_dir.Sub("out"), manifest, chunkBytes: 1000).ToList();
        receiver.Accept(chunks[0]);
        var stagedLength = new FileInfo(Directory.GetFiles(_dir.Sub("staging"), "file-*.sst").Single()).Length;

        var bad = chunks[1].Clone();
        var bytes = bad.Data.ToByteArray();
        bytes[17] ^= 0x01;
        bad.Data = ByteString.CopyFrom(bytes);
        var e = Assert.Throws<InvalidSnapshotException>(() => receiver.Accept(bad));
        Assert.Contains("file 0", e.Message, StringComparison.Ordinal);
        Assert.Contains("offset 1000", e.Message, StringComparison.Ordinal);
        Assert.Contains("checksum", e.Message, StringComparison.Ordinal);
        Assert.Equal((0u, 1000ul), (receiver.ResumePoint.FileIndex, receiver.ResumePoint.Offset));
        Assert.Equal(stagedLength, new FileInfo(Directory.GetFiles(_dir.Sub("staging"), "file-*.sst").Single()).Length);

        Receive(receiver, chunks.Skip(1));
        receiver.Ingest(_b, Spans(Range));
        Assert.Equal(DumpRange(_a, snapshot), DumpRange(_b));
    }

    [Fact]
    public void A_broken_transfer_resumes_at_the_restarted_receivers_resume_point()
    {
        Seed();
        using var snapshot = _a.GetSnapshot();
        var spans = new[] { KeySpan.RawData(Range), new KeySpan(ColumnFamily.Write, Keys.Data(Of("b")), Keys.Data(Of("m"))) };
        _a.Put(ColumnFamily.Write, Keys.Data(Of("c-write")), Of("w")); // after the snapshot: not included
        using var snapshot2 = _a.GetSnapshot();
        var manifest = RangeSnapshotBuilder.Build(_a, snapshot2, Range, Term, Index, spans, _dir.Sub("out"));
        Assert.Equal(2, manifest.Files.Count);
        var chunks = SnapshotChunkReader.Read(_dir.Sub("out"), manifest, chunkBytes: 700).ToList();

        // 1. Receive about half, then the connection breaks and the receiving process restarts.
        var first = SnapshotReceiver.Open(_dir.Sub("staging"));
        first.Begin(manifest);
        Receive(first, chunks.Take(chunks.Count / 2));
        var expectedResume = first.ResumePoint;

        // 2. A new receiver over the same staging directory knows where to continue.
        var second = SnapshotReceiver.Open(_dir.Sub("staging"));
        Assert.Equal(manifest, second.Manifest);
        Assert.Equal(expectedResume, second.ResumePoint);
        Assert.False(second.IsComplete);
        second.Begin(manifest); // the sender re-offers the same manifest on reconnect: kept

        // 3. The sender resumes from that point; nothing is sent twice.
        var rest = SnapshotChunkReader.Read(_dir.Sub("out"), manifest, second.ResumePoint, chunkBytes: 700).ToList();
        Assert.Equal(chunks.Count - (chunks.Count / 2), rest.Count);
        Receive(second, rest);
        Assert.True(second.IsComplete);

        // 4. A third open after completion is complete too, and ingests.
        var third = SnapshotReceiver.Open(_dir.Sub("staging"));
        Assert.True(third.IsComplete);
        _b.Put(ColumnFamily.Write, Keys.Data(Of("d-stale-write")), Of("stale"));
        third.Ingest(_b, spans);
        Assert.Equal(DumpRange(_a, snapshot2), DumpRange(_b));
        Assert.Equal(["zc-write=w"], Dump(_b, cf: ColumnFamily.Write));

        // 5. Ingest is idempotent (the redo after a crash between families).
        third.Ingest(_b, spans);
        Assert.Equal(DumpRange(_a, snapshot2), DumpRange(_b));
        Assert.Equal(["zc-write=w"], Dump(_b, cf: ColumnFamily.Write));
        third.Reset();
        Assert.Empty(Directory.EnumerateFileSystemEntries(_dir.Sub("staging")));
    }

    [Fact]
    public void An_empty_range_has_no_files_and_its_ingest_clears_the_span()
    {
        Seed();
        var empty = new RangeDescriptor { RangeId = 9, StartKey = ByteString.CopyFromUtf8("d"), EndKey = ByteString.CopyFromUtf8("e") };
        using var snapshot = _a.GetSnapshot();
        var manifest = RangeSnapshotBuilder.Build(_a, snapshot, empty, Term, Index, Spans(empty), _dir.Sub("out"));
        Assert.Empty(manifest.Files);
        Assert.Single(manifest.Spans);
        Assert.Empty(Directory.EnumerateFiles(_dir.Sub("out")));
        Assert.Empty(SnapshotChunkReader.Read(_dir.Sub("out"), manifest));

        var receiver = SnapshotReceiver.Open(_dir.Sub("staging"));
        receiver.Begin(manifest);
        Assert.True(receiver.IsComplete);
        var before = Dump(_b);
        receiver.Ingest(_b, Spans(empty));
        Assert.Equal(before.Where(kv => kv != "zd-only-in-b=stale-extra"), Dump(_b));
    }

    [Fact]
    public void A_range_without_end_key_covers_every_user_key_from_its_start()
    {
        Seed();
        var last = new RangeDescriptor { RangeId = 4, StartKey = ByteString.CopyFromUtf8("c0100") };
        using var snapshot = _a.GetSnapshot();
        var manifest = RangeSnapshotBuilder.Build(_a, snapshot, last, Term, Index, Spans(last), _dir.Sub("out"));
        var receiver = SnapshotReceiver.Open(_dir.Sub("staging"));
        receiver.Begin(manifest);
        Receive(receiver, SnapshotChunkReader.Read(_dir.Sub("out"), manifest));
        receiver.Ingest(_b, Spans(last));
        Assert.Equal(101ul, manifest.Files[0].KeyCount); // c0100..c0199 and m
        Assert.Equal(Dump(_a, Keys.Data(Of("c0100")), Keys.DataEnd, snapshot), Dump(_b, Keys.Data(Of("c0100")), Keys.DataEnd));
        Assert.Contains("zb=stale-start", Dump(_b)); // before the range: untouched
    }

    [Fact]
    public void Refusals_name_the_problem_and_change_nothing()
    {
        Seed();
        using var snapshot = _a.GetSnapshot();
        var manifest = RangeSnapshotBuilder.Build(_a, snapshot, Range, Term, Index, Spans(Range), _dir.Sub("out"));
        var chunks = SnapshotChunkReader.Read(_dir.Sub("out"), manifest, chunkBytes: 1000).ToList();
        var receiver = SnapshotReceiver.Open(_dir.Sub("staging"));

        Assert.Contains("before its manifest", Assert.Throws<InvalidSnapshotException>(() => receiver.Accept(chunks[0])).Message, StringComparison.Ordinal);
        var noDescriptor = manifest.Clone();
        noDescriptor.RangeDescriptor = null;
        Assert.Contains("descriptor", Assert.Throws<InvalidSnapshotException>(() => receiver.Begin(noDescriptor)).Message, StringComparison.Ordinal);
        var badSpan = manifest.Clone();
        badSpan.Spans[0].ColumnFamily = "nope";
        Assert.Contains("unknown column family 'nope'", Assert.Throws<InvalidSnapshotException>(() => receiver.Begin(badSpan)).Message, StringComparison.Ordinal);
        var mislabelled = manifest.Clone();
        mislabelled.Files[0].UpperKey = ByteString.CopyFromUtf8("zz");
        Assert.Contains("but its span 0 is", Assert.Throws<InvalidSnapshotException>(() => receiver.Begin(mislabelled)).Message, StringComparison.Ordinal);
        Assert.Null(receiver.Manifest);
        Assert.Empty(Directory.EnumerateFileSystemEntries(_dir.Sub("staging")));

        receiver.Begin(manifest);
        receiver.Accept(chunks[0]);
        var other = manifest.Clone();
        other.Index = Index + 1;
        Assert.Contains("Reset", Assert.Throws<InvalidSnapshotException>(() => receiver.Begin(other)).Message, StringComparison.Ordinal);
        Assert.Contains("Resume from file 0 offset 1000", Assert.Throws<InvalidSnapshotException>(() => receiver.Accept(chunks[2])).Message, StringComparison.Ordinal);
        Assert.Contains("out of order", Assert.Throws<InvalidSnapshotException>(() => receiver.Accept(chunks[0])).Message, StringComparison.Ordinal);
        var foreign = chunks[1].Clone();
        foreign.Term = Term + 1;
        Assert.Contains("term 8", Assert.Throws<InvalidSnapshotException>(() => receiver.Accept(foreign)).Message, StringComparison.Ordinal);
        var empty = chunks[1].Clone();
        empty.Data = ByteString.Empty;
        empty.Crc32C = 0;
        Assert.Contains("0 bytes", Assert.Throws<InvalidSnapshotException>(() => receiver.Accept(empty)).Message, StringComparison.Ordinal);
        Assert.Contains("incomplete", Assert.Throws<InvalidSnapshotException>(() => receiver.Ingest(_b, Spans(Range))).Message, StringComparison.Ordinal);
        Assert.Equal((0u, 1000ul), (receiver.ResumePoint.FileIndex, receiver.ResumePoint.Offset));

        Receive(receiver, chunks.Skip(1));
        var before = Dump(_b);
        var otherRange = new RangeDescriptor { RangeId = 3, StartKey = ByteString.CopyFromUtf8("b"), EndKey = ByteString.CopyFromUtf8("n") };
        Assert.Contains("another descriptor", Assert.Throws<InvalidSnapshotException>(() => receiver.Ingest(_b, Spans(otherRange))).Message, StringComparison.Ordinal);
        Assert.Equal(before, Dump(_b));
        receiver.Ingest(_b, Spans(Range));
        Assert.Equal(DumpRange(_a, snapshot), DumpRange(_b));
    }

    [Fact]
    public void A_completed_file_that_does_not_match_the_manifest_is_discarded_and_resent()
    {
        Seed();
        using var snapshot = _a.GetSnapshot();
        var manifest = RangeSnapshotBuilder.Build(_a, snapshot, Range, Term, Index, Spans(Range), _dir.Sub("out"));
        var lying = manifest.Clone();
        lying.Files[0].Crc32C ^= 1; // every chunk is intact, the file as a whole is not what was promised
        var receiver = SnapshotReceiver.Open(_dir.Sub("staging"));
        receiver.Begin(lying);
        var chunks = SnapshotChunkReader.Read(_dir.Sub("out"), lying, chunkBytes: 4096).ToList();
        Receive(receiver, chunks.SkipLast(1));
        var e = Assert.Throws<InvalidSnapshotException>(() => receiver.Accept(chunks[^1]));
        Assert.Contains("file 0", e.Message, StringComparison.Ordinal);
        Assert.Contains("Resend file 0 from offset 0", e.Message, StringComparison.Ordinal);
        Assert.Equal((0u, 0ul), (receiver.ResumePoint.FileIndex, receiver.ResumePoint.Offset));
        Assert.False(receiver.IsComplete);
        Assert.Empty(Directory.GetFiles(_dir.Sub("staging"), "file-*.sst"));
    }

    [Fact]
    public void A_staged_file_damaged_after_completion_is_caught_before_ingest()
    {
        Seed();
        using var snapshot = _a.GetSnapshot();
        var manifest = RangeSnapshotBuilder.Build(_a, snapshot, Range, Term, Index, Spans(Range), _dir.Sub("out"));
        var receiver = SnapshotReceiver.Open(_dir.Sub("staging"));
        receiver.Begin(manifest);
        Receive(receiver, SnapshotChunkReader.Read(_dir.Sub("out"), manifest));
        var staged = Directory.GetFiles(_dir.Sub("staging"), "file-*.sst").Single();
        var bytes = File.ReadAllBytes(staged);
        bytes[bytes.Length / 2] ^= 0x40;
        File.WriteAllBytes(staged, bytes);

        var before = Dump(_b);
        var e = Assert.Throws<InvalidSnapshotException>(() => receiver.Ingest(_b, Spans(Range)));
        Assert.Contains("CRC-32C", e.Message, StringComparison.Ordinal);
        Assert.Equal(before, Dump(_b));
        Assert.Equal((0u, 0ul), (receiver.ResumePoint.FileIndex, receiver.ResumePoint.Offset));
    }
}

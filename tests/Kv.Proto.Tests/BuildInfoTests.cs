using Google.Protobuf;
using Kv.Proto.V1;

namespace Kv.Proto.Tests;

public class BuildInfoTests
{
    [Fact]
    public void Round_trips_through_the_wire_format()
    {
        var info = new BuildInfo { Version = "1.2.3", Framework = ".NET 10", Rocksdb = "7.8.3" };
        var parsed = BuildInfo.Parser.ParseFrom(info.ToByteArray());
        Assert.Equal(info, parsed);
    }

    [Fact]
    public void Unknown_fields_from_a_newer_peer_are_kept()
    {
        // A newer peer may add fields; an older one must carry them through, not drop them.
        var bytes = new BuildInfo { Version = "1" }.ToByteArray().Concat(new byte[] { 0xA0, 0x06, 0x2A }).ToArray(); // field 100, varint 42
        var parsed = BuildInfo.Parser.ParseFrom(bytes);
        Assert.Equal("1", parsed.Version);
        Assert.Equal(bytes, parsed.ToByteArray());
    }
}

using Google.Protobuf;
using Kv.Client;
using Kv.Node.Mvcc;
using Kv.Node.Raft;
using Kv.Node.Ranges;
using Kv.Node.Storage;
using Kv.Node.Tests.TestSupport;
using Kv.Proto.V1;

namespace Kv.Node.Tests.Ranges;

/// <summary>RangeCommand.txn_write at apply: written exactly as given, or refused with nothing in the batch.</summary>
public sealed class TxnWriteApplyTests : IDisposable
{
    private readonly TempDirectory dir = new();
    private readonly Engine engine;

    public TxnWriteApplyTests() => engine = Engine.Open(dir.Sub("db"));

    public void Dispose()
    {
        engine.Dispose();
        dir.Dispose();
    }

    private static RangeDescriptor Range() => new()
    {
        RangeId = 1,
        StartKey = ByteString.CopyFromUtf8("b"),
        EndKey = ByteString.CopyFromUtf8("y"),
        Epoch = new RangeEpoch { ConfVer = 3, Version = 7 },
        Replicas = { new ReplicaDescriptor { ReplicaId = 11, StoreId = 1 } },
    };

    private static RangeCommand Command(string userKey, string cf = "lock", byte[]? engineKey = null)
    {
        var key = ByteString.CopyFromUtf8(userKey);
        return new RangeCommand
        {
            ProposalId = 5,
            Epoch = new RangeEpoch { ConfVer = 3, Version = 7 },
            TxnWrite = new TxnWriteCommand
            {
                UserKeys = { key },
                Writes =
                {
                    new EngineWrite { ColumnFamily = cf, Key = ByteString.CopyFrom(engineKey ?? TxnKeys.LockKey(key.Span)), Value = ByteString.CopyFromUtf8("v") },
                    new EngineWrite { ColumnFamily = "write", Key = ByteString.CopyFrom(TxnKeys.WriteKey(key.Span, new Timestamp(9))), Delete = true },
                },
            },
        };
    }

    private (object? Result, int Count) Apply(RangeCommand command)
    {
        var replica = new RangeReplica(Range(), 11);
        using var batch = engine.NewWriteBatch();
        var (proposal, result) = replica.Apply(new Entry(1, 6, EntryType.Normal, command.ToByteArray()), batch);
        Assert.Equal(5ul, proposal);
        var count = batch.Count;
        engine.Write(batch);
        return (result, count);
    }

    [Fact]
    public void A_valid_txn_write_is_written_exactly()
    {
        var (result, count) = Apply(Command("m"));
        Assert.Null(result);
        Assert.Equal(2, count);
        Assert.Equal("v"u8.ToArray(), engine.Get(ColumnFamily.Lock, TxnKeys.LockKey("m"u8)));
    }

    [Theory]
    [InlineData("outside", "not in range")]
    [InlineData("stale-epoch", "refresh the route")]
    [InlineData("raft-cf", "only default, lock and write")]
    [InlineData("raw-key", "not a transactional")]
    public void A_refused_txn_write_writes_nothing(string input, string why)
    {
        var command = input switch
        {
            "outside" => Command("z"),
            "raft-cf" => Command("m", cf: "raft"),
            "raw-key" => Command("m", engineKey: "zm"u8.ToArray()),
            _ => Command("m"),
        };
        if (input == "stale-epoch")
        {
            command.Epoch = new RangeEpoch { ConfVer = 3, Version = 6 };
        }

        var (result, count) = Apply(command);
        var error = Assert.IsType<RangeError>(result);
        Assert.Contains(why, error.Message, StringComparison.Ordinal);
        Assert.Equal(0, count);
    }
}

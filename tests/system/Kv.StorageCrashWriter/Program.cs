using System.Globalization;
using Kv.Node.Storage;
using Kv.StorageCrashWriter;

// usage: Kv.StorageCrashWriter DIR START
// Prints "open" once the engine is open, then "ack N" after write N returned, forever.
if (args.Length != 2 || !long.TryParse(args[1], NumberStyles.None, CultureInfo.InvariantCulture, out var start))
{
    Console.Error.WriteLine("usage: Kv.StorageCrashWriter DIR START");
    return 2;
}

using var engine = Engine.Open(args[0]);
using var batch = engine.NewWriteBatch();
var stdout = Console.Out;
stdout.WriteLine("open");
for (var i = start; ; i++)
{
    CrashWorkload.Write(engine, batch, i);
    stdout.WriteLine($"ack {i}"); // Console.Out flushes every write: the line leaves only after the write is durable
}

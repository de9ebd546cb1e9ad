using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Kv.Workload;

/// <summary>One history line. An operation is an invoke line followed by one completion line
/// (ok | fail | info) of the same process; info = outcome unknown. Times are microseconds since
/// the Unix epoch (wall clock, comparable across processes on one machine).</summary>
public sealed record HistoryOp(
    string Process, string Type, string F, JsonNode? Value, long Time, ulong? StartTs = null, ulong? CommitTs = null, string? Error = null);

/// <summary>An invoke paired with its completion (null while unfinished: treated as info).</summary>
public sealed record Operation(int Index, HistoryOp Invoke, HistoryOp? Completion)
{
    public string Process => Invoke.Process;

    /// <summary>ok, fail, or info (also for an invoke that never completed).</summary>
    public string Type => Completion?.Type ?? "info";

    public string F => Invoke.F;

    /// <summary>The completion's value when it has one (reads), else the invoke's.</summary>
    public JsonNode? Value => Completion?.Value ?? Invoke.Value;

    public long Start => Invoke.Time;

    public long End => Completion?.Time ?? long.MaxValue;

    public override string ToString() =>
        $"#{Index} {Process} {Type} {F} {Value?.ToJsonString() ?? "null"} [{Start}..{(Completion is null ? "?" : End)}]"
        + (Completion?.StartTs is { } s ? $" start_ts={s}" : "") + (Completion?.CommitTs is { } c ? $" commit_ts={c}" : "")
        + (Completion?.Error is { } e ? $" error={e}" : "");
}

/// <summary>Appends history lines to a file (thread-safe, flushed per line so a killed process
/// leaves a readable history).</summary>
public sealed class HistoryWriter : IDisposable
{
    private readonly Lock _lock = new();
    private readonly TextWriter _out;

    public HistoryWriter(TextWriter output)
    {
        _out = output;
    }

    public static HistoryWriter Create(string path) =>
        new(new StreamWriter(path, append: false, new UTF8Encoding(false)) { AutoFlush = true });

    public static long Now() => (DateTime.UtcNow.Ticks - DateTime.UnixEpoch.Ticks) / 10;

    public void Write(HistoryOp op)
    {
        var obj = new JsonObject
        {
            ["process"] = op.Process,
            ["type"] = op.Type,
            ["f"] = op.F,
            ["value"] = op.Value?.DeepClone(),
            ["time"] = op.Time,
        };
        if (op.StartTs is { } s)
        {
            obj["start_ts"] = s;
        }
        if (op.CommitTs is { } c)
        {
            obj["commit_ts"] = c;
        }
        if (op.Error is { } e)
        {
            obj["error"] = e;
        }
        var line = obj.ToJsonString();
        lock (_lock)
        {
            _out.WriteLine(line);
        }
    }

    public void Dispose() => _out.Dispose();
}

public static class HistoryReader
{
    private static readonly HashSet<string> Types = ["invoke", "ok", "fail", "info"];

    /// <summary>Parses JSON lines; a malformed line is refused with its file and line number.
    /// A truncated last line (process killed mid-write) is ignored.</summary>
    public static List<HistoryOp> Parse(TextReader reader, string source)
    {
        var ops = new List<HistoryOp>();
        var lines = new List<string>();
        while (reader.ReadLine() is { } l)
        {
            lines.Add(l);
        }
        for (var i = 0; i < lines.Count; i++)
        {
            if (string.IsNullOrWhiteSpace(lines[i]))
            {
                continue;
            }
            try
            {
                var o = JsonNode.Parse(lines[i])!.AsObject();
                var type = (string?)o["type"] ?? throw new FormatException("missing \"type\"");
                if (!Types.Contains(type))
                {
                    throw new FormatException($"type \"{type}\" is not one of invoke, ok, fail, info");
                }
                ops.Add(new HistoryOp(
                    (string?)o["process"] ?? throw new FormatException("missing \"process\""),
                    type,
                    (string?)o["f"] ?? throw new FormatException("missing \"f\""),
                    o["value"]?.DeepClone(),
                    (long?)o["time"] ?? 0,
                    (ulong?)o["start_ts"],
                    (ulong?)o["commit_ts"],
                    (string?)o["error"]));
            }
            catch (Exception ex) when (ex is JsonException or FormatException or InvalidOperationException)
            {
                if (i == lines.Count - 1)
                {
                    break; // torn last line of a killed writer
                }
                throw new FormatException($"{source}:{i + 1}: not a history line ({ex.Message}); each line must be a JSON object with process, type, f, value, time", ex);
            }
        }
        return ops;
    }

    /// <summary>Reads and merges several files and pairs each invoke with the next completion of the
    /// same process. Process names must be unique across files.</summary>
    public static List<Operation> Load(IEnumerable<string> paths)
    {
        var all = new List<HistoryOp>();
        foreach (var path in paths)
        {
            using var r = new StreamReader(path);
            all.AddRange(Parse(r, path));
        }
        return Pair(all);
    }

    public static List<Operation> Pair(IEnumerable<HistoryOp> ops)
    {
        var result = new List<Operation>();
        var open = new Dictionary<string, HistoryOp>(StringComparer.Ordinal);
        var pending = new List<(HistoryOp Invoke, HistoryOp? Completion)>();
        var slot = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var op in ops)
        {
            if (op.Type == "invoke")
            {
                if (open.ContainsKey(op.Process))
                {
                    throw new FormatException($"process {op.Process} invoked a second operation before the first completed; each process runs one operation at a time");
                }
                open[op.Process] = op;
                slot[op.Process] = pending.Count;
                pending.Add((op, null));
            }
            else
            {
                if (!open.Remove(op.Process, out var invoke))
                {
                    throw new FormatException($"process {op.Process} completed an operation ({op.Type} {op.F}) it never invoked");
                }
                pending[slot[op.Process]] = (invoke, op);
            }
        }
        // Values built in memory (ints, longs...) are re-parsed so checkers read every number alike.
        static HistoryOp? Normalize(HistoryOp? op) =>
            op?.Value is null ? op : op with { Value = JsonNode.Parse(op.Value.ToJsonString()) };
        foreach (var (invoke, completion) in pending.OrderBy(p => p.Invoke.Time))
        {
            result.Add(new Operation(result.Count, Normalize(invoke)!, Normalize(completion)));
        }
        return result;
    }
}

/// <summary>A checker's verdict: violations make it fail; notes are informational.</summary>
public sealed class CheckResult
{
    public List<string> Violations { get; } = [];

    public List<string> Notes { get; } = [];

    public Dictionary<string, long> Counts { get; } = new(StringComparer.Ordinal);

    public bool Valid => Violations.Count == 0;

    public void Count(string what, long n = 1) => Counts[what] = Counts.GetValueOrDefault(what) + n;

    public bool HasViolation(string kind) => Violations.Any(v => v.StartsWith(kind + ":", StringComparison.Ordinal));

    public void Print(TextWriter output)
    {
        output.WriteLine(string.Join(", ", Counts.OrderBy(c => c.Key, StringComparer.Ordinal).Select(c => $"{c.Key}={c.Value}")));
        foreach (var n in Notes)
        {
            output.WriteLine("note: " + n);
        }
        foreach (var v in Violations)
        {
            output.WriteLine("VIOLATION " + v);
        }
        output.WriteLine(Valid ? "valid: no violations" : $"INVALID: {Violations.Count} violation(s)");
    }
}

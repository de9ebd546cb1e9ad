using System.Buffers.Binary;
using System.Collections.Immutable;
using System.Text;
using Google.Protobuf;
using Kv.Proto.V1;

namespace Kv.Node.Placement.Operations;

/// <summary>
/// How <see cref="OperationsState"/> is kept in the Meta column family, under placement's key
/// scheme ('p' + kind byte + id; see <see cref="PlacementState"/>). Values start with the version
/// byte (1), then the protobuf message.
///   kind 0x04                          ClusterSettingsRecord (absent: the defaults)
///   kind 0x11 + store id (8 bytes BE)  StoreAdminRecord (absent: ACTIVE, no maintenance)
///   kind 0x30 + len + operation id     OperationRecord without its plan (the header)
///   kind 0x31 + len + operation id     Plan without its steps (preflight, notes)
///   kind 0x32 + len + operation id + step index (4 bytes BE)   one PlanStep
///   kind 0x40 + seq (8 bytes BE)       AuditEntry; the newest 10,000 are kept
///   kind 0x50 + range id (8 bytes BE)  SplitRecord of an automatic split's right half; the newest 1,000 are kept
/// len is one byte, the id's length (ids are 1 to 128 ASCII characters), so no id's keys are a
/// prefix of another's and a plan's steps sort in order.
///
/// Steps are records of their own: an update writes the header (bounded: spec, progress, at most
/// 100 stuck ranges) and only the steps it changed, so a drain of a store with n ranges writes
/// O(n) bytes over its life, not O(n^2). A replan rewrites the plan head and the replaced tail.
/// </summary>
internal static class OperationsRecords
{
    internal const byte KindSettings = 0x04;
    internal const byte KindStoreAdmin = 0x11;
    internal const byte KindOperation = 0x30;
    internal const byte KindPlanHead = 0x31;
    internal const byte KindPlanStep = 0x32;
    internal const byte KindAudit = 0x40;
    internal const byte KindSplit = 0x50;
    private const byte RecordVersion = 1;

    internal static byte[] SettingsKey() => PlacementState.Key(KindSettings);

    internal static byte[] StoreAdminKey(ulong storeId) => PlacementState.Key(KindStoreAdmin, storeId);

    internal static byte[] AuditKey(ulong seq) => PlacementState.Key(KindAudit, seq);

    internal static byte[] SplitKey(ulong rightRangeId) => PlacementState.Key(KindSplit, rightRangeId);

    internal static byte[] OperationKey(byte kind, string id)
    {
        var key = new byte[3 + id.Length];
        WriteIdPrefix(key, kind, id);
        return key;
    }

    internal static byte[] StepKey(string id, uint index)
    {
        var key = new byte[3 + id.Length + 4];
        WriteIdPrefix(key, KindPlanStep, id);
        BinaryPrimitives.WriteUInt32BigEndian(key.AsSpan(3 + id.Length), index);
        return key;
    }

    internal static byte[] Encode(IMessage message)
    {
        var value = new byte[1 + message.CalculateSize()];
        value[0] = RecordVersion;
        message.WriteTo(value.AsSpan(1));
        return value;
    }

    private static void WriteIdPrefix(byte[] key, byte kind, string id)
    {
        key[0] = PlacementState.Prefix;
        key[1] = kind;
        key[2] = checked((byte)id.Length);
        Encoding.ASCII.GetBytes(id, key.AsSpan(3));
    }

    /// <summary>
    /// Collects the records of <see cref="OperationsState"/> during <see cref="PlacementState.Load"/>,
    /// then checks they fit together (every plan head and step has its operation, steps are
    /// contiguous from 0, audit seqs increase) and builds the state.
    /// </summary>
    internal sealed class Loader
    {
        private readonly SortedDictionary<string, OperationRecord> _headers = new(StringComparer.Ordinal);
        private readonly Dictionary<string, Plan> _planHeads = new(StringComparer.Ordinal);
        private readonly Dictionary<string, SortedDictionary<uint, PlanStep>> _steps = new(StringComparer.Ordinal);
        private readonly ImmutableSortedDictionary<ulong, StoreAdminRecord>.Builder _admin = ImmutableSortedDictionary.CreateBuilder<ulong, StoreAdminRecord>();
        private readonly SortedDictionary<ulong, AuditEntry> _audit = [];
        private readonly ImmutableSortedDictionary<ulong, SplitRecord>.Builder _splits = ImmutableSortedDictionary.CreateBuilder<ulong, SplitRecord>();
        private ClusterSettingsRecord? _settings;

        /// <summary>Takes the record when its kind is one of this file's; false when it is not. Throws <see cref="InvalidDataException"/> when it is but does not decode.</summary>
        public bool TryLoad(byte[] key, ReadOnlySpan<byte> body)
        {
            switch (key[1])
            {
                case KindSettings when key.Length == 2:
                    _settings = ClusterSettingsRecord.Parser.ParseFrom(body);
                    return true;
                case KindStoreAdmin when key.Length == 10:
                    var admin = StoreAdminRecord.Parser.ParseFrom(body);
                    CheckIdMatches(key, admin.StoreId);
                    _admin[admin.StoreId] = admin;
                    return true;
                case KindAudit when key.Length == 10:
                    var entry = AuditEntry.Parser.ParseFrom(body);
                    CheckIdMatches(key, entry.Seq);
                    _audit[entry.Seq] = entry;
                    return true;
                case KindSplit when key.Length == 10:
                    var split = SplitRecord.Parser.ParseFrom(body);
                    CheckIdMatches(key, split.RightRangeId);
                    _splits[split.RightRangeId] = split;
                    return true;
                case KindOperation:
                    var header = OperationRecord.Parser.ParseFrom(body);
                    CheckOperationId(key, header.Id, 0);
                    if (header.Plan is not null)
                    {
                        throw new InvalidDataException($"operation {header.Id}: the header holds a plan; plans are records of their own");
                    }

                    _headers[header.Id] = header;
                    return true;
                case KindPlanHead:
                    var plan = Plan.Parser.ParseFrom(body);
                    string planId = CheckOperationId(key, null, 0);
                    if (plan.Steps.Count != 0)
                    {
                        throw new InvalidDataException($"operation {planId}: the plan head holds steps; steps are records of their own");
                    }

                    _planHeads[planId] = plan;
                    return true;
                case KindPlanStep:
                    var step = PlanStep.Parser.ParseFrom(body);
                    string stepId = CheckOperationId(key, null, 4);
                    uint index = BinaryPrimitives.ReadUInt32BigEndian(key.AsSpan(key.Length - 4));
                    if (index != step.Index)
                    {
                        throw new InvalidDataException($"operation {stepId}: the key names step {index} but the value is step {step.Index}");
                    }

                    if (!_steps.TryGetValue(stepId, out var steps))
                    {
                        _steps[stepId] = steps = [];
                    }

                    steps[index] = step;
                    return true;
                default:
                    return false;
            }
        }

        /// <summary>The state the records describe; throws <see cref="InvalidDataException"/> naming what does not fit.</summary>
        public OperationsState Build()
        {
            var state = OperationsState.Empty with
            {
                StoreAdmin = _admin.ToImmutable(),
                Settings = _settings,
                Audit = [.. _audit.Values],
                Splits = _splits.ToImmutable(),
            };
            foreach (var id in _planHeads.Keys.Concat(_steps.Keys))
            {
                if (!_headers.ContainsKey(id))
                {
                    throw new InvalidDataException($"operation {id} has plan records but no operation record; the placement data is damaged");
                }
            }

            foreach (var (id, header) in _headers)
            {
                if (!_planHeads.TryGetValue(id, out var head))
                {
                    throw new InvalidDataException($"operation {id} has no plan record; the placement data is damaged");
                }

                var steps = ImmutableList.CreateBuilder<PlanStep>();
                if (_steps.TryGetValue(id, out var found))
                {
                    foreach (var (index, step) in found)
                    {
                        if (index != steps.Count)
                        {
                            throw new InvalidDataException($"operation {id}: step {steps.Count} is missing (found step {index}); the placement data is damaged");
                        }

                        steps.Add(step);
                    }
                }

                state = state.WithOperation(new OperationEntry(header, head, steps.ToImmutable()));
            }

            return state;
        }

        private static void CheckIdMatches(byte[] key, ulong id)
        {
            ulong keyId = BinaryPrimitives.ReadUInt64BigEndian(key.AsSpan(2));
            if (keyId != id)
            {
                throw new InvalidDataException($"the key names id {keyId} but the value holds id {id}");
            }
        }

        /// <summary>The operation id the key names (after its length byte, followed by <paramref name="suffix"/> bytes); checked against <paramref name="expected"/> when given.</summary>
        private static string CheckOperationId(byte[] key, string? expected, int suffix)
        {
            if (key.Length < 3 || key[2] == 0 || key.Length != 3 + key[2] + suffix)
            {
                throw new InvalidDataException("the key's operation id length does not match the key");
            }

            string id = Encoding.ASCII.GetString(key, 3, key[2]);
            if (OperationRules.CheckId(id) is { } bad)
            {
                throw new InvalidDataException($"the key's operation id is not valid: {bad}");
            }

            if (expected is not null && !string.Equals(expected, id, StringComparison.Ordinal))
            {
                throw new InvalidDataException($"the key names operation {id} but the value holds operation {expected}");
            }

            return id;
        }
    }
}

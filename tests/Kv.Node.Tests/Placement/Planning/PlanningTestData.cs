using System.Collections.Immutable;
using System.Text;
using Kv.Client;
using Kv.Node.Placement.Operations.Planning;
using Kv.Proto.V1;

namespace Kv.Node.Tests.Placement.Planning;

/// <summary>Builders for cluster views, written so a test reads like the picture it draws.</summary>
internal static class PlanningTestData
{
    public const ulong GiB = 1UL << 30;

    /// <summary>A store; <paramref name="labels"/> is "zone=a,host=h1".</summary>
    public static StoreView Store(
        ulong id,
        string labels = "",
        bool up = true,
        StoreAdminState admin = StoreAdminState.Active,
        bool maintenance = false,
        int replicas = 0,
        int leaders = 0,
        ulong availableGiB = 100,
        long downSinceMs = 0) =>
        new(
            new StoreId(id),
            ParseLabels(labels),
            up ? Liveness.Up : Liveness.Down,
            admin,
            maintenance,
            replicas,
            leaders,
            1000 * GiB,
            availableGiB * GiB,
            up ? 0 : downSinceMs);

    /// <summary>A range with voters and learners on the given stores; replica id = range id * 100 + store id; the first voter leads unless <paramref name="leader"/> names another store (0: unknown).</summary>
    public static RangeView Range(
        ulong id,
        ulong[] voters,
        ulong[]? learners = null,
        ulong? leader = null,
        string start = "",
        string end = "",
        ulong bytes = 1000,
        ulong confVer = 1,
        ulong version = 1,
        bool changeInFlight = false)
    {
        var replicas = voters.Select(s => new ReplicaView(new ReplicaId(id * 100 + s), new StoreId(s), true))
            .Concat((learners ?? []).Select(s => new ReplicaView(new ReplicaId(id * 100 + s), new StoreId(s), false)))
            .ToImmutableArray();
        ulong leaderStore = leader ?? (voters.Length > 0 ? voters[0] : 0);
        return new RangeView(
            new RangeId(id),
            [.. Encoding.UTF8.GetBytes(start)],
            [.. Encoding.UTF8.GetBytes(end)],
            new Epoch(confVer, version),
            replicas,
            leaderStore == 0 ? default : new ReplicaId(id * 100 + leaderStore),
            bytes,
            changeInFlight);
    }

    /// <summary>A view whose store replica counts are taken from the ranges (unless a store sets its own).</summary>
    public static ClusterView View(IEnumerable<StoreView> stores, IEnumerable<RangeView> ranges, int replicationFactor = 3)
    {
        var rangeList = ranges.ToList();
        var counted = stores.Select(s => s.ReplicaCount != 0 ? s : s with
        {
            ReplicaCount = rangeList.Count(r => r.ReplicaOn(s.Id) is not null),
            LeaderCount = rangeList.Count(r => r.LeaderStore == s.Id),
        });
        return ClusterView.Create(counted, rangeList, replicationFactor);
    }

    /// <summary>Stores 1..n, up and active, with the given labels (index i for store i+1).</summary>
    public static IEnumerable<StoreView> Stores(params string[] labels) =>
        labels.Select((l, i) => Store((ulong)(i + 1), l));

    public static OperationSpec Move(ulong range, ulong from, ulong to = 0, bool force = false) =>
        new() { Kind = OperationKind.MoveReplica, RangeId = range, FromStoreId = from, ToStoreId = to, Force = force };

    public static OperationSpec Remove(ulong range, ulong store, bool force = false) =>
        new() { Kind = OperationKind.RemoveReplica, RangeId = range, StoreId = store, Force = force };

    public static OperationSpec Add(ulong range, ulong store) =>
        new() { Kind = OperationKind.AddReplica, RangeId = range, StoreId = store };

    public static OperationSpec Drain(ulong store) => new() { Kind = OperationKind.DrainStore, StoreId = store };

    public static OperationSpec Replace(ulong store) => new() { Kind = OperationKind.ReplaceStore, StoreId = store };

    public static OperationSpec Split(ulong range, string key) =>
        new() { Kind = OperationKind.Split, RangeId = range, SplitKey = Google.Protobuf.ByteString.CopyFromUtf8(key) };

    public static OperationSpec TransferLeader(ulong range, ulong store) =>
        new() { Kind = OperationKind.TransferLeader, RangeId = range, StoreId = store };

    /// <summary>A step for people reading a failed assertion: "Move r7 4->2".</summary>
    public static string Show(PlanStep step) => step.Kind switch
    {
        StepKind.MoveReplica => $"Move r{step.RangeId} {step.FromStoreId}->{step.ToStoreId}",
        StepKind.AddReplica => $"Add r{step.RangeId} s{step.StoreId}",
        StepKind.RemoveReplica => $"Remove r{step.RangeId} s{step.StoreId}",
        StepKind.TransferLeader => $"Lead r{step.RangeId} s{step.StoreId}",
        StepKind.Split => $"Split r{step.RangeId} {step.SplitKey.ToStringUtf8()}",
        _ => step.Kind.ToString(),
    } + (step.State is StepState.Pending ? "" : $" [{step.State}]");

    public static string[] Show(Plan plan) => plan.Steps.Select(Show).ToArray();

    private static ImmutableSortedDictionary<string, string> ParseLabels(string labels) =>
        labels.Split(',', StringSplitOptions.RemoveEmptyEntries)
            .Select(p => p.Split('='))
            .ToImmutableSortedDictionary(p => p[0], p => p[1], StringComparer.Ordinal);
}

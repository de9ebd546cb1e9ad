using System.Globalization;
using System.Text;
using Kv.Client;
using Kv.Proto.V1;

namespace Kv.Node.Placement.Operations.Planning;

/// <summary>
/// Failure domains: which stores may fail together, from their location labels. Modelled on
/// TiKV's location labels and isolation level. The exact rule:
/// <list type="number">
/// <item>The label order L is the cluster's location labels, coarsest first (default zone, rack, host).</item>
/// <item>A store's domain at level k (0-based index into L) is the tuple of its values for L[0..k],
/// a label it lacks counting as the empty value (so two stores of zone a that both lack a rack
/// label are not told apart at the rack level: an unknown location is not a distinct one). A store
/// with none of the labels of L is its own domain, "store N".</item>
/// <item>The placement stores are those whose admin state is Active, less the store a drain or
/// replacement is emptying (its replicas are leaving, so it cannot separate anything). Liveness is
/// otherwise ignored on purpose: a store down for a minute must not change every range's domains.</item>
/// <item>The isolation level is the coarsest k at which the placement stores fall into at least
/// ReplicationFactor distinct domains. When no level has that many, the isolation level is the
/// finest one and <see cref="Sufficient"/> is false: a full set of voters cannot be placed, and the
/// planner says so rather than quietly stacking voters in one domain.</item>
/// <item>With no label names, or when no Active store carries any of them, every store is its
/// own domain (the isolation level is "store").</item>
/// <item>The rule the planner keeps: no two voters of a range share a domain at the isolation
/// level. Learners are not counted (they do not vote, so they do not hold quorum).</item>
/// </list>
/// Pure: computed from a <see cref="ClusterView"/>, no I/O.
/// </summary>
internal sealed class FailureDomains
{
    private readonly ClusterView _view;

    private FailureDomains(ClusterView view, int levelIndex, int distinct, int placementStores)
    {
        _view = view;
        LevelIndex = levelIndex;
        DistinctDomains = distinct;
        PlacementStores = placementStores;
    }

    /// <summary>Index into the label order of the isolation level; -1 when every store is its own domain.</summary>
    public int LevelIndex { get; }

    /// <summary>The label the cluster isolates at ("zone", "host"), or "store".</summary>
    public string Level => LevelIndex < 0 ? "store" : _view.LocationLabels[LevelIndex];

    /// <summary>Distinct domains among the placement stores at the isolation level.</summary>
    public int DistinctDomains { get; }

    /// <summary>Active stores (the ones that can receive replicas).</summary>
    public int PlacementStores { get; }

    /// <summary>Whether a full set of voters (the replication factor) fits in distinct domains.</summary>
    public bool Sufficient => DistinctDomains >= _view.ReplicationFactor;

    /// <summary>Why a full set of voters cannot be placed, and what to do; null when it can.</summary>
    public string? InsufficientReason
    {
        get
        {
            if (Sufficient)
            {
                return null;
            }

            int rf = _view.ReplicationFactor;
            return PlacementStores < rf
                ? $"only {PlacementStores} active store(s) can hold replicas and the replication factor is {rf}: add stores or lower the replication factor"
                : $"labels make placement impossible: the {PlacementStores} active stores fall into only {DistinctDomains} distinct {Level} domain(s) and the replication factor is {rf}: give the stores distinct {Level} labels (kv-node serve --labels) or lower the replication factor";
        }
    }

    /// <summary>Computes the isolation level of <paramref name="view"/> (rule 4); <paramref name="leaving"/> is a store being emptied (default: none).</summary>
    public static FailureDomains Compute(ClusterView view, StoreId leaving = default)
    {
        ArgumentNullException.ThrowIfNull(view);
        var placement = view.Stores.Values.Where(s => s.AdminState == StoreAdminState.Active && s.Id != leaving).ToList();
        if (view.LocationLabels.IsDefaultOrEmpty || !placement.Any(s => HasAnyLocationLabel(view, s)))
        {
            return new FailureDomains(view, -1, placement.Count, placement.Count);
        }

        int best = -1;
        int bestDistinct = 0;
        for (int k = 0; k < view.LocationLabels.Length; k++)
        {
            int distinct = placement.Select(s => DomainAt(view, s, k)).Distinct(StringComparer.Ordinal).Count();
            best = k;
            bestDistinct = distinct;
            if (distinct >= view.ReplicationFactor)
            {
                break;
            }
        }

        return new FailureDomains(view, best, bestDistinct, placement.Count);
    }

    /// <summary>The domain of <paramref name="store"/> at the isolation level (rule 2).</summary>
    public string Domain(StoreId store) =>
        _view.Stores.TryGetValue(store, out var view) && LevelIndex >= 0 ? DomainAt(_view, view, LevelIndex) : OwnDomain(store);

    /// <summary>For people: "zone b", "host h1", "host unset", or "store 4" (its own domain).</summary>
    public string Describe(StoreId store)
    {
        if (LevelIndex < 0 || !_view.Stores.TryGetValue(store, out var view) || !HasAnyLocationLabel(_view, view))
        {
            return OwnDomain(store);
        }

        return view.Labels.TryGetValue(Level, out var value) && value.Length > 0 ? $"{Level} {value}" : $"{Level} unset";
    }

    /// <summary>
    /// A voter among <paramref name="voters"/> (other than <paramref name="candidate"/> itself) in the
    /// same domain as <paramref name="candidate"/>, or null when the candidate's domain is free.
    /// </summary>
    public StoreId? SharedWith(IEnumerable<StoreId> voters, StoreId candidate)
    {
        ArgumentNullException.ThrowIfNull(voters);
        string domain = Domain(candidate);
        foreach (var voter in voters)
        {
            if (voter != candidate && string.Equals(Domain(voter), domain, StringComparison.Ordinal))
            {
                return voter;
            }
        }

        return null;
    }

    /// <summary>Pairs of voters that share a domain (empty when the rule holds).</summary>
    public IReadOnlyList<(StoreId A, StoreId B)> Violations(IEnumerable<StoreId> voters)
    {
        var list = voters.ToList();
        var found = new List<(StoreId, StoreId)>();
        for (int i = 0; i < list.Count; i++)
        {
            for (int j = i + 1; j < list.Count; j++)
            {
                if (string.Equals(Domain(list[i]), Domain(list[j]), StringComparison.Ordinal))
                {
                    found.Add((list[i], list[j]));
                }
            }
        }

        return found;
    }

    private static string OwnDomain(StoreId store) => "store " + store.ToString();

    private static bool HasAnyLocationLabel(ClusterView view, StoreView store) =>
        view.LocationLabels.Any(name => store.Labels.TryGetValue(name, out var value) && value.Length > 0);

    private static string DomainAt(ClusterView view, StoreView store, int level)
    {
        if (!HasAnyLocationLabel(view, store))
        {
            return OwnDomain(store.Id);
        }

        var key = new StringBuilder();
        for (int i = 0; i <= level; i++)
        {
            string name = view.LocationLabels[i];
            store.Labels.TryGetValue(name, out var value);
            key.Append(CultureInfo.InvariantCulture, $"{name}={value}/");
        }

        return key.ToString();
    }
}

using System.Collections.Immutable;
using System.Diagnostics;
using Google.Protobuf;
using Kv.Proto.V1;

namespace Kv.Node.Placement.Operations;

/// <summary>
/// The rules of operation records, store admin state, maintenance windows and cluster settings,
/// applied to placement's replicated state (shared/DESIGN.md section 8). Pure: no I/O, clocks or
/// threads; times come in the commands (at_ms, set by the proposer).
///
/// Contract, as for every placement command (see <see cref="PlacementState"/>):
///   1. Each function takes the snapshot before the command and returns the result and the
///      snapshot after; a refusal returns the same snapshot and no mutations (nothing changes).
///   2. Everything a proposer checked on its own view is checked again here against the applied
///      state (unknown store or range, the operation's state, store transitions), so a command
///      proposed on stale knowledge changes nothing.
///   3. Every change an operator should be able to trace appends an audit entry in the same apply
///      (seq = last + 1), and the log is trimmed to the newest <see cref="OperationsState.MaxAuditEntries"/>.
/// </summary>
internal static class OperationRules
{
    public const int MaxIdLength = 128;

    /// <summary>Most stuck ranges one record lists (the header is rewritten on every update, so it stays small).</summary>
    public const int MaxStuckRanges = 100;

    /// <summary>Most steps one plan may have.</summary>
    public const int MaxPlanSteps = 1_000_000;

    /// <summary>Longest maintenance window one command may set.</summary>
    public const long MaxMaintenanceMs = 7L * 24 * 60 * 60 * 1000;

    /// <summary>Finished operations are kept at least this long after they finished (kv-node's default retention).</summary>
    public const long DefaultFinishedRetentionMs = 7L * 24 * 60 * 60 * 1000;

    /// <summary>At most this many finished operations are kept (the oldest finished are pruned first).</summary>
    public const int DefaultMaxFinished = 10_000;

    /// <summary>The shortest retention a prune may ask for: an operator must have time to look at what finished.</summary>
    public const long MinFinishedRetentionMs = 60L * 60 * 1000;

    public const uint MinReplicationFactor = 1;
    public const uint MaxReplicationFactor = 7;

    /// <summary>Null when <paramref name="id"/> is a valid operation id ([A-Za-z0-9._-], 1 to 128 characters); otherwise what is wrong.</summary>
    internal static string? CheckId(string? id)
    {
        if (string.IsNullOrEmpty(id))
        {
            return "the operation id is empty: choose one (letters, digits, '.', '_', '-'; up to 128 characters) so a retry can resubmit it";
        }

        if (id.Length > MaxIdLength)
        {
            return $"the operation id is {id.Length} characters long: use at most {MaxIdLength}";
        }

        foreach (char ch in id)
        {
            if (!(char.IsAsciiLetterOrDigit(ch) || ch is '.' or '_' or '-'))
            {
                return $"the operation id '{id}' contains '{ch}': use only letters, digits, '.', '_' and '-'";
            }
        }

        return null;
    }

    // ---- Submit ----

    internal static (PlacementApplyResult, PlacementSnapshot) Submit(PlacementSnapshot s, SubmitOperationCommand c)
    {
        if (!s.IsBootstrapped)
        {
            return (PlacementState.NotBootstrapped(), s);
        }

        var op = c.Operation;
        if (op is null)
        {
            return Invalid(s, "submit refused: the operation record is missing");
        }

        if (CheckId(op.Id) is { } badId)
        {
            return Invalid(s, $"submit refused: {badId}");
        }

        // Idempotency comes first: a resubmit of what exists is answered even when the directory
        // has moved on since (the range split, the store drained).
        if (s.Ops.Operations.TryGetValue(op.Id, out var existing))
        {
            var header = existing.Header;
            if (Equals(header.Spec, op.Spec) && header.RequestedBy == op.RequestedBy && header.Reason == op.Reason)
            {
                return (PlacementApplyResult.Applied($"operation {op.Id} already exists ({Describe(existing)}); returned it unchanged", [],
                    operation: existing), s);
            }

            return (PlacementApplyResult.Refused(PlacementErrorCode.PlacementErrorConflict,
                $"operation id {op.Id} is taken by another operation ({Describe(existing)}, {header.Spec?.Kind}, requested by {header.RequestedBy}" +
                $"{(header.Reason.Length > 0 ? $", reason '{header.Reason}'" : string.Empty)}): choose a new id, or resubmit with exactly the same spec, requested_by and reason",
                operation: existing), s);
        }

        var error = CheckSubmit(s, c);
        if (error is not null)
        {
            return (PlacementApplyResult.Refused(error.Code, $"submit of operation {op.Id} refused: {error.Message}"), s);
        }

        var stored = op.Clone();
        var plan = stored.Plan;
        stored.Plan = null;
        // Bookkeeping placement owns: whatever the proposer sent, a new operation starts here.
        stored.State = OperationState.Pending;
        stored.CurrentStep = 0;
        stored.Failure = string.Empty;
        stored.CreatedMs = c.AtMs;
        stored.UpdatedMs = c.AtMs;
        stored.StartedMs = 0;
        stored.FinishedMs = 0;
        stored.Stuck.Clear();
        stored.CancelRequested = false;
        stored.CancelledBy = string.Empty;
        stored.Replans = 0;
        stored.Revision = 1;
        stored.Progress ??= new OperationProgress();

        var batch = new Batch(s);
        var steps = ImmutableList.CreateBuilder<PlanStep>();
        foreach (var planned in plan.Steps)
        {
            var step = planned.Clone();
            step.State = StepState.Pending;
            steps.Add(step);
            batch.Put(OperationsRecords.StepKey(stored.Id, step.Index), step);
        }

        var head = plan.Clone();
        head.Steps.Clear();
        string reused = PrunedEarlier(s, stored.Id) is { } earlier
            ? $"the id {stored.Id} was used by an earlier operation ({earlier}) that was pruned from the operations table; this is a new operation, " +
              $"not a resubmit of that one (`kvctl audit list --operation {stored.Id}` shows both)"
            : string.Empty;
        if (reused.Length > 0)
        {
            head.Notes.Add(reused);
        }

        var entry = new OperationEntry(stored, head, steps.ToImmutable());
        batch.Put(OperationsRecords.OperationKey(OperationsRecords.KindOperation, stored.Id), stored);
        batch.Put(OperationsRecords.OperationKey(OperationsRecords.KindPlanHead, stored.Id), head);
        batch.Ops = batch.Ops.WithOperation(entry);
        batch.Audit(new AuditEntry
        {
            AtMs = c.AtMs,
            Who = stored.RequestedBy,
            Action = AuditAction.Submitted,
            OperationId = stored.Id,
            Kind = stored.Spec.Kind,
            What = $"submitted {SpecText(stored.Spec)} with {entry.Steps.Count} step(s){(reused.Length > 0 ? $"; {reused}" : string.Empty)}",
            RangeId = stored.Spec.RangeId,
            EpochBefore = stored.Spec.Epoch,
            Reason = stored.Reason,
            Outcome = "pending",
        });
        if (stored.Spec.Force)
        {
            batch.Audit(new AuditEntry
            {
                AtMs = c.AtMs,
                Who = stored.RequestedBy,
                Action = AuditAction.Override,
                OperationId = stored.Id,
                Kind = stored.Spec.Kind,
                What = $"forced {SpecText(stored.Spec)} past the preflight{(head.Preflight is { Safe: false } p ? $" ({p.Risks.Count} range(s) at risk)" : string.Empty)}",
                RangeId = stored.Spec.RangeId,
                Reason = stored.Reason,
                Outcome = "accepted",
            });
        }

        if (stored.Spec.Kind == OperationKind.DrainStore && s.Ops.AdminState(stored.Spec.StoreId) == StoreAdminState.Active)
        {
            // The drain and its store's DRAINING are one apply (CheckSubmit checked the transition):
            // there is never a drain of a store that still takes new replicas, nor a DRAINING
            // store whose drain was lost between two proposals.
            SetAdmin(batch, stored.Spec.StoreId, StoreAdminState.Draining, stored.RequestedBy, stored.Reason, c.AtMs,
                $"store {stored.Spec.StoreId}: {StoreAdminState.Active} -> {StoreAdminState.Draining} (drain {stored.Id})");
        }

        return batch.Done($"submitted operation {stored.Id}: {SpecText(stored.Spec)}, {entry.Steps.Count} step(s){(reused.Length > 0 ? $"; {reused}" : string.Empty)}", entry);
    }

    /// <summary>
    /// What the audit log remembers of an operation with <paramref name="id"/> that is no longer in
    /// the table (it was pruned): its kind and how it ended; null when the log has no such entry.
    /// Called only for ids not in the table, so a hit is always an earlier, pruned operation.
    /// </summary>
    private static string? PrunedEarlier(PlacementSnapshot s, string id)
    {
        for (int i = s.Ops.Audit.Count - 1; i >= 0; i--)
        {
            var entry = s.Ops.Audit[i];
            if (entry.OperationId == id)
            {
                return $"{entry.Kind}, last audited {entry.Action} at {entry.AtMs}";
            }
        }

        return null;
    }

    // ---- Split records (the scheduler's scatter rule) ----

    /// <summary>Null when <paramref name="origin"/> may come with a PutRange of range <paramref name="rightRangeId"/>; otherwise what is wrong.</summary>
    internal static string? CheckSplitOrigin(ulong rightRangeId, SplitOrigin origin) =>
        origin.Reason is not (SplitReason.Size or SplitReason.Load)
            ? $"range {rightRangeId}: split reason {origin.Reason} is not an automatic split's (size or load); an operator's split sends no split origin, and a node newer than this one may send reasons it does not know: upgrade it"
        : origin.LeftRangeId == 0 || origin.LeftRangeId == rightRangeId
            ? $"range {rightRangeId}: the split origin names left range {origin.LeftRangeId}; it must name the range that was split (not 0, not the right half itself)"
        : origin.AtMs < 0 ? $"range {rightRangeId}: the split origin's at_ms {origin.AtMs} is negative: the reporting node sets it from its clock"
        : null;

    /// <summary>
    /// Adds the split record of right half <paramref name="rightRangeId"/> to what a PutRange did,
    /// when both halves are in the directory after it and the split is not recorded yet (a repeated
    /// report changes nothing). Beyond <see cref="OperationsState.MaxSplitRecords"/> the oldest
    /// (by at_ms, then range id) are dropped, deterministically on every member.
    /// </summary>
    internal static (PlacementApplyResult, PlacementSnapshot) RecordSplit(PlacementApplyResult put, PlacementSnapshot s, ulong rightRangeId, SplitOrigin origin)
    {
        if (s.Ops.Splits.ContainsKey(rightRangeId))
        {
            return (put, s);
        }

        if (!s.RangesById.ContainsKey(rightRangeId) || !s.RangesById.ContainsKey(origin.LeftRangeId))
        {
            return (PlacementApplyResult.Applied($"{put.Message}; split of range {origin.LeftRangeId} not recorded: both halves must be in the directory", put.Mutations), s);
        }

        var record = new SplitRecord { RightRangeId = rightRangeId, Origin = origin.Clone() };
        var mutations = new List<KeyValuePair<byte[], byte[]?>>(put.Mutations) { new(OperationsRecords.SplitKey(rightRangeId), OperationsRecords.Encode(record)) };
        var splits = s.Ops.Splits.SetItem(rightRangeId, record);
        while (splits.Count > OperationsState.MaxSplitRecords)
        {
            var oldest = splits.Values.OrderBy(r => r.Origin.AtMs).ThenBy(r => r.RightRangeId).First();
            splits = splits.Remove(oldest.RightRangeId);
            mutations.Add(new(OperationsRecords.SplitKey(oldest.RightRangeId), null));
        }

        return (PlacementApplyResult.Applied($"{put.Message}; recorded range {rightRangeId} as the right half of a {origin.Reason} split of range {origin.LeftRangeId}", mutations),
            s with { Ops = s.Ops with { Splits = splits } });
    }

    /// <summary>Split records a prune at <paramref name="atMs"/> deletes: splits older than the retention.</summary>
    internal static List<SplitRecord> PruneSplits(OperationsState ops, long atMs, long retentionMs) =>
        [.. ops.Splits.Values.Where(r => r.Origin.AtMs < atMs - retentionMs)];

    // ---- Prune ----

    /// <summary>
    /// The finished operations a prune at <paramref name="atMs"/> deletes, oldest finished first:
    /// those finished before atMs - retentionMs, then the oldest beyond <paramref name="keepFinished"/>.
    /// The leader calls it to decide whether to propose a prune at all; the apply calls it to prune.
    /// </summary>
    internal static List<OperationEntry> PruneCandidates(OperationsState ops, long atMs, long retentionMs, int keepFinished)
    {
        var finished = ops.Operations.Values
            .Where(e => e.IsFinal)
            .OrderBy(e => e.Header.FinishedMs).ThenBy(e => e.Id, StringComparer.Ordinal)
            .ToList();
        int beyondCount = Math.Max(0, finished.Count - keepFinished);
        var result = new List<OperationEntry>();
        for (int i = 0; i < finished.Count; i++)
        {
            // Sorted oldest first: the first beyondCount go for the count bound, then any older than the retention.
            if (i < beyondCount || finished[i].Header.FinishedMs < atMs - retentionMs)
            {
                result.Add(finished[i]);
            }
            else
            {
                break;
            }
        }

        return result;
    }

    internal static (PlacementApplyResult, PlacementSnapshot) Prune(PlacementSnapshot s, PruneOperationsCommand c)
    {
        if (!s.IsBootstrapped)
        {
            return (PlacementState.NotBootstrapped(), s);
        }

        if (CheckSetting(c.Who, c.AtMs) is { } bad)
        {
            return Invalid(s, $"prune of finished operations refused: {bad}");
        }

        if (c.RetentionMs < MinFinishedRetentionMs)
        {
            return Invalid(s, $"prune of finished operations refused: a retention of {c.RetentionMs} ms is shorter than the minimum of {MinFinishedRetentionMs} ms (1 hour); operators need time to read what finished");
        }

        if (c.KeepFinished == 0 || c.KeepFinished > int.MaxValue)
        {
            return Invalid(s, $"prune of finished operations refused: keep_finished {c.KeepFinished} must be between 1 and {int.MaxValue}");
        }

        var pruned = PruneCandidates(s.Ops, c.AtMs, c.RetentionMs, (int)c.KeepFinished);
        var oldSplits = PruneSplits(s.Ops, c.AtMs, c.RetentionMs);
        if (pruned.Count == 0 && oldSplits.Count == 0)
        {
            return (PlacementApplyResult.Applied("no finished operation is due for pruning", []), s);
        }

        var batch = new Batch(s);
        foreach (var split in oldSplits)
        {
            batch.Delete(OperationsRecords.SplitKey(split.RightRangeId));
            batch.Ops = batch.Ops with { Splits = batch.Ops.Splits.Remove(split.RightRangeId) };
        }

        if (pruned.Count == 0)
        {
            return batch.Done($"pruned {oldSplits.Count} split record(s) older than the retention", null);
        }

        var operations = batch.Ops.Operations.ToBuilder();
        foreach (var entry in pruned)
        {
            batch.Delete(OperationsRecords.OperationKey(OperationsRecords.KindOperation, entry.Id));
            batch.Delete(OperationsRecords.OperationKey(OperationsRecords.KindPlanHead, entry.Id));
            for (uint i = 0; i < entry.Steps.Count; i++)
            {
                batch.Delete(OperationsRecords.StepKey(entry.Id, i));
            }

            operations.Remove(entry.Id);
        }

        batch.Ops = batch.Ops with { Operations = operations.ToImmutable() };
        string what = $"pruned {pruned.Count} finished operation(s) (finished {pruned[0].Header.FinishedMs} to {pruned[^1].Header.FinishedMs}; " +
            $"retention {c.RetentionMs / 1000} s, at most {c.KeepFinished} kept): {string.Join(", ", pruned.Take(20).Select(e => e.Id))}{(pruned.Count > 20 ? ", ..." : string.Empty)}";
        batch.Audit(new AuditEntry
        {
            AtMs = c.AtMs,
            Who = c.Who,
            Action = AuditAction.Pruned,
            What = what,
            Outcome = "pruned",
        });
        return batch.Done(what, null);
    }

    private static Refusal? CheckSubmit(PlacementSnapshot s, SubmitOperationCommand c)
    {
        var op = c.Operation;
        if (c.AtMs < 0)
        {
            return $"at_ms {c.AtMs} is negative: the proposer sets it from its clock";
        }

        if (string.IsNullOrWhiteSpace(op.RequestedBy))
        {
            return "requested_by is empty: the proposer sets the caller's identity (a user, a certificate subject or \"scheduler\")";
        }

        if (op.State != OperationState.Pending)
        {
            return $"the operation is in state {op.State}: a new operation is submitted PENDING";
        }

        var spec = op.Spec;
        if (spec is null || spec.Kind == OperationKind.Unspecified || !Enum.IsDefined(spec.Kind))
        {
            return "the spec names no operation kind (Split, AddReplica, RemoveReplica, MoveReplica, TransferLeader, DrainStore, ...); this node may be older than the proposer: upgrade it";
        }

        if (spec.Force && string.IsNullOrWhiteSpace(op.Reason))
        {
            return "--force needs --reason: an override of the preflight is audited with why it was done";
        }

        if (op.Plan is null)
        {
            return "the plan is missing: the proposer plans the operation before submitting it (a dry run shows the same plan)";
        }

        if (op.Plan.Steps.Count > MaxPlanSteps)
        {
            return $"the plan has {op.Plan.Steps.Count} steps: at most {MaxPlanSteps} are accepted; split the work into several operations";
        }

        if (CheckSpecTargets(s, spec) is { } target)
        {
            return target;
        }

        if (spec.Kind == OperationKind.DrainStore && s.Ops.AdminState(spec.StoreId) == StoreAdminState.Active
            && WhyNotTransition(s, spec.StoreId, StoreAdminState.Active, StoreAdminState.Draining) is { } noDrain)
        {
            return Precondition($"store {spec.StoreId} cannot start draining: {noDrain}");
        }

        for (int i = 0; i < op.Plan.Steps.Count; i++)
        {
            if (CheckStep(s, op.Plan.Steps[i], (uint)i) is { } step)
            {
                return step;
            }
        }

        return null;
    }

    /// <summary>The targets the spec names, against the directory: the fields its kind needs, known range and stores, the epoch fence.</summary>
    private static Refusal? CheckSpecTargets(PlacementSnapshot s, OperationSpec spec)
    {
        bool needsRange = spec.Kind is OperationKind.Split or OperationKind.AddReplica or OperationKind.RemoveReplica
            or OperationKind.MoveReplica or OperationKind.TransferLeader;
        bool needsStore = spec.Kind is OperationKind.AddReplica or OperationKind.RemoveReplica or OperationKind.TransferLeader
            or OperationKind.DrainStore or OperationKind.ReplaceStore;
        RangeDescriptor? range = null;
        if (needsRange)
        {
            if (spec.RangeId == 0)
            {
                return $"a {spec.Kind} names a range: range_id is 0";
            }

            if (!s.RangesById.TryGetValue(spec.RangeId, out range))
            {
                return NotFound($"range {spec.RangeId} is not in the directory: list ranges (`kvctl range list`) and use a current id");
            }

            if (spec.Epoch is not null && !spec.Epoch.Equals(range.Epoch))
            {
                return Precondition($"range {spec.RangeId} is at epoch {PlacementState.Show(range.Epoch)}, not the {PlacementState.Show(spec.Epoch)} the request saw: look at the range again and resubmit");
            }
        }

        if (spec.Kind == OperationKind.Split)
        {
            var key = spec.SplitKey.Span;
            if (key.IsEmpty || key.SequenceCompareTo(range!.StartKey.Span) <= 0 || (range.EndKey.Length > 0 && key.SequenceCompareTo(range.EndKey.Span) >= 0))
            {
                return $"split key {Convert.ToHexString(key)} does not lie strictly inside range {range!.RangeId} [{Convert.ToHexString(range.StartKey.Span)}, {Convert.ToHexString(range.EndKey.Span)}): choose a key inside it";
            }
        }

        if (needsStore && spec.StoreId == 0)
        {
            return $"a {spec.Kind} names a store: store_id is 0";
        }

        if (spec.Kind == OperationKind.MoveReplica && spec.FromStoreId == 0)
        {
            return "a MoveReplica names the store it moves from: from_store_id is 0";
        }

        foreach (var storeId in new[] { spec.StoreId, spec.FromStoreId, spec.ToStoreId })
        {
            if (storeId != 0 && CheckKnownStore(s, storeId) is { } store)
            {
                return store;
            }
        }

        // A replica may be put only on a store that can hold one.
        foreach (var target in new[] { spec.Kind == OperationKind.AddReplica ? spec.StoreId : 0, spec.ToStoreId })
        {
            if (target != 0 && s.Ops.AdminState(target) != StoreAdminState.Active)
            {
                return Precondition($"store {target} is {s.Ops.AdminState(target)} and takes no new replicas: choose an active store");
            }
        }

        return null;
    }

    private static Refusal? CheckStep(PlacementSnapshot s, PlanStep step, uint expectedIndex)
    {
        if (step.Index != expectedIndex)
        {
            return $"plan step {expectedIndex} carries index {step.Index}: steps are numbered 0, 1, 2, ... in order";
        }

        if (step.Kind == StepKind.Unspecified || !Enum.IsDefined(step.Kind))
        {
            return $"plan step {step.Index} names no step kind";
        }

        if (step.RangeId == 0 || !s.RangesById.ContainsKey(step.RangeId))
        {
            return NotFound($"plan step {step.Index} names range {step.RangeId}, which is not in the directory: plan again from the current directory");
        }

        foreach (var storeId in new[] { step.StoreId, step.FromStoreId, step.ToStoreId })
        {
            if (storeId != 0 && CheckKnownStore(s, storeId) is { } store)
            {
                return Prefixed($"plan step {step.Index}: ", store);
            }
        }

        return null;
    }

    private static Refusal? CheckKnownStore(PlacementSnapshot s, ulong storeId)
    {
        if (!s.Stores.ContainsKey(storeId))
        {
            return NotFound($"store {storeId} is not registered: list stores (`kvctl store list`) and use a current id");
        }

        if (s.Ops.AdminState(storeId) == StoreAdminState.Removed)
        {
            return Precondition($"store {storeId} was removed from the cluster: use a current store");
        }

        return null;
    }

    // ---- Update (the executor's progress) ----

    internal static (PlacementApplyResult, PlacementSnapshot) Update(PlacementSnapshot s, UpdateOperationCommand c)
    {
        if (!s.Ops.Operations.TryGetValue(c.Id ?? string.Empty, out var entry))
        {
            return (PlacementApplyResult.Refused(PlacementErrorCode.PlacementErrorNotFound, $"operation {c.Id} does not exist: nothing to update"), s);
        }

        var h = entry.Header;
        if (h.State != c.ExpectedState || h.CurrentStep != c.ExpectedStep || (c.ExpectedRevision != 0 && h.Revision != c.ExpectedRevision))
        {
            return (PlacementApplyResult.Refused(PlacementErrorCode.PlacementErrorConflict,
                $"update of operation {h.Id} refused: it expected {c.ExpectedState} at step {c.ExpectedStep}" +
                $"{(c.ExpectedRevision != 0 ? $" (revision {c.ExpectedRevision})" : string.Empty)} but the operation is {Describe(entry)} at revision {h.Revision}; " +
                "this update is late or a duplicate: re-read the operation and continue from where it stands", operation: entry), s);
        }

        if (entry.IsFinal)
        {
            return (PlacementApplyResult.Refused(PlacementErrorCode.PlacementErrorFailedPrecondition,
                $"operation {h.Id} has finished ({Describe(entry)}): nothing more can change"), s);
        }

        if (CheckUpdate(s, entry, c) is { } error)
        {
            return (PlacementApplyResult.Refused(error.Code, $"update of operation {h.Id} refused: {error.Message}"), s);
        }

        var batch = new Batch(s);
        string who = string.IsNullOrWhiteSpace(c.Who) ? h.RequestedBy : c.Who;
        var head = entry.PlanHead;
        var steps = entry.Steps;
        uint replans = h.Replans;

        // 1. A replan replaces the tail from replan_from on (the steps before it stand).
        if (c.Replanned is not null)
        {
            head = c.Replanned.Clone();
            head.Steps.Clear();
            batch.Put(OperationsRecords.OperationKey(OperationsRecords.KindPlanHead, h.Id), head);
            var builder = steps.ToBuilder();
            int oldCount = builder.Count;
            builder.RemoveRange((int)c.ReplanFrom, oldCount - (int)c.ReplanFrom);
            foreach (var planned in c.Replanned.Steps)
            {
                var step = planned.Clone();
                if (step.State == StepState.Unspecified)
                {
                    step.State = StepState.Pending;
                }

                builder.Add(step);
                batch.Put(OperationsRecords.StepKey(h.Id, step.Index), step);
            }

            for (int i = builder.Count; i < oldCount; i++)
            {
                batch.Delete(OperationsRecords.StepKey(h.Id, (uint)i));
            }

            steps = builder.ToImmutable();
            replans++;
            batch.Audit(new AuditEntry
            {
                AtMs = c.AtMs,
                Who = who,
                Action = AuditAction.Replanned,
                OperationId = h.Id,
                Kind = h.Spec.Kind,
                What = $"replanned from step {c.ReplanFrom}: {c.Replanned.Steps.Count} step(s) replace {oldCount - (int)c.ReplanFrom}",
                Reason = h.Reason,
                Outcome = "replanned",
            });
        }

        // 2. Step updates: only what the executor learns changes (state, epoch after, error, times, attempts).
        foreach (var update in c.Steps)
        {
            var old = steps[(int)update.Index];
            var step = old.Clone();
            step.State = update.State;
            step.EpochAfter = update.EpochAfter?.Clone();
            step.Error = update.Error;
            step.StartedMs = update.StartedMs;
            step.FinishedMs = update.FinishedMs;
            step.Attempts = update.Attempts;
            if (step.Equals(old))
            {
                continue;
            }

            steps = steps.SetItem((int)step.Index, step);
            batch.Put(OperationsRecords.StepKey(h.Id, step.Index), step);
            if (step.State == StepState.Done && old.State != StepState.Done)
            {
                batch.Audit(new AuditEntry
                {
                    AtMs = c.AtMs,
                    Who = who,
                    Action = AuditAction.StepDone,
                    OperationId = h.Id,
                    Kind = h.Spec.Kind,
                    What = $"step {step.Index}: {(step.Description.Length > 0 ? step.Description : step.Kind.ToString())}",
                    RangeId = step.RangeId,
                    EpochBefore = step.Epoch,
                    EpochAfter = step.EpochAfter,
                    Reason = h.Reason,
                    Outcome = "done",
                });
            }
        }

        // 3. The header: state, step, progress, stuck ranges, times.
        var header = h.Clone();
        header.State = c.State;
        header.CurrentStep = c.CurrentStep;
        if (c.Progress is not null)
        {
            header.Progress = c.Progress.Clone();
        }

        header.Stuck.Clear();
        header.Stuck.AddRange(c.Stuck.Select(x => x.Clone()));
        header.Replans = replans;
        header.UpdatedMs = c.AtMs;
        header.Revision = h.Revision + 1;
        if (h.State == OperationState.Pending && c.State != OperationState.Pending)
        {
            header.StartedMs = c.AtMs;
        }

        if (c.State == OperationState.Failed)
        {
            header.Failure = c.Failure;
        }

        if (OperationEntry.IsFinalState(c.State))
        {
            header.FinishedMs = c.AtMs;
            header.Stuck.Clear();
            var (action, outcome) = c.State switch
            {
                OperationState.Succeeded => (AuditAction.Succeeded, "succeeded"),
                OperationState.Failed => (AuditAction.Failed, $"failed: {c.Failure}"),
                _ => (AuditAction.Cancelled, $"cancelled at step {c.CurrentStep} of {steps.Count}"),
            };
            batch.Audit(new AuditEntry
            {
                AtMs = c.AtMs,
                Who = c.State == OperationState.Cancelled ? h.CancelledBy : who,
                Action = action,
                OperationId = h.Id,
                Kind = h.Spec.Kind,
                What = $"{SpecText(h.Spec)} {outcome}",
                RangeId = h.Spec.RangeId,
                Reason = h.Reason,
                Outcome = outcome,
            });
        }

        var after = new OperationEntry(header, head, steps);
        batch.Put(OperationsRecords.OperationKey(OperationsRecords.KindOperation, h.Id), header);
        batch.Ops = batch.Ops.WithOperation(after);
        AssertSteps(after);
        return batch.Done($"operation {h.Id} is {Describe(after)}", after);
    }

    private static Refusal? CheckUpdate(PlacementSnapshot s, OperationEntry entry, UpdateOperationCommand c)
    {
        var h = entry.Header;
        if (c.AtMs < 0)
        {
            return $"at_ms {c.AtMs} is negative: the proposer sets it from its clock";
        }

        bool allowed = (h.State, c.State) switch
        {
            (OperationState.Pending, OperationState.Running or OperationState.Succeeded or OperationState.Failed) => true,
            (OperationState.Running, OperationState.Running or OperationState.Succeeded or OperationState.Failed) => true,
            (OperationState.Running, OperationState.Cancelled) => h.CancelRequested,
            _ => false,
        };
        if (!allowed)
        {
            return c.State == OperationState.Cancelled
                ? Precondition($"the operation cannot be recorded CANCELLED from {h.State}{(h.CancelRequested ? string.Empty : " without a cancel request")}: cancel it with CancelOperation")
                : Precondition($"the operation cannot go from {h.State} to {c.State}: PENDING goes to RUNNING, SUCCEEDED or FAILED; RUNNING to SUCCEEDED, FAILED or (after a cancel request) CANCELLED");
        }

        int count = entry.Steps.Count;
        if (c.Replanned is not null)
        {
            if (c.ReplanFrom < c.ExpectedStep || c.ReplanFrom > count)
            {
                return $"replan_from {c.ReplanFrom} must lie between the current step {c.ExpectedStep} and the plan's end {count}: steps already driven are not replanned";
            }

            if ((long)c.ReplanFrom + c.Replanned.Steps.Count > MaxPlanSteps)
            {
                return $"the replanned plan would have more than {MaxPlanSteps} steps";
            }

            for (int i = 0; i < c.Replanned.Steps.Count; i++)
            {
                if (CheckStep(s, c.Replanned.Steps[i], c.ReplanFrom + (uint)i) is { } step)
                {
                    return Prefixed("replanned ", step);
                }
            }

            count = (int)c.ReplanFrom + c.Replanned.Steps.Count;
        }
        else if (c.ReplanFrom != 0)
        {
            return "replan_from is set without a replanned plan: send the recomputed plan with it";
        }

        var seen = new HashSet<uint>();
        foreach (var step in c.Steps)
        {
            if (step.Index >= count)
            {
                return $"step {step.Index} does not exist: the plan has {count} step(s)";
            }

            if (!seen.Add(step.Index))
            {
                return $"step {step.Index} is updated twice in one command";
            }

            if (step.State == StepState.Unspecified || !Enum.IsDefined(step.State))
            {
                return $"step {step.Index} has no state";
            }
        }

        if (c.CurrentStep < c.ExpectedStep || c.CurrentStep > count)
        {
            return $"current_step {c.CurrentStep} must lie between the expected step {c.ExpectedStep} and the plan's end {count}: steps are driven forward";
        }

        if (c.Stuck.Count > MaxStuckRanges)
        {
            return $"{c.Stuck.Count} stuck ranges: list at most {MaxStuckRanges} (the first ones) and count the rest in progress";
        }

        foreach (var stuck in c.Stuck)
        {
            if (stuck.RangeId == 0 || string.IsNullOrWhiteSpace(stuck.Reason))
            {
                return "a stuck range needs its range_id and a reason (no eligible store, snapshot failing, range mid-change, preflight refusal)";
            }
        }

        if (c.State == OperationState.Failed && string.IsNullOrWhiteSpace(c.Failure))
        {
            return "a FAILED operation needs its failure: say why, so the operator can act";
        }

        if (c.State == OperationState.Succeeded)
        {
            // Every step must have ended well, counting this command's own step updates.
            var updated = c.Steps.ToDictionary(x => x.Index, x => x.State);
            for (int i = 0; i < count; i++)
            {
                var state = updated.TryGetValue((uint)i, out var u) ? u
                    : c.Replanned is not null && i >= c.ReplanFrom ? c.Replanned.Steps[i - (int)c.ReplanFrom].State
                    : entry.Steps[i].State;
                if (state is not (StepState.Done or StepState.Skipped or StepState.Superseded))
                {
                    return Precondition($"the operation cannot succeed while step {i} is {state}: finish or skip it first");
                }
            }
        }

        return null;
    }

    // ---- Cancel ----

    internal static (PlacementApplyResult, PlacementSnapshot) Cancel(PlacementSnapshot s, CancelOperationCommand c)
    {
        if (!s.Ops.Operations.TryGetValue(c.Id ?? string.Empty, out var entry))
        {
            return (PlacementApplyResult.Refused(PlacementErrorCode.PlacementErrorNotFound,
                $"operation {c.Id} does not exist: list operations (`kvctl operation list`) for the id"), s);
        }

        if (string.IsNullOrWhiteSpace(c.Who) || c.AtMs < 0)
        {
            return Invalid(s, $"cancel of operation {c.Id} refused: who and a non-negative at_ms are required (the proposer sets them)");
        }

        var h = entry.Header;
        if (entry.IsFinal)
        {
            return (PlacementApplyResult.Refused(PlacementErrorCode.PlacementErrorFailedPrecondition,
                $"operation {h.Id} cannot be cancelled: it already finished as {Describe(entry)}", operation: entry), s);
        }

        if (h.Spec.Kind == OperationKind.DrainStore && ReplicasOn(s, h.Spec.StoreId, 1).Count == 0)
        {
            return (PlacementApplyResult.Refused(PlacementErrorCode.PlacementErrorFailedPrecondition,
                $"the drain {h.Id} of store {h.Spec.StoreId} cannot be cancelled: its last replica has left; let it finish, " +
                "then remove the store (`kvctl store remove`) or bring the node back on an empty data directory as a new store"), s);
        }

        if (h.CancelRequested)
        {
            return (PlacementApplyResult.Applied($"a cancel of operation {h.Id} was already requested by {h.CancelledBy}; it takes effect after the current step",
                [], operation: entry), s);
        }

        var header = h.Clone();
        header.CancelRequested = true;
        header.CancelledBy = c.Who;
        header.UpdatedMs = c.AtMs;
        header.Revision = h.Revision + 1;
        bool now = h.State == OperationState.Pending;
        if (now)
        {
            header.State = OperationState.Cancelled;
            header.FinishedMs = c.AtMs;
        }

        var batch = new Batch(s);
        var after = entry with { Header = header };
        batch.Put(OperationsRecords.OperationKey(OperationsRecords.KindOperation, h.Id), header);
        batch.Ops = batch.Ops.WithOperation(after);
        batch.Audit(new AuditEntry
        {
            AtMs = c.AtMs,
            Who = c.Who,
            Action = now ? AuditAction.Cancelled : AuditAction.CancelRequested,
            OperationId = h.Id,
            Kind = h.Spec.Kind,
            What = now ? $"cancelled {SpecText(h.Spec)} before it started" : $"asked to cancel {SpecText(h.Spec)} at step {h.CurrentStep} of {entry.Steps.Count}",
            RangeId = h.Spec.RangeId,
            Reason = c.Reason,
            Outcome = now ? "cancelled" : "cancel requested",
        });

        bool undrain = h.Spec.Kind == OperationKind.DrainStore && s.Ops.AdminState(h.Spec.StoreId) == StoreAdminState.Draining;
        if (undrain)
        {
            // A cancelled drain is an undrain, in the same apply: the store takes replicas again at
            // once (otherwise the scheduler would see a DRAINING store without a drain and resume
            // it). The step in flight may still move one replica off; the rest stay.
            SetAdmin(batch, h.Spec.StoreId, StoreAdminState.Active, c.Who, c.Reason.Length > 0 ? c.Reason : $"drain {h.Id} cancelled", c.AtMs,
                $"store {h.Spec.StoreId}: {StoreAdminState.Draining} -> {StoreAdminState.Active} (drain {h.Id} cancelled)");
        }

        string storeNote = undrain ? $"; store {h.Spec.StoreId} is ACTIVE again" : string.Empty;
        return batch.Done(now ? $"cancelled operation {h.Id}{storeNote}" : $"requested the cancel of operation {h.Id}: the current step {h.CurrentStep} finishes or rolls back first{storeNote}", after);
    }

    // ---- Store admin state and maintenance ----

    internal static (PlacementApplyResult, PlacementSnapshot) SetStoreAdminState(PlacementSnapshot s, SetStoreAdminStateCommand c)
    {
        if (!s.IsBootstrapped)
        {
            return (PlacementState.NotBootstrapped(), s);
        }

        if (CheckSetting(c.Who, c.AtMs) is { } bad)
        {
            return Invalid(s, $"store {c.StoreId}: {bad}");
        }

        if (!Enum.IsDefined(c.State))
        {
            return Invalid(s, $"store {c.StoreId}: admin state {(int)c.State} is unknown; this node may be older than the proposer: upgrade it");
        }

        if (!s.Stores.ContainsKey(c.StoreId))
        {
            return (PlacementApplyResult.Refused(PlacementErrorCode.PlacementErrorNotFound,
                $"store {c.StoreId} is not registered: list stores (`kvctl store list`) and use a current id"), s);
        }

        var from = s.Ops.AdminState(c.StoreId);
        if (from == c.State)
        {
            return (PlacementApplyResult.Applied($"store {c.StoreId} is already {from}", []), s);
        }

        if (WhyNotTransition(s, c.StoreId, from, c.State) is { } refused)
        {
            return (PlacementApplyResult.Refused(PlacementErrorCode.PlacementErrorFailedPrecondition, $"store {c.StoreId} stays {from}: {refused}"), s);
        }

        var batch = new Batch(s);
        SetAdmin(batch, c.StoreId, c.State, c.Who, c.Reason, c.AtMs, $"store {c.StoreId}: {from} -> {c.State}");
        return batch.Done($"store {c.StoreId} is now {c.State} (was {from})", null);
    }

    /// <summary>Writes the store's admin state (the caller checked the transition) and audits it as a setting.</summary>
    private static void SetAdmin(Batch batch, ulong storeId, StoreAdminState state, string who, string reason, long atMs, string what)
    {
        var record = batch.Ops.StoreAdmin.TryGetValue(storeId, out var old) ? old.Clone() : new StoreAdminRecord { StoreId = storeId };
        record.State = state;
        record.UpdatedBy = who;
        record.Reason = reason;
        record.UpdatedMs = atMs;
        if (state == StoreAdminState.Removed)
        {
            record.MaintenanceUntilMs = 0;
        }

        batch.Put(OperationsRecords.StoreAdminKey(storeId), record);
        batch.Ops = batch.Ops with { StoreAdmin = batch.Ops.StoreAdmin.SetItem(storeId, record) };
        batch.Audit(Setting(who, atMs, what, reason));
    }

    /// <summary>Null when <paramref name="from"/> -> <paramref name="to"/> is allowed now; otherwise why not and what to do.</summary>
    private static string? WhyNotTransition(PlacementSnapshot s, ulong storeId, StoreAdminState from, StoreAdminState to)
    {
        switch (from, to)
        {
            case (StoreAdminState.Active, StoreAdminState.Draining):
                int others = s.Stores.Keys.Count(id => id != storeId && s.Ops.AdminState(id) == StoreAdminState.Active);
                return others < s.Ops.ReplicationFactor
                    ? $"draining it would leave {others} active store(s) for a replication factor of {s.Ops.ReplicationFactor}, so its replicas would have nowhere to go: add a store first, or lower the replication factor"
                    : null;
            case (StoreAdminState.Draining, StoreAdminState.Active):
                // A running drain keeps its store DRAINING: the store goes ACTIVE with the drain's
                // cancel (one apply), never behind the drain's back, so no drain ever runs on a
                // store that takes new replicas.
                return s.Ops.Active.Values.FirstOrDefault(e => e.Header.Spec.Kind == OperationKind.DrainStore && e.Header.Spec.StoreId == storeId && !e.Header.CancelRequested) is { } drain
                    ? $"its drain {drain.Id} is running: cancel the drain (`kvctl store undrain {storeId}` does, and makes the store ACTIVE in the same step)"
                    : null;
            case (StoreAdminState.Draining, StoreAdminState.Drained):
            case (StoreAdminState.Drained, StoreAdminState.Removed):
                var held = ReplicasOn(s, storeId, 5);
                return held.Count == 0 ? null
                    : $"it still holds replicas (ranges {string.Join(", ", held)}{(held.Count == 5 ? ", ..." : string.Empty)}): wait until the drain has moved them all";
            case (StoreAdminState.Removed, _):
                return "a removed store is final: start the node on an empty data directory to join as a new store";
            case (StoreAdminState.Active, StoreAdminState.Drained or StoreAdminState.Removed):
                return $"drain it first (`kvctl store drain {storeId}`); it becomes DRAINED when its last replica has left, and only a drained store can be removed";
            case (StoreAdminState.Draining, StoreAdminState.Removed):
                return "wait until the drain has moved every replica off it (the store becomes DRAINED), then remove it";
            case (StoreAdminState.Drained, StoreAdminState.Active or StoreAdminState.Draining):
                return "a drained store holds nothing and is not undrained: remove it (`kvctl store remove`) and start the node on an empty data directory to use it again";
            default:
                return $"{from} -> {to} is not a store transition";
        }
    }

    internal static (PlacementApplyResult, PlacementSnapshot) SetStoreMaintenance(PlacementSnapshot s, SetStoreMaintenanceCommand c)
    {
        if (!s.IsBootstrapped)
        {
            return (PlacementState.NotBootstrapped(), s);
        }

        if (CheckSetting(c.Who, c.AtMs) is { } bad)
        {
            return Invalid(s, $"store {c.StoreId}: {bad}");
        }

        if (c.UntilMs != 0 && (c.UntilMs <= c.AtMs || c.UntilMs - c.AtMs > MaxMaintenanceMs))
        {
            return Invalid(s, $"store {c.StoreId}: a maintenance window must end after now and within 7 days (asked {c.UntilMs - c.AtMs} ms from now): use --for between 1s and 7d, or 0 to end it");
        }

        if (!s.Stores.ContainsKey(c.StoreId))
        {
            return (PlacementApplyResult.Refused(PlacementErrorCode.PlacementErrorNotFound,
                $"store {c.StoreId} is not registered: list stores (`kvctl store list`) and use a current id"), s);
        }

        if (s.Ops.AdminState(c.StoreId) == StoreAdminState.Removed)
        {
            return (PlacementApplyResult.Refused(PlacementErrorCode.PlacementErrorFailedPrecondition,
                $"store {c.StoreId} was removed: a removed store has no maintenance window"), s);
        }

        long current = s.Ops.MaintenanceUntilMs(c.StoreId);
        if (current == c.UntilMs || (c.UntilMs == 0 && current <= c.AtMs))
        {
            return (PlacementApplyResult.Applied(c.UntilMs == 0 ? $"store {c.StoreId} is not in maintenance" : $"store {c.StoreId} is already in maintenance until {c.UntilMs}", []), s);
        }

        var record = s.Ops.StoreAdmin.TryGetValue(c.StoreId, out var old) ? old.Clone() : new StoreAdminRecord { StoreId = c.StoreId };
        record.MaintenanceUntilMs = c.UntilMs;
        record.UpdatedBy = c.Who;
        record.Reason = c.Reason;
        record.UpdatedMs = c.AtMs;
        var batch = new Batch(s);
        batch.Put(OperationsRecords.StoreAdminKey(c.StoreId), record);
        batch.Ops = batch.Ops with { StoreAdmin = batch.Ops.StoreAdmin.SetItem(c.StoreId, record) };
        string what = c.UntilMs == 0 ? $"store {c.StoreId}: maintenance ended" : $"store {c.StoreId}: maintenance until {c.UntilMs} ({(c.UntilMs - c.AtMs) / 1000} s)";
        batch.Audit(Setting(c.Who, c.AtMs, what, c.Reason));
        return batch.Done(what, null);
    }

    // ---- Cluster settings ----

    internal static (PlacementApplyResult, PlacementSnapshot) SetClusterSettings(PlacementSnapshot s, SetClusterSettingsCommand c)
    {
        if (!s.IsBootstrapped)
        {
            return (PlacementState.NotBootstrapped(), s);
        }

        if (CheckSetting(c.Who, c.AtMs) is { } bad)
        {
            return Invalid(s, $"cluster settings: {bad}");
        }

        if (!c.HasReplicationFactor && !c.HasSchedulerPaused)
        {
            return Invalid(s, "cluster settings: nothing to set: give a replication factor or the scheduler's paused flag");
        }

        if (c.HasReplicationFactor)
        {
            if (c.ReplicationFactor is < MinReplicationFactor or > MaxReplicationFactor)
            {
                return Invalid(s, $"replication factor {c.ReplicationFactor} is outside {MinReplicationFactor}..{MaxReplicationFactor}: 3 tolerates one store failure, 5 tolerates two");
            }

            int active = s.Stores.Keys.Count(id => s.Ops.AdminState(id) == StoreAdminState.Active);
            if (c.ReplicationFactor > active && c.ReplicationFactor > s.Ops.ReplicationFactor)
            {
                return (PlacementApplyResult.Refused(PlacementErrorCode.PlacementErrorFailedPrecondition,
                    $"replication factor {c.ReplicationFactor} needs {c.ReplicationFactor} active stores but the cluster has {active}: add stores first"), s);
            }
        }

        var record = s.Ops.Settings?.Clone() ?? new ClusterSettingsRecord { ReplicationFactor = OperationsState.DefaultReplicationFactor };
        var batch = new Batch(s);
        if (c.HasReplicationFactor && c.ReplicationFactor != s.Ops.ReplicationFactor)
        {
            batch.Audit(Setting(c.Who, c.AtMs, $"replication factor {s.Ops.ReplicationFactor} -> {c.ReplicationFactor}", c.Reason));
            record.ReplicationFactor = c.ReplicationFactor;
        }

        if (c.HasSchedulerPaused && c.SchedulerPaused != s.Ops.SchedulerPaused)
        {
            batch.Audit(Setting(c.Who, c.AtMs, c.SchedulerPaused ? "scheduler paused" : "scheduler resumed", c.Reason));
            record.SchedulerPaused = c.SchedulerPaused;
        }

        if (batch.Ops.Audit == s.Ops.Audit)
        {
            return (PlacementApplyResult.Applied("the cluster settings are already as asked", []), s);
        }

        record.UpdatedBy = c.Who;
        record.Reason = c.Reason;
        record.UpdatedMs = c.AtMs;
        batch.Put(OperationsRecords.SettingsKey(), record);
        batch.Ops = batch.Ops with { Settings = record };
        return batch.Done($"cluster settings: replication factor {record.ReplicationFactor}, scheduler {(record.SchedulerPaused ? "paused" : "running")}", null);
    }

    // ---- Helpers ----

    /// <summary>Ids of up to <paramref name="limit"/> ranges with a replica on <paramref name="storeId"/>, in key order.</summary>
    internal static List<ulong> ReplicasOn(PlacementSnapshot s, ulong storeId, int limit)
    {
        var result = new List<ulong>();
        foreach (var range in s.RangesByStart)
        {
            if (result.Count >= limit)
            {
                break;
            }

            foreach (var replica in range.Replicas)
            {
                if (replica.StoreId == storeId)
                {
                    result.Add(range.RangeId);
                    break;
                }
            }
        }

        return result;
    }

    private static string? CheckSetting(string who, long atMs) =>
        string.IsNullOrWhiteSpace(who) ? "who is empty: the proposer sets the caller's identity"
        : atMs < 0 ? $"at_ms {atMs} is negative: the proposer sets it from its clock"
        : null;

    private static AuditEntry Setting(string who, long atMs, string what, string reason) => new()
    {
        AtMs = atMs,
        Who = who,
        Action = AuditAction.Setting,
        What = what,
        Reason = reason,
        Outcome = "applied",
    };

    internal static string Describe(OperationEntry entry) => entry.State switch
    {
        OperationState.Running => $"RUNNING step {entry.Header.CurrentStep + 1} of {entry.Steps.Count}{(entry.Header.CancelRequested ? ", cancel requested" : string.Empty)}",
        OperationState.Failed => $"FAILED: {entry.Header.Failure}",
        OperationState.Cancelled => $"CANCELLED by {entry.Header.CancelledBy}",
        var state => state.ToString().ToUpperInvariant(),
    };

    private static string SpecText(OperationSpec spec) => spec.Kind switch
    {
        OperationKind.Split => $"split of range {spec.RangeId}",
        OperationKind.AddReplica => $"add a replica of range {spec.RangeId} on store {spec.StoreId}",
        OperationKind.RemoveReplica => $"remove the replica of range {spec.RangeId} on store {spec.StoreId}",
        OperationKind.MoveReplica => $"move range {spec.RangeId}'s replica from store {spec.FromStoreId}{(spec.ToStoreId != 0 ? $" to store {spec.ToStoreId}" : string.Empty)}",
        OperationKind.TransferLeader => $"transfer range {spec.RangeId}'s leadership to store {spec.StoreId}",
        OperationKind.DrainStore => $"drain of store {spec.StoreId}",
        OperationKind.ReplaceStore => $"replacement of store {spec.StoreId}'s replicas",
        var kind => kind.ToString(),
    };

    /// <summary>Why a check refused a command, and the code it is refused with (plain text converts to INVALID_ARGUMENT).</summary>
    private sealed record Refusal(PlacementErrorCode Code, string Message)
    {
        public static implicit operator Refusal(string message) => new(PlacementErrorCode.PlacementErrorInvalidArgument, message);
    }

    private static Refusal NotFound(string message) => new(PlacementErrorCode.PlacementErrorNotFound, message);

    private static Refusal Precondition(string message) => new(PlacementErrorCode.PlacementErrorFailedPrecondition, message);

    private static Refusal Prefixed(string prefix, Refusal refusal) => refusal with { Message = prefix + refusal.Message };

    private static (PlacementApplyResult, PlacementSnapshot) Invalid(PlacementSnapshot s, string message) =>
        (PlacementApplyResult.Refused(PlacementErrorCode.PlacementErrorInvalidArgument, message), s);

    [Conditional("DEBUG")]
    private static void AssertSteps(OperationEntry entry)
    {
        for (int i = 0; i < entry.Steps.Count; i++)
        {
            Debug.Assert(entry.Steps[i].Index == i, $"operation {entry.Id}: step {i} has its index");
        }
    }

    /// <summary>The mutations and new state of one apply, with the audit entries it appends (and trims).</summary>
    internal sealed class Batch(PlacementSnapshot before)
    {
        private readonly List<KeyValuePair<byte[], byte[]?>> _mutations = [];

        public OperationsState Ops { get; set; } = before.Ops;

        public void Put(byte[] key, IMessage value) => _mutations.Add(new(key, OperationsRecords.Encode(value)));

        public void Delete(byte[] key) => _mutations.Add(new(key, null));

        /// <summary>Appends <paramref name="entry"/> with the next seq; drops the oldest entries beyond the bound (deterministically, so every member keeps the same ones).</summary>
        public void Audit(AuditEntry entry)
        {
            entry.Seq = Ops.LastAuditSeq + 1;
            var audit = Ops.Audit.Add(entry);
            _mutations.Add(new(OperationsRecords.AuditKey(entry.Seq), OperationsRecords.Encode(entry)));
            while (audit.Count > OperationsState.MaxAuditEntries)
            {
                _mutations.Add(new(OperationsRecords.AuditKey(audit[0].Seq), null));
                audit = audit.RemoveAt(0);
            }

            Ops = Ops with { Audit = audit };
        }

        public (PlacementApplyResult, PlacementSnapshot) Done(string message, OperationEntry? entry) =>
            (PlacementApplyResult.Applied(message, _mutations, operation: entry), before with { Ops = Ops });
    }
}

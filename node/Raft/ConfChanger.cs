namespace Kv.Node.Raft;

/// <summary>
/// Computes the config that results from a conf change, on copies, so a refused change leaves
/// nothing half-applied. Errors are returned as strings (they are recoverable: the entry is
/// committed but has no effect). Port of etcd's confchange.Changer.
/// </summary>
internal sealed class ConfChanger
{
    private readonly ProgressTracker tracker;
    private readonly ulong lastIndex;

    public ConfChanger(ProgressTracker tracker, ulong lastIndex)
    {
        this.tracker = tracker;
        this.lastIndex = lastIndex;
    }

    /// <summary>Dissertation 4.3: the joint config C_old,new, with C_old as the outgoing half.</summary>
    public string? EnterJoint(bool autoLeave, ConfChangeSingle[] changes, out TrackerConfig cfg, out Dictionary<ulong, Progress> prs)
    {
        (cfg, prs) = CheckAndCopy();
        if (cfg.IsJoint)
        {
            return "config is already joint";
        }

        if (cfg.Incoming.Count == 0)
        {
            return "can't make a zero-voter config joint";
        }

        cfg.Outgoing.UnionWith(cfg.Incoming);
        var err = Apply(cfg, prs, changes);
        if (err is not null)
        {
            return err;
        }

        cfg.AutoLeave = autoLeave;
        return CheckInvariants(cfg, prs);
    }

    /// <summary>Moves from C_old,new to C_new: outgoing voters not in C_new lose their progress.</summary>
    public string? LeaveJoint(out TrackerConfig cfg, out Dictionary<ulong, Progress> prs)
    {
        (cfg, prs) = CheckAndCopy();
        if (!cfg.IsJoint)
        {
            return "can't leave a non-joint config";
        }

        foreach (var id in cfg.LearnersNext)
        {
            cfg.Learners.Add(id);
            prs[id] = CopyWithLearner(prs[id], true);
        }

        cfg.LearnersNext.Clear();
        foreach (var id in cfg.Outgoing)
        {
            if (!cfg.Incoming.Contains(id) && !cfg.Learners.Contains(id))
            {
                prs.Remove(id);
            }
        }

        cfg.Outgoing.Clear();
        cfg.AutoLeave = false;
        return CheckInvariants(cfg, prs);
    }

    /// <summary>A change of at most one voter, applied directly (dissertation 4.1: single-server changes).</summary>
    public string? Simple(ConfChangeSingle[] changes, out TrackerConfig cfg, out Dictionary<ulong, Progress> prs)
    {
        (cfg, prs) = CheckAndCopy();
        if (cfg.IsJoint)
        {
            return "can't apply simple config change in joint config";
        }

        var err = Apply(cfg, prs, changes);
        if (err is not null)
        {
            return err;
        }

        var diff = new SortedSet<ulong>(tracker.Config.Incoming);
        diff.SymmetricExceptWith(cfg.Incoming);
        if (diff.Count > 1)
        {
            return "more than one voter changed without entering joint config";
        }

        return CheckInvariants(cfg, prs);
    }

    /// <summary>Builds the config recorded in a snapshot.</summary>
    public string? Restore(ConfState cs, out TrackerConfig cfg, out Dictionary<ulong, Progress> prs)
    {
        cfg = new TrackerConfig { AutoLeave = cs.AutoLeave };
        prs = [];
        cfg.Incoming.UnionWith(cs.Voters);
        cfg.Outgoing.UnionWith(cs.VotersOutgoing);
        cfg.Learners.UnionWith(cs.Learners);
        cfg.LearnersNext.UnionWith(cs.LearnersNext);
        foreach (var id in cfg.Incoming.Concat(cfg.Outgoing).Concat(cfg.Learners))
        {
            if (!prs.ContainsKey(id))
            {
                prs[id] = NewProgress(cfg.Learners.Contains(id));
            }
        }

        return CheckInvariants(cfg, prs);
    }

    private Progress NewProgress(bool isLearner) =>
        new(lastIndex + 1, tracker.MaxInflight, isLearner) { RecentActive = true };

    private (TrackerConfig, Dictionary<ulong, Progress>) CheckAndCopy()
    {
        var cfg = tracker.Config.Clone();
        // Progress objects are shared with the live tracker except where a change touches them;
        // IsLearner is the only field a change writes, so copy those on write (see MakeVoter/MakeLearner).
        var prs = new Dictionary<ulong, Progress>(tracker.Progress);
        return (cfg, prs);
    }

    private string? Apply(TrackerConfig cfg, Dictionary<ulong, Progress> prs, ConfChangeSingle[] changes)
    {
        foreach (var cc in changes)
        {
            if (cc.NodeId == 0)
            {
                continue;
            }

            switch (cc.Type)
            {
                case ConfChangeType.AddNode:
                    MakeVoter(cfg, prs, cc.NodeId);
                    break;
                case ConfChangeType.AddLearnerNode:
                    MakeLearner(cfg, prs, cc.NodeId);
                    break;
                case ConfChangeType.RemoveNode:
                    Remove(cfg, prs, cc.NodeId);
                    break;
                default:
                    return $"unexpected conf type {cc.Type}";
            }
        }

        return cfg.Incoming.Count == 0 ? "removed all voters" : null;
    }

    private void MakeVoter(TrackerConfig cfg, Dictionary<ulong, Progress> prs, ulong id)
    {
        if (!prs.TryGetValue(id, out var pr))
        {
            cfg.Incoming.Add(id);
            prs[id] = NewProgress(false);
            return;
        }

        prs[id] = CopyWithLearner(pr, false);
        cfg.Learners.Remove(id);
        cfg.LearnersNext.Remove(id);
        cfg.Incoming.Add(id);
    }

    private void MakeLearner(TrackerConfig cfg, Dictionary<ulong, Progress> prs, ulong id)
    {
        if (!prs.TryGetValue(id, out var pr))
        {
            cfg.Learners.Add(id);
            prs[id] = NewProgress(true);
            return;
        }

        if (pr.IsLearner)
        {
            return;
        }

        // Remove any existing voter in the incoming config, then (if it is still an outgoing
        // voter) stage it in LearnersNext: a member cannot be voter and learner at once.
        Remove(cfg, prs, id);
        if (cfg.Outgoing.Contains(id))
        {
            prs[id] = pr;
            cfg.LearnersNext.Add(id);
        }
        else
        {
            prs[id] = CopyWithLearner(pr, true);
            cfg.Learners.Add(id);
        }
    }

    private static void Remove(TrackerConfig cfg, Dictionary<ulong, Progress> prs, ulong id)
    {
        if (!prs.ContainsKey(id))
        {
            return;
        }

        cfg.Incoming.Remove(id);
        cfg.Learners.Remove(id);
        cfg.LearnersNext.Remove(id);
        if (!cfg.Outgoing.Contains(id))
        {
            prs.Remove(id);
        }
    }

    private Progress CopyWithLearner(Progress pr, bool isLearner)
    {
        var copy = new Progress(pr.Next, tracker.MaxInflight, isLearner)
        {
            Match = pr.Match,
            RecentActive = pr.RecentActive,
        };
        copy.BecomeProbe();
        return copy;
    }

    private static string? CheckInvariants(TrackerConfig cfg, Dictionary<ulong, Progress> prs)
    {
        foreach (var id in cfg.Incoming.Concat(cfg.Outgoing).Concat(cfg.Learners).Concat(cfg.LearnersNext))
        {
            if (!prs.ContainsKey(id))
            {
                return $"no progress for {id}";
            }
        }

        foreach (var id in cfg.LearnersNext)
        {
            if (!cfg.Outgoing.Contains(id))
            {
                return $"{id} is in LearnersNext, but not Voters[1]";
            }

            if (prs[id].IsLearner)
            {
                return $"{id} is in LearnersNext, but is already marked as learner";
            }
        }

        foreach (var id in cfg.Learners)
        {
            if (cfg.Outgoing.Contains(id))
            {
                return $"{id} is in Learners and Voters[1]";
            }

            if (cfg.Incoming.Contains(id))
            {
                return $"{id} is in Learners and Voters[0]";
            }

            if (!prs[id].IsLearner)
            {
                return $"{id} is in Learners, but is not marked as learner";
            }
        }

        if (!cfg.IsJoint)
        {
            if (cfg.LearnersNext.Count > 0)
            {
                return "cfg.LearnersNext must be nil when not joint";
            }

            if (cfg.AutoLeave)
            {
                return "AutoLeave must be false when not joint";
            }
        }

        return null;
    }
}

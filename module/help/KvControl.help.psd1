# The one source of KvControl's cmdlet help. Build-KvControlHelp.ps1 turns it, with each cmdlet's
# syntax and parameters as the built module declares them, into en-US/KvControl.dll-Help.xml (MAML,
# what Get-Help reads; platyPS is not available here). Edit this file, then run:
#   artifacts/tools/pwsh/pwsh -NoProfile -File module/help/Build-KvControlHelp.ps1
# tests/pester/KvControl.Help.Tests.ps1 fails when the XML is not what this file makes.
# Parameters: a cmdlet's own text wins over Common's. Examples run against a connected cluster.
@{
    Common = @{
        Endpoint      = 'host:port of one or more nodes (a list or comma-separated) to use for this call instead of the session''s connection (Connect-KvCluster).'
        CaCertificate = 'With -Endpoint: the CA certificate (PEM or DER) the nodes'' certificates chain to; dials TLS and trusts only that CA.'
        ClientCertificate = 'With -CaCertificate, for a secure cluster (mutual TLS): the client certificate (PEM) to present; its role (admin or client) decides what may be done. kvctl cert create-client makes one.'
        ClientKey     = 'The private key (PEM) of -ClientCertificate.'
        Reason        = 'Why: recorded in the operation and the audit log.'
        NoWait        = 'Return once the operation is submitted, with its record; follow it with Wait-KvOperation.'
        Force         = 'Override a preflight refusal (the plan leaves some range one failure from losing quorum). Needs -Reason; audited.'
        Id            = 'The operation id (A-Z a-z 0-9 . _ -, at most 128). Running the cmdlet again with the same id and content follows the recorded operation instead of starting a second one.'
        WhatIf        = 'Show what would happen and change nothing. For the cmdlets that submit an operation this is the dry run: it writes the plan and its preflight.'
        Confirm       = 'Ask before changing anything.'
        PassThru      = 'Write the changed record.'
        Hex           = 'Keys (and values) are hex, such as 0x6b31 or 6b31, instead of UTF-8 text.'
        StoreId       = 'The store id (a number, or a StoreView through the pipeline). Tab completes it from the connected cluster.'
        RangeId       = 'The range id (a number, or a RangeView through the pipeline). Tab completes it from the connected cluster.'
    }

    Cmdlets = @{
        'Get-KvVersion' = @{
            Synopsis    = 'Gets the version of the KvControl module, its client library and the .NET runtime.'
            Description = 'Touches no cluster. Use it in bug reports.'
            Examples    = @(@{ Code = 'Get-KvVersion'; Remarks = 'Shows the module, client and framework versions.' })
        }
        'Connect-KvCluster' = @{
            Synopsis    = 'Connects this PowerShell session to a cluster.'
            Description = 'Checks that the cluster answers (it lists the stores through the placement leader), then makes the connection the default of this runspace for every other cmdlet, replacing and closing an earlier one, and writes it. A cluster that does not answer within 10 seconds is refused (ResourceUnavailable) and the earlier connection stays.'
            Parameters  = @{ Endpoint = 'host:port of one or more nodes (a list or comma-separated); the client finds the placement leader from any of them. kvctl local up prints them.' }
            Examples    = @(
                @{ Code = 'Connect-KvCluster -Endpoint 127.0.0.1:7401,127.0.0.1:7402'; Remarks = 'Connects to a local cluster through two of its nodes.' }
                @{ Code = 'Connect-KvCluster -Endpoint kv-0.kv:7400 -CaCertificate ./ca.pem'; Remarks = 'Connects over TLS, trusting only the cluster''s CA.' }
                @{ Code = 'Connect-KvCluster -Endpoint kv-0.kv:7400 -CaCertificate ./certs/ca.crt -ClientCertificate ./certs/ops.crt -ClientKey ./certs/ops.key'; Remarks = 'Connects to a secure cluster with mutual TLS as the admin certificate ops (kvctl cert create-client --role admin --name ops).' }
            )
        }
        'Disconnect-KvCluster' = @{
            Synopsis    = 'Closes the session''s connection.'
            Description = 'Closes the default connection that Connect-KvCluster made. Without one it does nothing.'
            Parameters  = @{ PassThru = 'Write the connection that was closed.' }
            Examples    = @(@{ Code = 'Disconnect-KvCluster -PassThru'; Remarks = 'Closes the connection and shows which one it was.' })
        }
        'Get-KvCluster' = @{
            Synopsis    = 'Gets the cluster''s identity and shape: placement members and leader, stores up, ranges, replication factor.'
            Description = 'The same facts as kvctl cluster status, as a ClusterView. A cluster not bootstrapped yet is not an error: Bootstrapped is false. ReplicationFactor is empty when the admin API does not answer it.'
            Examples    = @(
                @{ Code = 'Get-KvCluster'; Remarks = 'Shows the cluster id, the placement leader, stores up and ranges.' }
                @{ Code = '(Get-KvCluster).PlacementMembers'; Remarks = 'Lists the placement members with their addresses.' }
            )
        }
        'Get-KvValue' = @{
            Synopsis    = 'Reads keys, or lists the pairs of a key range, in one snapshot-isolated transaction.'
            Description = 'The keys of one call are read at the same snapshot (kvctl kv get). A missing key writes a non-terminating KeyNotFound error (ObjectNotFound) and the other keys are still read; add -ErrorAction SilentlyContinue to skip missing keys. With -StartKey it lists the pairs with keys in [StartKey, EndKey) instead (kvctl kv scan). Each KvValue has Key and Value as text, KeyBytes and ValueBytes as bytes, and the Timestamp of the snapshot.'
            Parameters  = @{
                Key        = 'The keys to read (UTF-8 text, or hex with -Hex). Takes strings and objects with a Key property from the pipeline.'
                StartKey   = 'List the pairs from this key (inclusive); '''' for the start of the key space.'
                EndKey     = 'List the pairs below this key (exclusive); '''' (the default) for the end of the key space.'
                Limit      = 'List at most this many pairs (default 100; 0 for no limit).'
                Descending = 'List in descending key order, from just below -EndKey.'
            }
            Examples    = @(
                @{ Code = 'Get-KvValue -Key greeting'; Remarks = 'Reads one key.' }
                @{ Code = 'Get-KvValue -StartKey fruit/ -EndKey fruit0'; Remarks = 'Lists every key that starts with fruit/.' }
                @{ Code = "'a', 'b' | Get-KvValue -ErrorAction SilentlyContinue"; Remarks = 'Reads the keys that exist of a and b.' }
            )
        }
        'Set-KvValue' = @{
            Synopsis    = 'Writes one key, as one transaction.'
            Description = 'Commits the value with Percolator two-phase commit (kvctl kv put); each input record is its own transaction. Use Invoke-KvTransaction to write several keys atomically. A WriteConflict (ResourceBusy) means nothing was written: run it again.'
            Parameters  = @{
                Key      = 'The key (UTF-8 text, or hex with -Hex); binds by property name from the pipeline.'
                Value    = 'The value (UTF-8 text, or hex with -Hex); may be empty; binds by property name from the pipeline.'
                PassThru = 'Write the KvValue written, with its commit timestamp.'
            }
            Examples    = @(
                @{ Code = 'Set-KvValue -Key greeting -Value hello -PassThru'; Remarks = 'Writes a key and shows its commit timestamp.' }
                @{ Code = "Import-Csv ./settings.csv | Set-KvValue"; Remarks = 'Writes each row''s Key and Value columns.' }
            )
        }
        'Remove-KvValue' = @{
            Synopsis    = 'Deletes keys.'
            Description = 'Deletes the keys of one input record in one transaction (kvctl kv delete); deleting a missing key succeeds. The data is gone for good, so it asks first (ConfirmImpact High); -Force deletes without asking, and -WhatIf still only says what would happen.'
            Parameters  = @{
                Key      = 'The keys to delete (UTF-8 text, or hex with -Hex). Takes strings and objects with a Key property (a KvValue) from the pipeline.'
                Force    = 'Delete without asking.'
                PassThru = 'Write a KvValue (with an empty Value) for each key deleted, with the commit timestamp.'
            }
            Examples    = @(
                @{ Code = 'Remove-KvValue -Key greeting -Force'; Remarks = 'Deletes one key without asking.' }
                @{ Code = 'Get-KvValue -StartKey tmp/ -EndKey tmp0 | Remove-KvValue -WhatIf'; Remarks = 'Shows which keys under tmp/ would be deleted, and deletes nothing.' }
            )
        }
        'Invoke-KvTransaction' = @{
            Synopsis    = 'Runs a scriptblock as one snapshot-isolated transaction and commits its writes atomically.'
            Description = 'The scriptblock gets the transaction as its first argument (and as $_): $txn.Get(key) returns the value as text or $null, $txn.Put(key, value) and $txn.Delete(key) buffer writes, $txn.Scan(start, end, limit) lists pairs; GetBytes and byte[] overloads take binary data. Reads see the transaction''s snapshot plus its own writes. When the scriptblock ends its writes commit at once (all or none), and only then is its output written. A scriptblock that throws commits nothing. A WriteConflict or TxnAborted error (ResourceBusy) means nothing was committed: run the whole Invoke-KvTransaction again. CommitOutcomeUnknown (OperationTimeout) is never retried: read the keys to learn whether it committed. -WhatIf runs the scriptblock (its reads are real) and discards its writes.'
            Parameters  = @{
                ScriptBlock = 'The work, for example { param($txn) $txn.Put(''a'', $txn.Get(''b'')) }.'
                PassThru    = 'After the commit also write a KvTransactionResult: StartTs, CommitTs and the writes.'
            }
            Examples    = @(
                @{ Code = "Invoke-KvTransaction { param(`$txn) `$txn.Put('fruit/apple', 'green'); `$txn.Delete('greeting') } -PassThru"; Remarks = 'Writes one key and deletes another atomically, and shows the commit.' }
                @{ Code = "Invoke-KvTransaction { param(`$txn) `$n = [int]`$txn.Get('counter'); `$txn.Put('counter', `"`$(`$n + 1)`"); `$n + 1 }"; Remarks = 'Increments a counter; a concurrent increment makes one of them fail with WriteConflict rather than lose an update.' }
            )
        }
        'Get-KvOperation' = @{
            Synopsis    = 'Gets operations: one by id, or the newest first.'
            Description = 'Operations are placement''s durable records of administrative actions (drains, splits, replica moves), as kvctl operation list and show print them.'
            Parameters  = @{
                Id    = 'The operation to get. Tab completes it from the connected cluster.'
                State = 'Only operations in these states: Pending, Running, Succeeded, Failed, Cancelled.'
                Limit = 'At most this many, newest first (1 to 1000; default 100).'
            }
            Examples    = @(
                @{ Code = 'Get-KvOperation -State Running'; Remarks = 'Lists the running operations.' }
                @{ Code = 'Get-KvOperation -Id demo-drain-3 | Format-List *'; Remarks = 'Shows every field of one operation.' }
            )
        }
        'Wait-KvOperation' = @{
            Synopsis    = 'Waits for an operation to finish, showing its progress.'
            Description = 'Follows the operation with Write-Progress (step k of n, ranges done and left, ETA) and writes its final record. When it failed or was cancelled it also writes an error (OperationFailed, OperationCancelled), so -ErrorAction Stop stops a runbook there. -Timeout and Ctrl+C stop the waiting, never the operation.'
            Parameters  = @{
                Id      = 'The operation to wait for (an OperationView from the pipeline binds too). Tab completes it from the connected cluster.'
                Timeout = 'Seconds to wait at most (default: until it finishes); then an OperationTimeout error.'
            }
            Examples    = @(
                @{ Code = 'Start-KvStoreDrain -StoreId 3 -Reason ''replace disk'' -NoWait | Wait-KvOperation -Timeout 1800'; Remarks = 'Drains store 3 and waits at most 30 minutes.' }
            )
        }
        'Stop-KvOperation' = @{
            Synopsis    = 'Cancels an operation.'
            Description = 'A pending operation is cancelled at once, a running one after its current step; what finished steps did stays done. A finished operation is refused by placement (FailedPrecondition) and nothing changes.'
            Parameters  = @{ Id = 'The operation to cancel (an OperationView from the pipeline binds too). Tab completes it from the connected cluster.' }
            Examples    = @(@{ Code = 'Get-KvOperation -State Running | Stop-KvOperation -Reason ''maintenance freeze'''; Remarks = 'Cancels every running operation.' })
        }
        'Get-KvStore' = @{
            Synopsis    = 'Gets the stores: admin state, liveness, load and labels.'
            Description = 'Every store as placement knows it (kvctl store list), or those -StoreId names; a store that does not exist is a non-terminating StoreNotFound error.'
            Parameters  = @{ StoreId = 'Only these stores. Tab completes them from the connected cluster.' }
            Examples    = @(
                @{ Code = 'Get-KvStore'; Remarks = 'Lists the stores.' }
                @{ Code = 'Get-KvStore | Where-Object Liveness -ne Up'; Remarks = 'Lists the stores that are not up.' }
            )
        }
        'Start-KvStoreDrain' = @{
            Synopsis    = 'Drains a store: moves every replica and leader off it, as an operation.'
            Description = 'Submits a DrainStore operation and, unless -NoWait, waits for it with progress. The preflight refuses a drain that would leave a range one failure from losing quorum unless -Force -Reason. Stop-KvStoreDrain cancels it until its last replica leaves.'
            Examples    = @(
                @{ Code = 'Start-KvStoreDrain -StoreId 3 -WhatIf'; Remarks = 'Shows the plan and its preflight; submits nothing.' }
                @{ Code = 'Get-KvStore -StoreId 3 | Start-KvStoreDrain -Reason ''replace disk'' -Id drain-3'; Remarks = 'Drains store 3 and waits; running it again follows the same operation.' }
            )
        }
        'Stop-KvStoreDrain' = @{
            Synopsis    = 'Stops a drain; the store is active again.'
            Description = 'Cancels the store''s drain while it still holds a replica (kvctl store undrain); what already moved stays. A removed store is refused.'
            Examples    = @(@{ Code = 'Stop-KvStoreDrain -StoreId 3 -Reason ''disk replaced'''; Remarks = 'Makes store 3 active again.' })
        }
        'Remove-KvStore' = @{
            Synopsis    = 'Removes a drained store for good.'
            Description = 'The store becomes Removed and may never register again (its node needs an empty data directory to rejoin). It asks first (ConfirmImpact High); -Force removes without asking and, being the unattended path, needs -Reason.'
            Parameters  = @{ Force = 'Remove without asking. Needs -Reason.' }
            Examples    = @(@{ Code = 'Remove-KvStore -StoreId 3 -Force -Reason ''decommissioned'''; Remarks = 'Removes the drained store 3 without asking.' })
        }
        'Set-KvStoreMaintenance' = @{
            Synopsis    = 'Opens or ends a maintenance window on a store.'
            Description = 'During the window the scheduler does not replace the store''s replicas when it goes down. At most 7 days; a zero duration ends the window now.'
            Parameters  = @{ Duration = 'How long, as a TimeSpan (''00:30:00'', New-TimeSpan -Hours 2); 0 ends the window.' }
            Examples    = @(@{ Code = 'Set-KvStoreMaintenance -StoreId 2 -Duration (New-TimeSpan -Minutes 30) -Reason ''kernel update'''; Remarks = 'Opens a 30-minute window on store 2.' })
        }
        'Get-KvRange' = @{
            Synopsis    = 'Gets the ranges: key span, epoch, replicas and leader.'
            Description = 'Placement''s range directory (kvctl range list, range show), or the ranges -RangeId names; a range that does not exist is a non-terminating RangeNotFound error.'
            Parameters  = @{ RangeId = 'Only these ranges. Tab completes them from the connected cluster.' }
            Examples    = @(
                @{ Code = 'Get-KvRange'; Remarks = 'Lists the ranges.' }
                @{ Code = 'Get-KvRange | Where-Object { $_.Replicas.StoreId.Value -contains 3 }'; Remarks = 'Lists the ranges with a replica on store 3.' }
            )
        }
        'Split-KvRange' = @{
            Synopsis    = 'Splits a range at a key, as an operation.'
            Description = 'The range keeps [start, Key) and a new range takes [Key, end); no data moves. Without -RangeId the range holding the key is found in placement''s directory and the plan is fenced on the epoch read there, so a range that changed meanwhile refuses it.'
            Parameters  = @{
                Key     = 'The first key of the new right-hand range (UTF-8 text, or hex with -Hex); strictly inside the range.'
                RangeId = 'The range to split (default: the one holding -Key). Tab completes it from the connected cluster.'
                Hex     = '-Key is hex (0x6b31 or 6b31) instead of UTF-8 text.'
            }
            Examples    = @(
                @{ Code = 'Split-KvRange -Key user/m -Reason ''hot range'''; Remarks = 'Splits the range holding user/m at user/m and waits for the split.' }
                @{ Code = 'Split-KvRange -Key user/m -WhatIf'; Remarks = 'Shows the plan; splits nothing.' }
            )
        }
        'Move-KvRangeLeader' = @{
            Synopsis    = 'Moves a range''s leadership to another of its voters, as an operation.'
            Description = 'Submits a TransferLeader operation (kvctl range transfer-leader). Also known as Move-KvLeader.'
            Parameters  = @{ StoreId = 'The store that should lead; it must hold a voter of the range. Tab completes it from the connected cluster.' }
            Examples    = @(@{ Code = 'Get-KvRange -RangeId 1 | Move-KvRangeLeader -StoreId 2 -WhatIf'; Remarks = 'Shows the plan to move range 1''s leadership to store 2.' })
        }
        'Add-KvReplica' = @{
            Synopsis    = 'Adds a replica of a range on a store, as an operation.'
            Description = 'A learner is added on the store, gets a snapshot, catches up and is then promoted to voter.'
            Parameters  = @{ StoreId = 'The store that gets the replica (Up, holding none of the range). Tab completes it from the connected cluster.' }
            Examples    = @(@{ Code = 'Add-KvReplica -RangeId 1 -StoreId 4 -Reason ''fourth copy'''; Remarks = 'Adds a replica of range 1 on store 4 and waits.' })
        }
        'Remove-KvReplica' = @{
            Synopsis    = 'Removes a range''s replica from a store, as an operation.'
            Description = 'Leadership moves off the store first. The last voter is refused, and so is a removal the preflight finds unsafe unless -Force -Reason.'
            Parameters  = @{ StoreId = 'The store whose replica is removed. Tab completes it from the connected cluster.' }
            Examples    = @(@{ Code = 'Remove-KvReplica -RangeId 1 -StoreId 4 -WhatIf'; Remarks = 'Shows the plan and its preflight; removes nothing.' })
        }
        'Move-KvReplica' = @{
            Synopsis    = 'Moves a range''s replica from one store to another, as an operation.'
            Description = 'Learner on the target, catch-up, one joint-consensus swap, source removed; failure tolerance never drops during the move. Without -ToStoreId the planner picks a store, respecting failure domains.'
            Parameters  = @{
                FromStoreId = 'The store the replica leaves. Tab completes it from the connected cluster.'
                ToStoreId   = 'The store the replica moves to (Up); default: the planner picks one. Tab completes it from the connected cluster.'
            }
            Examples    = @(@{ Code = 'Move-KvReplica -RangeId 1 -FromStoreId 3 -ToStoreId 4 -Reason ''rebalance'''; Remarks = 'Moves range 1''s replica from store 3 to store 4 and waits.' })
        }
        'Get-KvSchedulerStatus' = @{
            Synopsis    = 'Gets the scheduler''s status: paused or not, and what it did last.'
            Description = 'The scheduler proposes operations on its own (replace replicas of dead stores, drain draining stores, balance, split). kvctl scheduler status.'
            Examples    = @(@{ Code = 'Get-KvSchedulerStatus'; Remarks = 'Shows whether the scheduler runs.' })
        }
        'Suspend-KvScheduler' = @{
            Synopsis    = 'Pauses the scheduler.'
            Description = 'The scheduler proposes no operation until Resume-KvScheduler; operations already submitted continue. Audited with -Reason.'
            Parameters  = @{ Reason = 'Why (recorded in the audit log).'; PassThru = 'Write the scheduler''s status after the change.' }
            Examples    = @(@{ Code = 'Suspend-KvScheduler -Reason ''maintenance'' -PassThru'; Remarks = 'Pauses the scheduler and shows its status.' })
        }
        'Resume-KvScheduler' = @{
            Synopsis    = 'Resumes the scheduler.'
            Description = 'The scheduler proposes operations again. Audited with -Reason.'
            Parameters  = @{ Reason = 'Why (recorded in the audit log).'; PassThru = 'Write the scheduler''s status after the change.' }
            Examples    = @(@{ Code = 'Resume-KvScheduler -Reason ''maintenance over'''; Remarks = 'Resumes the scheduler.' })
        }
        'Get-KvAuditEntry' = @{
            Synopsis    = 'Gets audit log entries: who did what, when, and why.'
            Description = 'Every operation and override is written to placement''s audit log with the epochs before and after and the reason (kvctl audit list).'
            Parameters  = @{
                Since       = 'Only entries at or after this time.'
                OperationId = 'Only the entries of this operation. Tab completes it from the connected cluster.'
                Limit       = 'At most this many entries.'
            }
            Examples    = @(@{ Code = 'Get-KvAuditEntry -Since (Get-Date).AddHours(-1)'; Remarks = 'Shows the last hour''s entries.' })
        }
    }
}

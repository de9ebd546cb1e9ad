# The operation cmdlets against a real cluster: BeforeAll starts `kvctl local up --nodes 4` (real
# kv-node processes on 127.0.0.1, from the build's own kvctl and kv-node), AfterAll stops it and
# deletes its directory, also when a test or BeforeAll failed. The Its run in order and build on
# each other (dry run, refusals, drain, wait, audit, cancel of the finished drain), as a runbook would.
# Needs ./kv.sh build first (the module, kvctl and kv-node in their Debug outputs).

BeforeAll {
    $RepoRoot = (Resolve-Path -LiteralPath (Join-Path $PSScriptRoot '../..')).ProviderPath
    $ModuleManifest = Join-Path $RepoRoot 'module/bin/Debug/net10.0/KvControl.psd1'
    $Kvctl = Join-Path $RepoRoot 'cli/bin/Debug/net10.0/kvctl.dll'
    $KvNode = Join-Path $RepoRoot 'node/bin/Debug/net10.0/kv-node.dll'
    foreach ($built in $ModuleManifest, $Kvctl, $KvNode) {
        if (-not (Test-Path -LiteralPath $built)) {
            throw "'$built' does not exist: run ./kv.sh build first (these tests run the built module, kvctl and kv-node)."
        }
    }

    Get-Module -Name KvControl | Remove-Module -Force
    Import-Module -Name $ModuleManifest -Force -ErrorAction Stop

    # Everything of this run lives in one temp folder: the cluster, kvctl's context (so the user's
    # own context is never touched) and kvctl's stderr.
    $Work = Join-Path ([System.IO.Path]::GetTempPath()) "kvcontrol-pester-$([guid]::NewGuid().ToString('N'))"
    $ClusterDir = Join-Path $Work 'local'
    New-Item -ItemType Directory -Path $Work | Out-Null
    $SavedEnvironment = @{ KVCTL_CONTEXT = $env:KVCTL_CONTEXT; KV_NODE_BIN = $env:KV_NODE_BIN }
    $env:KVCTL_CONTEXT = Join-Path $Work 'kvctl-context.json'
    $env:KV_NODE_BIN = $KvNode

    # Runs the built kvctl; returns its stdout, throws with its stderr when it exits non-zero.
    function Invoke-Kvctl {
        $stderr = Join-Path $Work 'kvctl.stderr'
        $stdout = & dotnet $Kvctl @args 2> $stderr
        if ($LASTEXITCODE -ne 0) {
            throw "kvctl $($args -join ' ') exited $LASTEXITCODE`: $(Get-Content -LiteralPath $stderr -Raw)"
        }
        $stdout -join "`n"
    }

    # Waits until $Condition returns a truthy value (which it returns), or fails after $Seconds
    # naming $What: state that converges (heartbeat statistics) is awaited, never slept for.
    function Wait-Until([scriptblock] $Condition, [string] $What, [int] $Seconds = 60) {
        $deadline = [DateTime]::UtcNow.AddSeconds($Seconds)
        while ($true) {
            $result = & $Condition
            if ($result) { return $result }
            if ([DateTime]::UtcNow -gt $deadline) { throw "timed out after $Seconds s waiting until $What" }
            Start-Sleep -Milliseconds 200
        }
    }

    try {
        $up = Invoke-Kvctl local up --nodes 4 --dir $ClusterDir --timeout 180 -o json | ConvertFrom-Json
    }
    catch {
        # AfterAll stops whatever did start; say what failed here.
        throw "kvctl local up failed: $_"
    }
    $Endpoints = @($up.endpoints)
    $Connection = Connect-KvCluster -Endpoint $Endpoints

    # The store to drain: one that holds a replica of range 1 (3 of the 4 stores do), preferring
    # one that does not lead it.
    $range = Get-KvRange | Select-Object -First 1
    $holders = @($range.Replicas | ForEach-Object { $_.StoreId.Value })
    $Drained = @($holders | Where-Object { $_ -ne $range.Leader.StoreId.Value })[0]
    if (-not $Drained) { $Drained = $holders[0] }
    $DrainId = "pester-drain-$([guid]::NewGuid().ToString('N').Substring(0, 8))"
}

AfterAll {
    Disconnect-KvCluster
    if ($ClusterDir -and (Test-Path -LiteralPath $ClusterDir)) {
        & dotnet $Kvctl local down --dir $ClusterDir --timeout 10 2>&1 | Write-Host
    }
    if ($SavedEnvironment) {
        $env:KVCTL_CONTEXT = $SavedEnvironment.KVCTL_CONTEXT
        $env:KV_NODE_BIN = $SavedEnvironment.KV_NODE_BIN
    }
    if ($Work) {
        Remove-Item -LiteralPath $Work -Recurse -Force -ErrorAction SilentlyContinue
    }
    Get-Module -Name KvControl | Remove-Module -Force
}

Describe 'KvControl operations against a local 4-node cluster' {
    It 'Connect-KvCluster writes the connection it made the default' {
        $Connection | Should -BeOfType ([Kv.PowerShell.Connection.KvConnection])
        @($Connection.Endpoints) | Should -Be $Endpoints
        $Connection.PlacementLeader | Should -BeIn $Endpoints
    }

    It 'Get-KvStore lists the four stores, all Active' {
        $stores = @(Get-KvStore)
        $stores.Count | Should -Be 4
        $stores | ForEach-Object { $_ | Should -BeOfType ([Kv.Client.Views.StoreView]) }
        $stores.AdminState | Sort-Object -Unique | Should -Be ([Kv.Client.Views.StoreAdminStateView]::Active)
        $Drained | Should -BeIn @($stores | ForEach-Object { $_.Id.Value })
    }

    It 'Start-KvStoreDrain -WhatIf writes the plan from the dry run and changes nothing' {
        $plan = @(Start-KvStoreDrain -StoreId $Drained -WhatIf)

        $plan.Count | Should -Be 1
        $plan[0] | Should -BeOfType ([Kv.Client.Views.PlanView])
        $plan[0].Steps.Count | Should -BeGreaterThan 0
        (Get-KvStore -StoreId $Drained).AdminState | Should -Be ([Kv.Client.Views.StoreAdminStateView]::Active)
        @(Get-KvOperation) | Should -BeNullOrEmpty
        @(Get-KvRange | Where-Object { $_.Replicas.StoreId.Value -contains $Drained }) | Should -Not -BeNullOrEmpty
    }

    It 'Start-KvStoreDrain -Force without -Reason is refused before any call, as PermissionDenied' {
        $refusal = { Start-KvStoreDrain -StoreId $Drained -Force } | Should -Throw -PassThru

        $refusal.FullyQualifiedErrorId | Should -Be 'ForceNeedsReason,Kv.PowerShell.Stores.StartKvStoreDrainCommand'
        $refusal.CategoryInfo.Category | Should -Be ([System.Management.Automation.ErrorCategory]::PermissionDenied)
        @(Get-KvOperation) | Should -BeNullOrEmpty
    }

    It 'Start-KvStoreDrain -NoWait, given the store through the pipeline, returns the submitted operation at once' {
        $operation = @(Get-KvStore -StoreId $Drained | Start-KvStoreDrain -Id $DrainId -Reason 'pester drain' -NoWait)

        $operation.Count | Should -Be 1
        $operation[0] | Should -BeOfType ([Kv.Client.Views.OperationView])
        $operation[0].Id.Value | Should -Be $DrainId
        $operation[0].Spec.Kind | Should -Be ([Kv.Client.Views.OperationKindView]::DrainStore)
        $operation[0].Spec.StoreId.Value | Should -Be $Drained
        (Get-KvOperation -Id $DrainId).Reason | Should -Be 'pester drain'
    }

    It 'Wait-KvOperation follows it to Succeeded, showing step k of n, ranges done and left' {
        # In a runspace of its own, whose progress stream can be read; it connects with -Endpoint.
        $shell = [powershell]::Create([System.Management.Automation.RunspaceMode]::NewRunspace)
        try {
            $null = $shell.AddCommand('Import-Module').AddParameter('Name', $ModuleManifest).AddStatement()
            $null = $shell.AddCommand('Wait-KvOperation').AddParameter('Id', $DrainId).AddParameter('Endpoint', $Endpoints).AddParameter('Timeout', 300)
            $final = @($shell.Invoke())
            @($shell.Streams.Error) | Should -BeNullOrEmpty
            $progress = @($shell.Streams.Progress)
        }
        finally {
            $shell.Dispose()
        }

        $final.Count | Should -Be 1
        $final[0].State | Should -Be ([Kv.Client.Views.OperationStateView]::Succeeded)
        $progress | Should -Not -BeNullOrEmpty
        $progress[0].Activity | Should -BeLike "Operation $DrainId*drain store $Drained*"
        $progress.StatusDescription | Should -Match 'step \d+ of \d+'
        $progress.StatusDescription | Should -Match 'ranges \d+ done, \d+ left'
        $progress[-1].RecordType | Should -Be ([System.Management.Automation.ProgressRecordType]::Completed)
    }

    It 'Get-KvStore shows the store Drained with 0 replicas, and no range keeps one there' {
        # The replica count comes from the store's heartbeat: it reaches 0 on the next one.
        $store = Wait-Until -What "store $Drained reports 0 replicas" -Condition {
            $s = Get-KvStore -StoreId $Drained
            if ($s.AdminState -eq 'Drained' -and $s.RangeCount -eq 0) { $s }
        }
        $store.AdminState | Should -Be ([Kv.Client.Views.StoreAdminStateView]::Drained)
        $store.RangeCount | Should -Be 0
        @(Get-KvRange | Where-Object { $_.Replicas.StoreId.Value -contains $Drained }) | Should -BeNullOrEmpty
    }

    It 'Get-KvAuditEntry shows the drain: submitted with its reason, then succeeded' {
        $entries = @(Get-KvAuditEntry -Since (Get-Date).AddHours(-1) | Where-Object { "$($_.OperationId)" -eq $DrainId })

        $entries | ForEach-Object { $_ | Should -BeOfType ([Kv.Client.Views.AuditEntryView]) }
        $submitted = @($entries | Where-Object Action -EQ 'Submitted')
        $submitted.Count | Should -Be 1
        $submitted[0].Reason | Should -Be 'pester drain'
        $submitted[0].OperationKind | Should -Be ([Kv.Client.Views.OperationKindView]::DrainStore)
        @($entries | Where-Object Action -EQ 'Succeeded').Count | Should -Be 1
        @(Get-KvAuditEntry -OperationId $DrainId).Count | Should -Be $entries.Count
    }

    It 'Stop-KvOperation on the finished drain fails with placement''s refusal, and nothing changes' {
        $refusal = { Stop-KvOperation -Id $DrainId -Reason 'too late' } | Should -Throw -PassThru

        $refusal.FullyQualifiedErrorId | Should -Be 'FailedPrecondition,Kv.PowerShell.Operations.StopKvOperationCommand'
        $refusal.CategoryInfo.Category | Should -Be ([System.Management.Automation.ErrorCategory]::InvalidOperation)
        $refusal.Exception.Message | Should -BeLike "placement refused to cancel operation $DrainId*"
        $refusal.Exception.Code | Should -Be ([Kv.Proto.V1.PlacementErrorCode]::PlacementErrorFailedPrecondition)
        (Get-KvOperation -Id $DrainId).State | Should -Be ([Kv.Client.Views.OperationStateView]::Succeeded)
    }

    It 'a resubmit with the same -Id follows the recorded operation instead of starting another' {
        $again = @(Start-KvStoreDrain -StoreId $Drained -Id $DrainId -Reason 'pester drain' -NoWait -WarningVariable warnings 3> $null)

        $again[0].Id.Value | Should -Be $DrainId
        "$warnings" | Should -BeLike '*already submitted*'
        @(Get-KvOperation | Where-Object { $_.Id.Value -eq $DrainId }).Count | Should -Be 1
    }

    It 'the records print through the module''s table views' {
        $stores = (Get-KvStore | Format-Table | Out-String -Width 250) -split '\r?\n' | Where-Object { $_.Trim() }
        $stores[0] | Should -Match '^Id\s+Address\s+AdminState\s+Liveness\s+Ranges\s+Leaders'
        ($stores | Where-Object { $_ -match "^$Drained\s" }) | Should -Match '\sDrained\s'

        $operations = (Get-KvOperation -Id $DrainId | Format-Table | Out-String -Width 250) -split '\r?\n' | Where-Object { $_.Trim() }
        $operations[0] | Should -Match '^Id\s+Kind\s+Target\s+State\s+Step'
        $operations[2] | Should -Match "^$DrainId\s+DrainStore\s+store $Drained\s+Succeeded\s"

        (Get-KvRange | Format-Table | Out-String -Width 250) | Should -Match 'StartKey\s+EndKey\s+Epoch\s+Replicas\s+Leader'
        (Get-KvAuditEntry | Format-Table | Out-String -Width 250) | Should -Match 'Seq\s+At\s+Who\s+Action'
    }

    It 'Suspend-KvScheduler and Resume-KvScheduler pause and resume it, as Get-KvSchedulerStatus shows' {
        $paused = Suspend-KvScheduler -Reason 'pester' -PassThru
        $paused | Should -BeOfType ([Kv.Client.Views.SchedulerStatusView])
        $paused.Paused | Should -BeTrue
        (Get-KvSchedulerStatus).PausedReason | Should -Be 'pester'

        Resume-KvScheduler
        (Get-KvSchedulerStatus).Paused | Should -BeFalse
    }

    It 'Split-KvRange splits the range holding the key and waits until the split succeeded' {
        $before = @(Get-KvRange).Count

        $split = @(Split-KvRange -Key 'pester-m' -Reason 'pester split')

        $split.Count | Should -Be 1
        $split[0].State | Should -Be ([Kv.Client.Views.OperationStateView]::Succeeded)
        $split[0].Spec.Kind | Should -Be ([Kv.Client.Views.OperationKindView]::Split)
        $ranges = @(Get-KvRange)
        $ranges.Count | Should -Be ($before + 1)
        @($ranges | Where-Object StartKey -EQ 'pester-m').Count | Should -Be 1
    }

    It 'Move-KvRangeLeader -WhatIf writes a TransferLeader plan and moves nothing' {
        $range = Wait-Until -What 'a range with a known leader' -Condition { Get-KvRange | Where-Object Leader | Select-Object -First 1 }
        $target = @($range.Replicas | Where-Object { $_.StoreId -ne $range.Leader.StoreId })[0].StoreId.Value

        $plan = @($range | Move-KvRangeLeader -StoreId $target -WhatIf)

        $plan.Count | Should -Be 1
        $plan[0] | Should -BeOfType ([Kv.Client.Views.PlanView])
        $plan[0].Steps.Kind | Should -Contain ([Kv.Client.Views.StepKindView]::TransferLeader)
        @(Get-KvOperation | Where-Object { $_.Spec.Kind -eq 'TransferLeader' }) | Should -BeNullOrEmpty
    }

    It 'Set-KvStoreMaintenance opens a window on a store and a zero duration ends it' {
        $other = @(Get-KvStore | Where-Object { $_.Id.Value -ne $Drained })[0].Id.Value

        $open = Set-KvStoreMaintenance -StoreId $other -Duration (New-TimeSpan -Minutes 30) -Reason 'pester'
        $open.MaintenanceUntil | Should -BeGreaterThan ([DateTimeOffset]::UtcNow.AddMinutes(20))
        $closed = Set-KvStoreMaintenance -StoreId $other -Duration 0 -Reason 'pester'
        $closed.MaintenanceUntil | Should -BeNullOrEmpty
    }

    It 'Remove-KvStore -WhatIf changes nothing; with -Force -Reason the drained store is Removed, after which undraining it is refused' {
        Remove-KvStore -StoreId $Drained -WhatIf
        (Get-KvStore -StoreId $Drained).AdminState | Should -Be ([Kv.Client.Views.StoreAdminStateView]::Drained)

        $removed = Remove-KvStore -StoreId $Drained -Force -Reason 'pester remove'
        $removed.AdminState | Should -Be ([Kv.Client.Views.StoreAdminStateView]::Removed)

        $refusal = { Stop-KvStoreDrain -StoreId $Drained -Reason 'too late' } | Should -Throw -PassThru
        $refusal.FullyQualifiedErrorId | Should -BeLike '*,Kv.PowerShell.Stores.StopKvStoreDrainCommand'
        $refusal.Exception | Should -BeOfType ([Kv.Client.Administration.KvAdminException])
        (Get-KvStore -StoreId $Drained).AdminState | Should -Be ([Kv.Client.Views.StoreAdminStateView]::Removed)
    }

    It 'a drain with nowhere to go is refused by placement with its reason, and nothing is submitted' {
        # One store is removed, so three are left for a replication factor of 3: another store's
        # replicas have no eligible store to go to, and placement refuses the drain at submit.
        $store = @(Get-KvStore | Where-Object { $_.AdminState -eq 'Active' -and $_.RangeCount -gt 0 })[0].Id.Value
        $operationsBefore = @(Get-KvOperation).Count

        $refusal = { Start-KvStoreDrain -StoreId $store -Reason 'pester drain with nowhere to go' -NoWait } | Should -Throw -PassThru

        $refusal.Exception | Should -BeOfType ([Kv.Client.Administration.KvAdminException])
        $refusal.FullyQualifiedErrorId | Should -Be "$($refusal.Exception.Code -replace '^PlacementError',''),Kv.PowerShell.Stores.StartKvStoreDrainCommand"
        $refusal.Exception.Message | Should -BeLike "placement refused to submit operation*no store is eligible*"
        (Get-KvStore -StoreId $store).AdminState | Should -Be ([Kv.Client.Views.StoreAdminStateView]::Active)
        @(Get-KvOperation).Count | Should -Be $operationsBefore
    }

    It 'a cluster that does not answer is refused as ResourceUnavailable and the session keeps its connection' {
        # Port 1 on loopback: nothing listens there, so every attempt is refused until the client's deadline.
        $refusal = { Connect-KvCluster -Endpoint 127.0.0.1:1 } | Should -Throw -PassThru

        $refusal.CategoryInfo.Category | Should -Be ([System.Management.Automation.ErrorCategory]::ResourceUnavailable)
        $refusal.Exception.Message | Should -BeLike '*127.0.0.1:1*'
        @(Get-KvStore).Count | Should -Be 4
    }
}

# The cluster and data cmdlets (Get-KvCluster, Get/Set/Remove-KvValue, Invoke-KvTransaction) and the
# id completers against a real cluster: BeforeAll starts `kvctl local up --nodes 3` (its own, like
# KvControl.Operations.Tests.ps1: real kv-node processes on 127.0.0.1), AfterAll stops it and deletes
# its directory, also when a test or BeforeAll failed. Each It uses keys of its own, so they do not
# depend on each other's data. Needs ./kv.sh build first.

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

    $Work = Join-Path ([System.IO.Path]::GetTempPath()) "kvcontrol-data-pester-$([guid]::NewGuid().ToString('N'))"
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

    # What Tab offers after $Line (the completion PowerShell's own TabExpansion2 computes).
    function Get-Completion([string] $Line) {
        @((TabExpansion2 -inputScript $Line -cursorColumn $Line.Length).CompletionMatches.CompletionText)
    }

    try {
        $up = Invoke-Kvctl local up --nodes 3 --dir $ClusterDir --timeout 180 -o json | ConvertFrom-Json
    }
    catch {
        throw "kvctl local up failed: $_"
    }
    $Endpoints = @($up.endpoints)
    $null = Connect-KvCluster -Endpoint $Endpoints
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

Describe 'Get-KvCluster against a local 3-node cluster' {
    It 'writes one ClusterView: bootstrapped, 3 placement members with a leader among them, 3 stores up' {
        $cluster = @(Get-KvCluster)

        $cluster.Count | Should -Be 1
        $cluster[0] | Should -BeOfType ([Kv.Client.Views.ClusterView])
        $cluster[0].Bootstrapped | Should -BeTrue
        $cluster[0].ClusterId | Should -Not -BeNullOrEmpty
        $cluster[0].PlacementMembers.Count | Should -Be 3
        $cluster[0].PlacementLeader.Address | Should -BeIn @($cluster[0].PlacementMembers.Address)
        $cluster[0].StoreCount | Should -Be 3
        $cluster[0].StoresUp | Should -Be 3
        $cluster[0].RangeCount | Should -BeGreaterOrEqual 1
        $cluster[0].ReplicationFactor | Should -Be 3
    }

    It 'prints through its table view' {
        $lines = (Get-KvCluster | Format-Table | Out-String -Width 250) -split '\r?\n' | Where-Object { $_.Trim() }
        $lines[0] | Should -Match '^ClusterId\s+Bootstrapped\s+PlacementLeader\s+Members\s+StoresUp\s+Ranges\s+ReplicationFactor'
        $lines[2] | Should -Match '\sTrue\s.*\s3\s+3/3\s'
    }
}

Describe 'Get-KvValue, Set-KvValue and Remove-KvValue' {
    It 'Set-KvValue -PassThru writes the KvValue committed; Get-KvValue reads it back' {
        $written = Set-KvValue -Key 'data/greeting' -Value 'hello' -PassThru

        $written | Should -BeOfType ([Kv.PowerShell.Data.KvValue])
        $written.Timestamp.Value | Should -BeGreaterThan 0
        $read = @(Get-KvValue -Key 'data/greeting')
        $read.Count | Should -Be 1
        $read[0].Key | Should -Be 'data/greeting'
        $read[0].Value | Should -Be 'hello'
        [System.Text.Encoding]::UTF8.GetString($read[0].ValueBytes) | Should -Be 'hello'
        $read[0].Timestamp.Value | Should -BeGreaterThan $written.Timestamp.Value
    }

    It 'Set-KvValue -WhatIf writes nothing' {
        Set-KvValue -Key 'data/whatif' -Value 'no' -WhatIf
        Set-KvValue -Key 'data/greeting' -Value 'changed' -WhatIf

        @(Get-KvValue -Key 'data/whatif' -ErrorAction SilentlyContinue) | Should -BeNullOrEmpty
        (Get-KvValue -Key 'data/greeting').Value | Should -Be 'hello'
    }

    It 'a missing key is a non-terminating KeyNotFound error (ObjectNotFound); the other keys are still read' {
        Set-KvValue -Key 'data/present' -Value 'here'

        $read = @(Get-KvValue -Key 'data/missing', 'data/present' -ErrorVariable errors -ErrorAction SilentlyContinue)

        $read.Count | Should -Be 1
        $read[0].Value | Should -Be 'here'
        $errors.Count | Should -Be 1
        $errors[0].FullyQualifiedErrorId | Should -Be 'KeyNotFound,Kv.PowerShell.Data.GetKvValueCommand'
        $errors[0].CategoryInfo.Category | Should -Be ([System.Management.Automation.ErrorCategory]::ObjectNotFound)
        $errors[0].TargetObject | Should -Be 'data/missing'
        { Get-KvValue -Key 'data/missing' -ErrorAction Stop } | Should -Throw -ErrorId 'KeyNotFound,Kv.PowerShell.Data.GetKvValueCommand'
    }

    It 'bad input is refused as InvalidArgument before anything is written: <Command>' -ForEach @(
        @{ Command = { Get-KvValue -Key '' }; Id = 'InvalidKey,Kv.PowerShell.Data.GetKvValueCommand' }
        @{ Command = { Set-KvValue -Key '' -Value 'v' }; Id = 'InvalidKey,Kv.PowerShell.Data.SetKvValueCommand' }
        @{ Command = { Set-KvValue -Key 'data/not-hex' -Value '6b' -Hex }; Id = 'InvalidKey,Kv.PowerShell.Data.SetKvValueCommand' }
        @{ Command = { Set-KvValue -Key '6b' -Value 'zz' -Hex }; Id = 'InvalidValue,Kv.PowerShell.Data.SetKvValueCommand' }
        @{ Command = { Remove-KvValue -Key '' -Force }; Id = 'InvalidKey,Kv.PowerShell.Data.RemoveKvValueCommand' }
    ) {
        $refusal = $Command | Should -Throw -PassThru

        $refusal.FullyQualifiedErrorId | Should -Be $Id
        $refusal.CategoryInfo.Category | Should -Be ([System.Management.Automation.ErrorCategory]::InvalidArgument)
        @(Get-KvValue -Key 'k', '6b' -ErrorAction SilentlyContinue) | Should -BeNullOrEmpty
    }

    It 'the pipeline binds Key and Value by property name: objects into Set-KvValue, KvValues into Remove-KvValue' {
        @(
            [pscustomobject]@{ Key = 'pipe/1'; Value = 'one' }
            [pscustomobject]@{ Key = 'pipe/2'; Value = 'two' }
            [pscustomobject]@{ Key = 'pipe/3'; Value = 'three' }
        ) | Set-KvValue

        $listed = @(Get-KvValue -StartKey 'pipe/' -EndKey 'pipe0')
        @($listed.Key) | Should -Be @('pipe/1', 'pipe/2', 'pipe/3')
        @($listed.Value) | Should -Be @('one', 'two', 'three')
        @(Get-KvValue -StartKey 'pipe/' -EndKey 'pipe0' -Descending -Limit 2).Key | Should -Be @('pipe/3', 'pipe/2')

        Get-KvValue -StartKey 'pipe/' -EndKey 'pipe0' | Remove-KvValue -WhatIf
        @(Get-KvValue -StartKey 'pipe/' -EndKey 'pipe0').Count | Should -Be 3

        $removed = @(Get-KvValue -StartKey 'pipe/' -EndKey 'pipe0' | Remove-KvValue -Force -PassThru)
        @($removed.Key) | Should -Be @('pipe/1', 'pipe/2', 'pipe/3')
        $removed[0].Value | Should -BeNullOrEmpty
        @(Get-KvValue -StartKey 'pipe/' -EndKey 'pipe0') | Should -BeNullOrEmpty
    }

    It 'Remove-KvValue asks first (ConfirmImpact High): -Confirm:$false deletes, deleting a missing key succeeds' {
        (Get-Command Remove-KvValue).ImplementingType.GetCustomAttributes([System.Management.Automation.CmdletAttribute], $false)[0].ConfirmImpact |
            Should -Be ([System.Management.Automation.ConfirmImpact]::High)
        Set-KvValue -Key 'data/doomed' -Value 'x'

        Remove-KvValue -Key 'data/doomed', 'data/never-there' -Confirm:$false

        @(Get-KvValue -Key 'data/doomed' -ErrorAction SilentlyContinue) | Should -BeNullOrEmpty
    }

    It 'hex keys and values round-trip as bytes' {
        Set-KvValue -Key '0x00ff01' -Value 'c0ffee' -Hex
        $read = Get-KvValue -Key '00ff01' -Hex
        $read.KeyBytes | Should -Be ([byte[]](0x00, 0xff, 0x01))
        $read.ValueBytes | Should -Be ([byte[]](0xc0, 0xff, 0xee))
        $read.Key | Should -Be '0x00ff01'
    }
}

Describe 'Invoke-KvTransaction' {
    It 'commits the scriptblock''s writes together, then writes its output, and -PassThru the commit' {
        Set-KvValue -Key 'txn/a' -Value '1'
        Set-KvValue -Key 'txn/b' -Value '2'

        $output = @(Invoke-KvTransaction -PassThru {
                param($txn)
                $a = $txn.Get('txn/a')
                $txn.Put('txn/a', "$([int]$a + 10)")
                $txn.Delete('txn/b')
                $txn.Get('txn/a')
            })

        $output.Count | Should -Be 2
        $output[0] | Should -Be '11'
        $output[1] | Should -BeOfType ([Kv.PowerShell.Data.KvTransactionResult])
        $output[1].CommitTs.Value | Should -BeGreaterThan $output[1].StartTs.Value
        @($output[1].Writes) | Should -Be @('put txn/a', 'delete txn/b')
        (Get-KvValue -Key 'txn/a').Value | Should -Be '11'
        @(Get-KvValue -Key 'txn/b' -ErrorAction SilentlyContinue) | Should -BeNullOrEmpty
    }

    It 'binds the transaction to $_ as well' {
        Invoke-KvTransaction { $_.Put('txn/dollar', 'yes') }
        (Get-KvValue -Key 'txn/dollar').Value | Should -Be 'yes'
    }

    It '-WhatIf runs the scriptblock and commits nothing' {
        Set-KvValue -Key 'txn/whatif' -Value 'before'

        Invoke-KvTransaction -WhatIf { param($txn) $txn.Put('txn/whatif', 'after'); $txn.Put('txn/whatif-new', 'x') }

        (Get-KvValue -Key 'txn/whatif').Value | Should -Be 'before'
        @(Get-KvValue -Key 'txn/whatif-new' -ErrorAction SilentlyContinue) | Should -BeNullOrEmpty
    }

    It 'a scriptblock that throws commits nothing, and its error passes through' {
        { Invoke-KvTransaction { param($txn) $txn.Put('txn/thrown', 'x'); throw 'runbook gave up' } } | Should -Throw 'runbook gave up'
        @(Get-KvValue -Key 'txn/thrown' -ErrorAction SilentlyContinue) | Should -BeNullOrEmpty
    }

    It 'a write that meets a newer committed write fails as WriteConflict (ResourceBusy) and commits nothing' {
        Set-KvValue -Key 'txn/contended' -Value 'start'

        $refusal = {
            Invoke-KvTransaction {
                param($txn)
                $null = $txn.Get('txn/contended')
                # Another writer commits after this transaction's snapshot.
                Set-KvValue -Key 'txn/contended' -Value 'other'
                $txn.Put('txn/contended', 'mine')
                $txn.Put('txn/contended-side', 'mine')
            }
        } | Should -Throw -PassThru

        $refusal.FullyQualifiedErrorId | Should -Be 'WriteConflict,Kv.PowerShell.Data.InvokeKvTransactionCommand'
        $refusal.CategoryInfo.Category | Should -Be ([System.Management.Automation.ErrorCategory]::ResourceBusy)
        $refusal.Exception.Kind | Should -Be ([Kv.Client.Cluster.KvErrorKind]::WriteConflict)
        (Get-KvValue -Key 'txn/contended').Value | Should -Be 'other'
        @(Get-KvValue -Key 'txn/contended-side' -ErrorAction SilentlyContinue) | Should -BeNullOrEmpty
    }

    It 'a client error met inside the scriptblock keeps its id and category, and commits nothing: <Kind>' -ForEach @(
        @{ Kind = 'KeyIsLocked'; Category = 'ResourceBusy' }
        @{ Kind = 'TxnAborted'; Category = 'ResourceBusy' }
        @{ Kind = 'CommitOutcomeUnknown'; Category = 'OperationTimeout' }
        @{ Kind = 'Unavailable'; Category = 'ResourceUnavailable' }
    ) {
        # The client raises these from a read or a commit only under faults; thrown here as the
        # scope's methods would raise them.
        $refusal = {
            Invoke-KvTransaction {
                param($txn)
                $txn.Put("txn/fault-$Kind", 'x')
                throw [Kv.Client.Cluster.KvException]::new([Kv.Client.Cluster.KvErrorKind]$Kind, "simulated $Kind")
            }
        } | Should -Throw -PassThru

        $refusal.FullyQualifiedErrorId | Should -Be "$Kind,Kv.PowerShell.Data.InvokeKvTransactionCommand"
        $refusal.CategoryInfo.Category | Should -Be ([System.Management.Automation.ErrorCategory]$Category)
        @(Get-KvValue -Key "txn/fault-$Kind" -ErrorAction SilentlyContinue) | Should -BeNullOrEmpty
    }

    It 'an empty key inside the scriptblock is InvalidArgument and commits nothing' {
        $refusal = { Invoke-KvTransaction { param($txn) $txn.Put('txn/before-empty', 'x'); $txn.Put('', 'x') } } | Should -Throw -PassThru

        $refusal.FullyQualifiedErrorId | Should -Be 'InvalidArgument,Kv.PowerShell.Data.InvokeKvTransactionCommand'
        $refusal.CategoryInfo.Category | Should -Be ([System.Management.Automation.ErrorCategory]::InvalidArgument)
        @(Get-KvValue -Key 'txn/before-empty' -ErrorAction SilentlyContinue) | Should -BeNullOrEmpty
    }
}

Describe 'Id completion and errors without a cluster' {
    It 'Tab completes store, range and operation ids from the connected cluster' {
        $split = Split-KvRange -Key 'complete-m' -Id 'pester-complete-split' -Reason 'pester completion'
        $split.State | Should -Be ([Kv.Client.Views.OperationStateView]::Succeeded)

        $stores = @(Get-KvStore | ForEach-Object { "$($_.Id.Value)" } | Sort-Object)
        @(Get-Completion 'Get-KvStore -StoreId ' | Sort-Object) | Should -Be $stores
        @(Get-Completion 'Start-KvStoreDrain -StoreId ' | Sort-Object) | Should -Be $stores
        $ranges = @(Get-KvRange | ForEach-Object { "$($_.Id.Value)" } | Sort-Object)
        $ranges.Count | Should -BeGreaterOrEqual 2
        @(Get-Completion 'Get-KvRange -RangeId ' | Sort-Object) | Should -Be $ranges
        Get-Completion 'Wait-KvOperation -Id pester-comp' | Should -Be @('pester-complete-split')
        Get-Completion 'Get-KvAuditEntry -OperationId pester-' | Should -Contain 'pester-complete-split'
    }

    It 'offers nothing, and reports nothing, when not connected; data cmdlets fail as NotConnected' {
        Disconnect-KvCluster
        try {
            $Error.Clear()
            @(Get-Completion 'Get-KvStore -StoreId ') | Should -BeNullOrEmpty
            @(Get-Completion 'Wait-KvOperation -Id ') | Should -BeNullOrEmpty
            $Error.Count | Should -Be 0

            { Get-KvValue -Key 'data/greeting' } | Should -Throw -ErrorId 'NotConnected,Kv.PowerShell.Data.GetKvValueCommand'
            { Get-KvCluster } | Should -Throw -ErrorId 'NotConnected,Kv.PowerShell.Cluster.GetKvClusterCommand'
        }
        finally {
            $null = Connect-KvCluster -Endpoint $Endpoints
        }
    }

    It 'a cluster that does not answer is Unavailable (ResourceUnavailable)' {
        # Port 1 on loopback: nothing listens there, so every attempt is refused until the client's deadline.
        $refusal = { Get-KvValue -Key 'data/greeting' -Endpoint 127.0.0.1:1 } | Should -Throw -PassThru

        $refusal.FullyQualifiedErrorId | Should -Be 'Unavailable,Kv.PowerShell.Data.GetKvValueCommand'
        $refusal.CategoryInfo.Category | Should -Be ([System.Management.Automation.ErrorCategory]::ResourceUnavailable)
    }
}

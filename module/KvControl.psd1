@{
    RootModule        = 'KvControl.dll'
    ModuleVersion     = '0.1.0'
    GUID              = '6f0d3c1e-8d7a-4b3e-9a51-2f4c7e1b9d20'
    Author            = 'KvControl authors'
    Description       = 'Cmdlets to operate a replicated, transactional range store: ranges, replicas, operations, snapshots, GC and in-doubt transactions.'
    PowerShellVersion = '7.6'
    CompatiblePSEditions = @('Core')
    FormatsToProcess  = @('KvControl.format.ps1xml')
    CmdletsToExport   = @(
        'Get-KvVersion',
        'Connect-KvCluster',
        'Disconnect-KvCluster',
        'Get-KvOperation',
        'Wait-KvOperation',
        'Stop-KvOperation',
        'Get-KvStore',
        'Start-KvStoreDrain',
        'Stop-KvStoreDrain',
        'Remove-KvStore',
        'Set-KvStoreMaintenance',
        'Get-KvRange',
        'Split-KvRange',
        'Move-KvRangeLeader',
        'Add-KvReplica',
        'Remove-KvReplica',
        'Move-KvReplica',
        'Get-KvSchedulerStatus',
        'Suspend-KvScheduler',
        'Resume-KvScheduler',
        'Get-KvAuditEntry',
        'Get-KvCluster',
        'Get-KvValue',
        'Set-KvValue',
        'Remove-KvValue',
        'Invoke-KvTransaction'
    )
    FunctionsToExport = @()
    AliasesToExport   = @('Move-KvLeader')
    VariablesToExport = @()
}

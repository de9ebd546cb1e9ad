# Help for every cmdlet, read by Get-Help from the module as it ships (artifacts/module/KvControl,
# laid out by the build): a synopsis, a description and at least one example each, about_KvControl,
# and the MAML file equal to what module/help/Build-KvControlHelp.ps1 makes from its source, so the
# help never drifts from the cmdlets' parameters. No cluster needed. Needs ./kv.sh build first.

BeforeAll {
    $RepoRoot = (Resolve-Path -LiteralPath (Join-Path $PSScriptRoot '../..')).ProviderPath
    $ModuleDir = Join-Path $RepoRoot 'artifacts/module/KvControl'
    if (-not (Test-Path -LiteralPath (Join-Path $ModuleDir 'KvControl.psd1'))) {
        throw "'$ModuleDir' holds no KvControl.psd1: run ./kv.sh build first (building module/ lays the module out there)."
    }

    Get-Module -Name KvControl | Remove-Module -Force
    # By folder, as docs/POWERSHELL.md tells users to.
    $Module = Import-Module -Name $ModuleDir -Force -PassThru -ErrorAction Stop
    $Commands = @(Get-Command -Module KvControl -CommandType Cmdlet)
}

AfterAll {
    Get-Module -Name KvControl | Remove-Module -Force
}

Describe 'KvControl help' {
    It 'ships the help files in the module''s culture folder' {
        Join-Path $ModuleDir 'en-US/KvControl.dll-Help.xml' | Should -Exist
        Join-Path $ModuleDir 'en-US/about_KvControl.help.txt' | Should -Exist
        $Module.ModuleBase | Should -Be (Resolve-Path -LiteralPath $ModuleDir).ProviderPath
    }

    It '<Name> has a synopsis, a description and an example' -ForEach @(
        # Discovery runs before BeforeAll: list the cmdlets from the manifest here.
        (Import-PowerShellDataFile -LiteralPath (Join-Path $PSScriptRoot '../../module/KvControl.psd1')).CmdletsToExport | ForEach-Object { @{ Name = $_ } }
    ) {
        $Name | Should -BeIn $Commands.Name
        $help = Get-Help -Name $Name -Full

        # Without MAML help Get-Help makes the synopsis up from the syntax: check it is ours.
        "$($help.Synopsis)".Trim() | Should -Not -BeNullOrEmpty
        "$($help.Synopsis)".Trim() | Should -Not -BeLike "$Name *"
        ($help.Description.Text -join ' ').Trim() | Should -Not -BeNullOrEmpty
        @($help.Examples.Example).Count | Should -BeGreaterOrEqual 1
        @($help.Examples.Example)[0].Code | Should -Not -BeNullOrEmpty
        (Get-Help -Name $Name -Examples | Out-String) | Should -Match 'Example 1'
    }

    It 'about_KvControl is found by Get-Help' {
        $about = Get-Help -Name about_KvControl
        "$about" | Should -Match 'about_KvControl'
        "$about" | Should -Match 'Connect-KvCluster'
    }

    It 'the MAML file is what Build-KvControlHelp.ps1 makes from module/help/KvControl.help.psd1' {
        $fresh = Join-Path ([System.IO.Path]::GetTempPath()) "kvcontrol-help-$([guid]::NewGuid().ToString('N')).xml"
        try {
            & (Join-Path $RepoRoot 'module/help/Build-KvControlHelp.ps1') -Module (Join-Path $ModuleDir 'KvControl.psd1') -OutFile $fresh
            $committed = Get-Content -LiteralPath (Join-Path $RepoRoot 'module/en-US/KvControl.dll-Help.xml') -Raw
            Get-Content -LiteralPath $fresh -Raw | Should -BeExactly $committed -Because 'module/en-US/KvControl.dll-Help.xml is made from module/help/KvControl.help.psd1: run module/help/Build-KvControlHelp.ps1 and commit the result'
        }
        finally {
            Remove-Item -LiteralPath $fresh -ErrorAction SilentlyContinue
        }
    }
}

# Pester 5 tests for the KvControl module, run in a real pwsh. ./kv.sh test runs them through
# run-pester.ps1 with the pwsh it installs (artifacts/tools/pwsh) and the Pester its build restores.
# They import the module the build made and never build it: kv.sh builds once, before any test runs.
# By hand, after ./kv.sh build:
#   artifacts/tools/pwsh/pwsh -NoProfile -File tests/pester/run-pester.ps1 -Pester ~/.nuget/packages/pester/5.7.1/tools/Pester.psd1

BeforeAll {
    $ModuleManifest = Join-Path $PSScriptRoot '../../module/bin/Debug/net10.0/KvControl.psd1'
    if (-not (Test-Path -LiteralPath $ModuleManifest)) {
        throw "KvControl is not built: '$ModuleManifest' does not exist. Run ./kv.sh build first."
    }
    $ModuleManifest = (Resolve-Path -LiteralPath $ModuleManifest).ProviderPath
    $ModuleDir = Split-Path -Parent $ModuleManifest

    Get-Module -Name KvControl | Remove-Module -Force
    $Module = Import-Module -Name $ModuleManifest -Force -PassThru -ErrorAction Stop
    $Manifest = Test-ModuleManifest -Path $ModuleManifest -ErrorAction Stop
    $Assembly = [Kv.PowerShell.GetKvVersionCommand].Assembly
    $Commands = @(Get-Command -Module KvControl -CommandType Cmdlet)
}

AfterAll {
    Get-Module -Name KvControl | Remove-Module -Force
}

Describe 'KvControl manifest' {
    It 'is valid and names files that ship beside it' {
        $Manifest.Name | Should -Be 'KvControl'
        $Manifest.RootModule | Should -Be 'KvControl.dll'
        $Manifest.ExportedFormatFiles | Should -Not -BeNullOrEmpty
        foreach ($file in @($Manifest.ExportedFormatFiles) + (Join-Path $ModuleDir $Manifest.RootModule)) {
            $file | Should -Exist
        }
    }

    It 'carries the version of the assembly it loads' {
        $Manifest.Version.ToString(3) | Should -Be $Assembly.GetName().Version.ToString(3)
        $Module.Version | Should -Be $Manifest.Version
    }

    It 'asks for the first PowerShell whose .NET runs the assembly' {
        # PowerShell 7.4 runs on .NET 8, 7.5 on .NET 9, 7.6 on .NET 10.
        $firstPowerShell = @{ 8 = [version]'7.4'; 9 = [version]'7.5'; 10 = [version]'7.6' }
        $target = $Assembly.GetCustomAttributes([System.Runtime.Versioning.TargetFrameworkAttribute], $false)[0].FrameworkName
        $dotnet = ([System.Runtime.Versioning.FrameworkName]$target).Version.Major
        $firstPowerShell.ContainsKey($dotnet) | Should -BeTrue -Because "the module targets $target"
        $Manifest.PowerShellVersion | Should -BeGreaterOrEqual $firstPowerShell[$dotnet] -Because "the module targets $target"
        $Manifest.CompatiblePSEditions | Should -Be @('Core')
    }

    It 'exports exactly the cmdlets it lists' {
        $Commands | Should -Not -BeNullOrEmpty
        @($Commands.Name | Sort-Object) | Should -Be @($Manifest.ExportedCmdlets.Keys | Sort-Object)
    }

    It 'exports exactly the aliases it lists, each naming one of its cmdlets' {
        $aliases = @(Get-Command -Module KvControl -CommandType Alias)
        @($aliases.Name | Sort-Object) | Should -Be @($Manifest.ExportedAliases.Keys | Sort-Object)
        foreach ($alias in $aliases) {
            $alias.ResolvedCommand.Name | Should -BeIn $Commands.Name
        }
        (Get-Alias -Name Move-KvLeader).ResolvedCommand.Name | Should -Be 'Move-KvRangeLeader'
    }

    It 'ships none of PowerShell''s own assemblies: the pwsh that imports it supplies them' {
        $shipped = @(Get-ChildItem -LiteralPath $ModuleDir -Recurse -File | ForEach-Object Name)
        $shipped | Should -Contain 'KvControl.dll'
        $shipped | Where-Object { $_ -match '^(System\.Management\.Automation|Microsoft\.Management\.Infrastructure|Microsoft\.PowerShell\.)|psl-native|pwrshplugin' } |
            Should -BeNullOrEmpty
        [System.Management.Automation.PSObject].Assembly.Location | Should -BeLike "$PSHOME*"
    }
}

Describe 'KvControl cmdlets' {
    It 'use approved verbs and Kv nouns' {
        $approved = @((Get-Verb).Verb)
        $Commands | Should -Not -BeNullOrEmpty
        foreach ($command in $Commands) {
            $approved | Should -Contain $command.Verb -Because "$($command.Name) must use an approved verb (Get-Verb)"
            $command.Noun | Should -BeLikeExactly 'Kv*' -Because "$($command.Name) must carry the Kv noun prefix"
        }
    }

    It 'declare their output types' {
        foreach ($command in $Commands) {
            $command.OutputType | Should -Not -BeNullOrEmpty -Because "$($command.Name) needs [OutputType]"
        }
    }
}

Describe 'Get-KvVersion' {
    BeforeAll {
        $output = @(Get-KvVersion)
    }

    It 'writes one KvVersionInfo' {
        $output.Count | Should -Be 1
        $output[0] | Should -BeOfType ([Kv.PowerShell.KvVersionInfo])
        (Get-Command -Name Get-KvVersion).OutputType.Type | Should -Contain ([Kv.PowerShell.KvVersionInfo])
    }

    It 'reports the module, the client library and the runtime it runs on' {
        $clientVersion = (Get-Item -LiteralPath (Join-Path $ModuleDir 'Kv.Client.dll')).VersionInfo.ProductVersion.Split('+')[0]
        $output[0].Module | Should -Be $Manifest.Version.ToString(3)
        $output[0].Client | Should -Be $clientVersion
        $output[0].Framework | Should -Be ([System.Runtime.InteropServices.RuntimeInformation]::FrameworkDescription)
    }

    It 'has a table view with the Module, Client and Framework columns' {
        $format = Get-FormatData -TypeName Kv.PowerShell.KvVersionInfo
        $format | Should -Not -BeNullOrEmpty -Because 'KvControl.format.ps1xml must define a view for it'
        $table = $format.FormatViewDefinition | Where-Object Name -EQ 'KvVersionInfo'
        $table.Control | Should -BeOfType ([System.Management.Automation.TableControl])
        @($table.Control.Headers.Label) | Should -Be @('Module', 'Client', 'Framework')
    }

    It 'formats through that view' {
        # -View fails unless the module's format file was loaded and names this view.
        $lines = @((Get-KvVersion | Format-Table -View KvVersionInfo | Out-String) -split '\r?\n' |
                ForEach-Object Trim | Where-Object { $_ })
        $lines[0] | Should -Match '^Module\s+Client\s+Framework$'
        $lines[1] | Should -Match '^-+\s+-+\s+-+$'
        $lines[2] | Should -BeLike "$($output[0].Module)*$($output[0].Framework)"
        $lines.Count | Should -Be 3
    }
}

# Pester 5 tests for the KvControl module. They need a PowerShell runtime (pwsh), which this
# environment cannot install; ./kv.sh test runs them when pwsh is on PATH and says so when not.
BeforeAll {
    $root = Split-Path -Parent (Split-Path -Parent $PSScriptRoot)
    dotnet build "$root/module/Kv.PowerShell.csproj" -c Debug -nologo -v q | Out-Null
    Import-Module "$root/module/bin/Debug/net8.0/KvControl.psd1" -Force
}

Describe 'KvControl module' {
    It 'imports with a valid manifest' {
        Test-ModuleManifest "$root/module/KvControl.psd1" | Should -Not -BeNullOrEmpty
    }

    It 'exports only approved verbs' {
        $approved = (Get-Verb).Verb
        Get-Command -Module KvControl | ForEach-Object { $approved | Should -Contain $_.Verb }
    }

    It 'Get-KvVersion returns a typed object' {
        $v = Get-KvVersion
        $v.GetType().FullName | Should -Be 'Kv.PowerShell.KvVersionInfo'
        $v.Module | Should -Match '^\d+\.\d+\.\d+$'
    }
}

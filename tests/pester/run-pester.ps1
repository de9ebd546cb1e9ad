# Runs every *.Tests.ps1 under tests/pester with the Pester module at -Pester (a path: the one the
# build restored, never whichever Pester happens to be installed) and writes "PASSED FAILED SKIPPED"
# to -CountsFile for ./kv.sh's closing line. Failures of a container or a block (a BeforeAll that
# throws, a test file that does not parse) count as failed, and so does a run without any test.
# Exits 0 only when every test passed.
[CmdletBinding()]
param(
    # Pester.psd1 of the version to use, e.g. ~/.nuget/packages/pester/5.7.1/tools/Pester.psd1
    [Parameter(Mandatory)]
    [string] $Pester,

    # Where to write the counts; none written when not given.
    [string] $CountsFile,

    # Where to write the results as NUnit XML; none written when not given.
    [string] $ResultsFile
)

$ErrorActionPreference = 'Stop'
Import-Module -Name $Pester -Force

$config = New-PesterConfiguration
$config.Run.Path = $PSScriptRoot
$config.Run.PassThru = $true
$config.Output.Verbosity = 'Detailed'
if ($ResultsFile) {
    $config.TestResult.Enabled = $true
    $config.TestResult.OutputFormat = 'NUnitXml'
    $config.TestResult.OutputPath = $ResultsFile
}

$result = Invoke-Pester -Configuration $config

$failed = $result.FailedCount + $result.FailedBlocksCount + $result.FailedContainersCount
if ($result.TotalCount -eq 0) {
    Write-Host "Pester found no tests under $PSScriptRoot"
    $failed++
}
elseif ($result.Result -ne 'Passed' -and $failed -eq 0) {
    Write-Host "Pester's run ended as '$($result.Result)' with no failed test recorded"
    $failed++
}
foreach ($test in $result.Skipped) {
    Write-Host "skipped in Pester: $($test.ExpandedPath)"
}

if ($CountsFile) {
    Set-Content -LiteralPath $CountsFile -Value "$($result.PassedCount) $failed $($result.SkippedCount)"
}
exit [int]($failed -gt 0)

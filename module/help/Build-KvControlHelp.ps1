# Writes KvControl's MAML help (en-US/KvControl.dll-Help.xml, what Get-Help reads) from the one
# source, KvControl.help.psd1 (synopsis, description, examples, parameter texts), and the syntax and
# parameters of each cmdlet as the built module declares them, so the two never disagree. It fails,
# writing nothing, when an exported cmdlet has no entry, an entry no example, or a parameter no text.
# After ./kv.sh build:
#   artifacts/tools/pwsh/pwsh -NoProfile -File module/help/Build-KvControlHelp.ps1
# tests/pester/KvControl.Help.Tests.ps1 runs it with -OutFile to a temp file and compares.
[CmdletBinding()]
param(
    # The built module to read the cmdlets from.
    [string] $Module = (Join-Path $PSScriptRoot '../../artifacts/module/KvControl/KvControl.psd1'),

    [string] $Source = (Join-Path $PSScriptRoot 'KvControl.help.psd1'),

    [string] $OutFile = (Join-Path $PSScriptRoot '../en-US/KvControl.dll-Help.xml')
)

$ErrorActionPreference = 'Stop'
$help = Import-PowerShellDataFile -LiteralPath $Source
$imported = Import-Module -Name $Module -Force -PassThru
$commands = @(Get-Command -Module $imported.Name -CommandType Cmdlet | Sort-Object Name)
$skip = [System.Management.Automation.Cmdlet]::CommonParameters + @('UseTransaction')

$problems = [System.Collections.Generic.List[string]]::new()
foreach ($command in $commands) {
    $entry = $help.Cmdlets[$command.Name]
    if (-not $entry) { $problems.Add("$($command.Name): no entry in $Source"); continue }
    foreach ($field in 'Synopsis', 'Description') {
        if (-not $entry[$field]) { $problems.Add("$($command.Name): no $field") }
    }
    if (@($entry.Examples).Count -eq 0) { $problems.Add("$($command.Name): no example") }
    foreach ($name in $command.Parameters.Keys) {
        if ($name -in $skip) { continue }
        if (-not ($entry.Parameters -and $entry.Parameters[$name]) -and -not $help.Common[$name]) {
            $problems.Add("$($command.Name): no text for -$name (add it to the cmdlet's Parameters or to Common)")
        }
    }
}
foreach ($name in $help.Cmdlets.Keys) {
    if ($name -notin $commands.Name) { $problems.Add("$name`: in $Source but not exported by the module") }
}
if ($problems.Count -gt 0) {
    throw "help not written:`n  $($problems -join "`n  ")"
}

$maml = 'http://schemas.microsoft.com/maml/2004/10'
$cmd = 'http://schemas.microsoft.com/maml/dev/command/2004/10'
$dev = 'http://schemas.microsoft.com/maml/dev/2004/10'

$settings = [System.Xml.XmlWriterSettings]::new()
$settings.Indent = $true
$settings.Encoding = [System.Text.UTF8Encoding]::new($false)
$settings.NewLineChars = "`n"
$stream = [System.IO.MemoryStream]::new()
$w = [System.Xml.XmlWriter]::Create($stream, $settings)

function Para([string] $text) {
    $w.WriteStartElement('maml', 'description', $maml)
    foreach ($line in $text -split "`n") {
        $w.WriteElementString('maml', 'para', $maml, $line)
    }
    $w.WriteEndElement()
}

function TypeName([type] $type) {
    if ($type -eq [System.Management.Automation.SwitchParameter]) { return 'SwitchParameter' }
    $t = $type
    if ($t.IsGenericType -and $t.GetGenericTypeDefinition() -eq [Nullable`1]) { $t = $t.GetGenericArguments()[0] }
    $t.FullName
}

function Parameter($command, $entry, $parameter, $set) {
    $name = $parameter.Name
    $text = if ($entry.Parameters -and $entry.Parameters[$name]) { $entry.Parameters[$name] } else { $help.Common[$name] }
    $inSet = if ($set) { $set.Parameters | Where-Object Name -EQ $name } else { $null }
    $sets = @($parameter.ParameterSets.Values)
    $meta = if ($inSet) { $inSet } else { $sets[0] }
    $pipeline = @()
    if ($meta.ValueFromPipeline) { $pipeline += 'ByValue' }
    if ($meta.ValueFromPipelineByPropertyName) { $pipeline += 'ByPropertyName' }
    $w.WriteStartElement('command', 'parameter', $cmd)
    $w.WriteAttributeString('required', ([string][bool]$meta.IsMandatory).ToLowerInvariant())
    $w.WriteAttributeString('variableLength', ([string]$parameter.ParameterType.IsArray).ToLowerInvariant())
    $w.WriteAttributeString('globbing', 'false')
    $w.WriteAttributeString('pipelineInput', $(if ($pipeline) { "True ($($pipeline -join ', '))" } else { 'False' }))
    $w.WriteAttributeString('position', $(if ($meta.Position -ge 0) { [string]$meta.Position } else { 'named' }))
    $w.WriteAttributeString('aliases', $(if ($parameter.Aliases.Count) { $parameter.Aliases -join ', ' } else { 'none' }))
    $w.WriteElementString('maml', 'name', $maml, $name)
    Para $text
    $type = TypeName $parameter.ParameterType
    if ($type -ne 'SwitchParameter') {
        $w.WriteStartElement('command', 'parameterValue', $cmd)
        $w.WriteAttributeString('required', 'true')
        $w.WriteAttributeString('variableLength', 'false')
        $w.WriteString(($type -split '\.')[-1])
        $w.WriteEndElement()
    }
    $w.WriteStartElement('dev', 'type', $dev)
    $w.WriteElementString('maml', 'name', $maml, $type)
    $w.WriteEndElement()
    $w.WriteEndElement()
}

$w.WriteStartDocument()
$w.WriteComment(' Made by module/help/Build-KvControlHelp.ps1 from module/help/KvControl.help.psd1: edit that, not this. ')
$w.WriteStartElement('helpItems', 'http://msh')
$w.WriteAttributeString('schema', 'maml')
foreach ($command in $commands) {
    $entry = $help.Cmdlets[$command.Name]
    $w.WriteStartElement('command', 'command', $cmd)
    $w.WriteAttributeString('xmlns', 'maml', $null, $maml)
    $w.WriteAttributeString('xmlns', 'command', $null, $cmd)
    $w.WriteAttributeString('xmlns', 'dev', $null, $dev)

    $w.WriteStartElement('command', 'details', $cmd)
    $w.WriteElementString('command', 'name', $cmd, $command.Name)
    $w.WriteElementString('command', 'verb', $cmd, $command.Verb)
    $w.WriteElementString('command', 'noun', $cmd, $command.Noun)
    Para $entry.Synopsis
    $w.WriteEndElement()
    Para $entry.Description

    $w.WriteStartElement('command', 'syntax', $cmd)
    foreach ($set in $command.ParameterSets) {
        $w.WriteStartElement('command', 'syntaxItem', $cmd)
        $w.WriteElementString('maml', 'name', $maml, $command.Name)
        foreach ($p in $set.Parameters) {
            if ($p.Name -in $skip) { continue }
            Parameter $command $entry $command.Parameters[$p.Name] $set
        }
        $w.WriteEndElement()
    }
    $w.WriteEndElement()

    $w.WriteStartElement('command', 'parameters', $cmd)
    foreach ($name in ($command.Parameters.Keys | Sort-Object)) {
        if ($name -in $skip) { continue }
        Parameter $command $entry $command.Parameters[$name] $null
    }
    $w.WriteEndElement()

    $w.WriteStartElement('command', 'returnValues', $cmd)
    foreach ($type in $command.OutputType) {
        $w.WriteStartElement('command', 'returnValue', $cmd)
        $w.WriteStartElement('dev', 'type', $dev)
        $w.WriteElementString('maml', 'name', $maml, $type.Name)
        $w.WriteEndElement()
        $w.WriteEndElement()
    }
    $w.WriteEndElement()

    $w.WriteStartElement('command', 'examples', $cmd)
    $n = 0
    foreach ($example in $entry.Examples) {
        $n++
        $w.WriteStartElement('command', 'example', $cmd)
        $w.WriteElementString('maml', 'title', $maml, "-------------------------- Example $n --------------------------")
        $w.WriteElementString('dev', 'code', $dev, $example.Code)
        $w.WriteStartElement('dev', 'remarks', $dev)
        $w.WriteElementString('maml', 'para', $maml, $example.Remarks)
        $w.WriteEndElement()
        $w.WriteEndElement()
    }
    $w.WriteEndElement()

    $w.WriteStartElement('command', 'relatedLinks', $cmd)
    $w.WriteStartElement('maml', 'navigationLink', $maml)
    $w.WriteElementString('maml', 'linkText', $maml, 'about_KvControl')
    $w.WriteEndElement()
    $w.WriteEndElement()

    $w.WriteEndElement()
}
$w.WriteEndElement()
$w.WriteEndDocument()
$w.Flush()
$text = [System.Text.Encoding]::UTF8.GetString($stream.ToArray()) + "`n"
$w.Dispose()
[System.IO.File]::WriteAllText([System.IO.Path]::GetFullPath($OutFile), $text, [System.Text.UTF8Encoding]::new($false))
Write-Verbose "wrote $OutFile ($($commands.Count) cmdlets)"

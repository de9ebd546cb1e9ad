#!/usr/bin/env bash
# The one entry point a newcomer needs.
#   ./kv.sh demo    set up what is missing, build, and walk through the product
#   ./kv.sh test    everything CI runs (xunit and Pester); ends with "N passed, N failed[, N skipped]"
#   ./kv.sh bench   the benchmarks behind docs/PERFORMANCE.md
#   ./kv.sh build   set up and build only
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
ROOT=$PWD
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'kv.sh: %s\n' "$*" >&2; exit 1; }

# Installs what a fresh Debian 12 machine of this kind lacks. Idempotent and quiet when all is there.
ensure_deps() {
  command -v dotnet >/dev/null || die "the .NET 10 SDK is not on PATH; install it (https://dot.net) and run again"
  # RocksDB comes with the RocksDB NuGet package (its librocksdb.so is copied into every build
  # output), so no system package is needed; bench/run.sh installs a C compiler for its C peer.
  local d
  for d in $(find tests bench -name package.json -not -path '*/node_modules/*' 2>/dev/null); do
    d=$(dirname "$d")
    if [ ! -d "$d/node_modules" ] || [ "$d/package-lock.json" -nt "$d/node_modules" ]; then
      command -v npm >/dev/null || die "npm is needed for the interop tests in $d; install Node.js 20 and npm"
      say "installing npm packages in $d"
      (cd "$d" && npm ci --no-audit --no-fund --loglevel=error >/dev/null && touch node_modules)
    fi
  done
}

# pwsh for tests/pester: the PowerShell dotnet tool, in a folder of the build's own. Name the
# version: without one the tool install takes the newest (7.7.0), which fails here.
PWSH_VERSION=7.6.10
PWSH_DIR="$ROOT/artifacts/tools/pwsh"
export POWERSHELL_TELEMETRY_OPTOUT=1 POWERSHELL_UPDATECHECK=Off

# Runs the installed pwsh. Its launcher finds .NET through DOTNET_ROOT or the default install
# location, not PATH: point it at the SDK on PATH when DOTNET_ROOT is not set.
pwsh_run() {
  DOTNET_ROOT="${DOTNET_ROOT:-$(dirname "$(readlink -f "$(type -P dotnet)")")}" "$PWSH_DIR/pwsh" "$@"
}

# Installs pwsh $PWSH_VERSION into $PWSH_DIR unless it is there. Idempotent and quiet when it is.
ensure_pwsh() {
  if [ -x "$PWSH_DIR/pwsh" ] &&
     dotnet tool list --tool-path "$PWSH_DIR" 2>/dev/null | grep -iE "^powershell +${PWSH_VERSION//./\.} " >/dev/null; then
    return
  fi
  say "installing pwsh $PWSH_VERSION (the PowerShell dotnet tool) into ${PWSH_DIR#"$ROOT"/}"
  rm -rf "$PWSH_DIR"
  dotnet tool install --tool-path "$PWSH_DIR" PowerShell --version "$PWSH_VERSION" >/dev/null ||
    die "could not install pwsh $PWSH_VERSION (dotnet tool install --tool-path $PWSH_DIR PowerShell --version $PWSH_VERSION, output above); the Pester tests in tests/pester need it: check that the NuGet source serves the PowerShell package"
  pwsh_run -NoProfile -NonInteractive -Command 'exit 0' ||
    die "pwsh $PWSH_VERSION installed into $PWSH_DIR but does not start (output above)"
}

# Prints the path of the Pester module that the build's restore downloaded (the PackageDownload in
# tests/Kv.PowerShell.Tests), in the NuGet packages folder that restore used (NUGET_PACKAGES,
# nuget.config or ~/.nuget/packages, as its project.assets.json records).
pester_module() {
  local project=tests/Kv.PowerShell.Tests version folder
  version=$(grep -o '<PackageDownload Include="Pester" Version="\[[0-9.]*\]"' "$project/Kv.PowerShell.Tests.csproj" | grep -oE '[0-9]+(\.[0-9]+)+') ||
    { echo "no <PackageDownload Include=\"Pester\" Version=\"[X.Y.Z]\" /> in $project/Kv.PowerShell.Tests.csproj"; return 1; }
  folder=$(sed -n '/"packageFolders"/{n;s/^ *"\(.*\)": {.*/\1/p;q}' "$project/obj/project.assets.json" 2>/dev/null)
  [ -n "$folder" ] || { echo "$project/obj/project.assets.json names no NuGet packages folder; was the solution restored?"; return 1; }
  echo "${folder%/}/pester/$version/tools/Pester.psd1"
}

build() { # configuration
  say "building ($1)"
  dotnet build ControlPlane.sln -c "$1" -nologo -v q -clp:ErrorsOnly
}

# Sums the TRX files of one run and prints the closing line; returns non-zero on any failure.
run_tests() {
  local results="$ROOT/artifacts/test-results"
  rm -rf "$results"; mkdir -p "$results"
  say "running tests"
  local rc=0
  dotnet test ControlPlane.sln -c Debug --no-build -nologo --logger "trx" --results-directory "$results" \
    -- RunConfiguration.TreatNoTestsAsError=false || rc=$?

  local passed=0 failed=0 skipped=0 f p fl sk
  for f in "$results"/*.trx; do
    [ -e "$f" ] || continue
    p=$(grep -o '<Counters [^>]*' "$f" | grep -o ' passed="[0-9]*"' | grep -o '[0-9]*' || echo 0)
    fl=$(grep -o '<Counters [^>]*' "$f" | grep -o ' failed="[0-9]*"' | grep -o '[0-9]*' || echo 0)
    sk=$(grep -o '<Counters [^>]*' "$f" | grep -o ' notExecuted="[0-9]*"' | grep -o '[0-9]*' || echo 0)
    passed=$((passed + p)); failed=$((failed + fl)); skipped=$((skipped + sk))
    if [ "$sk" -gt 0 ]; then
      echo "skipped in $(basename "$f"):"
      grep -o 'testName="[^"]*"[^>]*outcome="NotExecuted"' "$f" | sed 's/testName="\([^"]*\)".*/  \1/' || true
    fi
  done
  if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then
    echo "the test run itself failed (exit $rc) before every result was recorded; see the output above"
    failed=$((failed + 1))
  fi

  # tests/pester in a real pwsh (ensure_pwsh) with the Pester the build restored. It imports the
  # module the build made; a crash, a missing pwsh or Pester, or a run without tests counts as failed.
  say "running Pester tests (tests/pester)"
  local pester counts="$results/pester-counts.txt" prc=0
  p=0; fl=0; sk=0
  if ! pester=$(pester_module); then
    echo "Pester tests not run: $pester"
    fl=1
  elif [ ! -f "$pester" ]; then
    echo "Pester tests not run: no Pester module at $pester (the build's restore of tests/Kv.PowerShell.Tests downloads it)"
    fl=1
  elif [ ! -x "$PWSH_DIR/pwsh" ]; then
    echo "Pester tests not run: no pwsh at $PWSH_DIR/pwsh (ensure_pwsh installs it)"
    fl=1
  else
    pwsh_run -NoProfile -NonInteractive -File tests/pester/run-pester.ps1 \
      -Pester "$pester" -CountsFile "$counts" -ResultsFile "$results/pester.xml" || prc=$?
    if [ -f "$counts" ] && read -r p fl sk < "$counts" && [[ "$p $fl $sk" =~ ^[0-9]+\ [0-9]+\ [0-9]+$ ]]; then
      if [ "$prc" -ne 0 ] && [ "$fl" -eq 0 ]; then
        echo "the Pester run exited $prc though it recorded no failure; see the output above"
        fl=1
      fi
    else
      echo "the Pester run ended (exit $prc) without recording its counts; see the output above"
      p=0; fl=1; sk=0
    fi
  fi
  passed=$((passed + p)); failed=$((failed + fl)); skipped=$((skipped + sk))

  local line="$passed passed, $failed failed"
  [ "$skipped" -gt 0 ] && line="$line, $skipped skipped"
  echo "$line"
  [ "$failed" -eq 0 ]
}

# Prints each command before running it, so the demo doubles as a tour.
show() { printf '\n\033[36m$ %s\033[0m\n' "$*"; "$@"; }

# Runs one kvctl command of the tour: prints it, runs it, and stops the demo (naming the command)
# when its exit code is not the expected one (0 unless given as: expect N kvctl ARGS...).
tour() {
  local want=0
  if [ "$1" = expect ]; then want=$2; shift 2; fi
  shift # "kvctl"
  printf '\n\033[36m$ kvctl %s\033[0m\n' "$*"
  local rc=0
  "$DEMO_BIN/kvctl" "$@" || rc=$?
  if [ "$rc" -ne "$want" ]; then
    printf '\nkv.sh demo: `kvctl %s` exited %s (expected %s); stopping. Node logs: %s/node*/kv-node.log\n' "$*" "$rc" "$want" "$DEMO_DIR" >&2
    exit 1
  fi
  [ "$want" -eq 0 ] || printf '(exit %s, as expected)\n' "$rc"
}

demo() {
  # Its own directory: a secure cluster, and a cluster keeps its mode (an earlier cleartext demo in .kv/demo stays as it is).
  DEMO_BIN="$ROOT/artifacts/bin" DEMO_DIR="$ROOT/.kv/demo-secure"
  # The demo's own kvctl context, so it does not replace yours (~/.kv/kvctl-context.json).
  export KVCTL_CONTEXT="$DEMO_DIR/kvctl-context.json"
  say "the tour: binaries in $DEMO_BIN, a 4-node cluster (3 placement members; the 4th store gives a drain somewhere to go) with its data in $DEMO_DIR"
  tour kvctl version
  show "$DEMO_BIN/kv-node" storage check --data-dir "$DEMO_DIR/storage-check"

  say "an embedded 4-node cluster: real kv-node processes on 127.0.0.1, secure (mutual TLS only; a CA, a node and an admin certificate in $DEMO_DIR/certs)"
  # If the tour stops half way, do not leave the nodes running.
  trap 'rc=$?; if [ $rc -ne 0 ]; then say "stopping the demo cluster"; "$DEMO_BIN/kvctl" local down --dir "$DEMO_DIR" >&2 || true; fi' EXIT
  tour kvctl local up --nodes 4 --dir "$DEMO_DIR" --secure
  tour kvctl local status --dir "$DEMO_DIR"

  say "every other command finds the cluster through the kvctl context that 'local up' wrote ($KVCTL_CONTEXT)"
  tour kvctl cluster status
  tour kvctl store list
  tour kvctl range list
  tour kvctl range show 1

  say "key-value access: each kv verb is a snapshot-isolated transaction (Percolator two-phase commit through the ranges' Raft leaders)"
  tour kvctl kv put greeting hello
  tour kvctl kv put fruit/apple red
  tour kvctl kv put fruit/banana yellow
  tour kvctl kv put fruit/cherry dark-red
  tour kvctl kv get greeting
  tour kvctl kv scan fruit/ fruit0
  tour kvctl kv scan fruit/ fruit0 --reverse --limit 2
  tour kvctl kv delete fruit/banana
  tour expect 4 kvctl kv get fruit/banana
  tour kvctl kv scan fruit/ fruit0 -o json

  say "several operations as one transaction: a JSON array of get/put/delete on standard input"
  tour kvctl txn run --file - <<< '[{"op":"get","key":"fruit/apple"},{"op":"put","key":"fruit/apple","value":"green"},{"op":"delete","key":"greeting"}]'
  tour kvctl kv get fruit/apple
  tour expect 4 kvctl kv get greeting
  tour kvctl store list -o json

  say "operations: a drain of store 3, first as a dry run (the plan and its preflight; nothing changes), then for real with its progress"
  tour kvctl cluster status
  tour kvctl store drain 3 --dry-run
  tour kvctl store drain 3 --reason "demo: take store 3 out of service" --id demo-drain-3
  tour kvctl operation list
  tour kvctl operation show demo-drain-3 -o json
  tour kvctl audit list --since 1h
  tour kvctl store undrain 3 --reason "demo: back in service" --dry-run

  say "GC: the safe point, and what holds it back (a backup's service safe point pins the versions it reads until its TTL runs out)"
  tour kvctl gc service set demo-backup --ts 5m --ttl 30m
  tour kvctl gc status
  tour kvctl gc why
  tour kvctl gc service remove demo-backup

  say "roles: every certificate carries one (node, admin or client); an application certificate (role client) may use keys but not operations"
  local certs="$DEMO_DIR/certs"
  tour kvctl cert create-client --dir "$certs" --role client --name demo-app --force
  tour kvctl kv get fruit/apple --ca "$certs/ca.crt" --cert "$certs/demo-app.crt" --key "$certs/demo-app.key"
  tour expect 1 kvctl operation list --ca "$certs/ca.crt" --cert "$certs/demo-app.crt" --key "$certs/demo-app.key"
  say "and a plaintext caller is refused with the reason"
  tour expect 1 kvctl kv get fruit/apple --endpoint "$(sed -n 's/.*"\(127\.0\.0\.1:[0-9]*\)".*/\1/p' "$KVCTL_CONTEXT" | head -1)" --context "$DEMO_DIR/no-context.json"

  demo_powershell

  say "stopping the nodes cleanly; the data stays in $DEMO_DIR for the next 'local up'"
  tour kvctl local down --dir "$DEMO_DIR"
  trap - EXIT
  say "done: ./kv.sh test runs every test; README.md has more"
}

# The drain again, as a PowerShell runbook (docs/POWERSHELL.md) would run it with the KvControl
# module. Only when pwsh is installed (./kv.sh build and test install it); the tour goes on without.
# A drained store cannot be brought back and a 4-store cluster has no room for a second drain, so the
# runbook submits kvctl's drain again under its id: the cluster follows the recorded operation instead
# of starting a second one (a runbook that is safe to re-run), waits for it and shows it.
# A runbook failure stops the demo like a failed kvctl step.
demo_powershell() {
  if [ ! -x "$PWSH_DIR/pwsh" ]; then
    say "skipping the PowerShell runbook: no pwsh in ${PWSH_DIR#"$ROOT"/} (./kv.sh build installs it)"
    return
  fi
  say "the drain as a PowerShell runbook (KvControl, artifacts/module/KvControl): the same id follows the drain kvctl submitted"
  dotnet build module/Kv.PowerShell.csproj -c Release -nologo -v q -clp:ErrorsOnly >/dev/null
  local runbook='$ErrorActionPreference = "Stop"
Import-Module ./artifacts/module/KvControl
$ctx = Get-Content -Raw $env:KVCTL_CONTEXT | ConvertFrom-Json  # what kvctl local up --secure wrote: endpoints and the admin certificate
$null = Connect-KvCluster -Endpoint $ctx.endpoints -CaCertificate $ctx.caCertificate -ClientCertificate $ctx.clientCertificate -ClientKey $ctx.clientKey
$drain = Start-KvStoreDrain -StoreId 3 -Reason "demo: take store 3 out of service" -Id demo-drain-3 -NoWait
$drain | Wait-KvOperation -Timeout 300 | Format-List Id, State, Reason, RequestedBy, Finished
Get-KvStore -StoreId 3 | Format-Table Id, Address, AdminState, Liveness, RangeCount'
  printf '\n\033[36mPS> %s\033[0m\n' "${runbook//$'\n'/$'\n'PS> }"
  pwsh_run -NoProfile -NonInteractive -Command "$runbook" ||
    { printf '\nkv.sh demo: the PowerShell runbook failed (output above); stopping. Node logs: %s/node*/kv-node.log\n' "$DEMO_DIR" >&2; exit 1; }
}

# Release binaries for the demo and benchmarks, built into one directory (kvctl finds kv-node
# next to itself there), with a launcher script for each in artifacts/bin.
publish_bins() {
  say "publishing kv-node and kvctl (Release)"
  dotnet build node/Kv.Node.csproj -c Release -nologo -v q -clp:ErrorsOnly -o artifacts/bin/lib
  dotnet build cli/Kv.Cli.csproj -c Release -nologo -v q -clp:ErrorsOnly -o artifacts/bin/lib
  mkdir -p artifacts/bin
  printf '#!/bin/sh\nexec dotnet "$(dirname "$0")/lib/kv-node.dll" "$@"\n' > artifacts/bin/kv-node
  printf '#!/bin/sh\nexec dotnet "$(dirname "$0")/lib/kvctl.dll" "$@"\n' > artifacts/bin/kvctl
  chmod +x artifacts/bin/kv-node artifacts/bin/kvctl
}

cmd=${1:-help}
case "$cmd" in
  test)
    ensure_deps
    ensure_pwsh
    build Debug
    run_tests
    ;;
  build)
    ensure_deps
    ensure_pwsh
    build Debug
    ;;
  demo)
    ensure_deps
    publish_bins
    demo
    ;;
  bench)
    shift
    ensure_deps
    exec bash "$ROOT/bench/run.sh" "$@"
    ;;
  help|-h|--help)
    sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'
    ;;
  *)
    echo "kv.sh: unknown command '$cmd'" >&2
    sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
    ;;
esac

#!/usr/bin/env bash
# The one entry point a newcomer needs.
#   ./kv.sh demo    set up what is missing, build, and walk through the product
#   ./kv.sh test    everything CI runs; ends with "N passed, N failed[, N skipped]"
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
  local pkgs=()
  # grep without -q: with pipefail, -q's early exit can SIGPIPE ldconfig and fail the pipeline.
  ldconfig -p 2>/dev/null | grep 'librocksdb\.so\.7\.8' >/dev/null || pkgs+=(librocksdb7.8)
  [ -f /usr/include/rocksdb/c.h ] || pkgs+=(librocksdb-dev)   # headers for the C peer in bench/
  command -v cc >/dev/null || pkgs+=(gcc libc6-dev)
  if [ ${#pkgs[@]} -gt 0 ]; then
    say "installing ${pkgs[*]} (apt)"
    local sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${pkgs[@]}" >/dev/null
  fi
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

  # Pester tests need a PowerShell runtime, which cannot be installed here (shared/ENVIRONMENT.md).
  local its
  its=$( { grep -rhoE '^\s*It\s' tests/pester 2>/dev/null || true; } | wc -l)
  if [ "$its" -gt 0 ]; then
    if command -v pwsh >/dev/null; then
      say "running Pester tests"
      local out
      out=$(pwsh -NoProfile -Command "\$c = New-PesterConfiguration; \$c.Run.Path='tests/pester'; \$c.Run.PassThru=\$true; \$r = Invoke-Pester -Configuration \$c; \"PESTER \$(\$r.PassedCount) \$(\$r.FailedCount) \$(\$r.SkippedCount)\"" | tee /dev/stderr | grep '^PESTER ' || echo "PESTER 0 1 0")
      read -r _ p fl sk <<<"$out"
      passed=$((passed + p)); failed=$((failed + fl)); skipped=$((skipped + sk))
    else
      echo "skipped: $its Pester tests in tests/pester: no PowerShell runtime (pwsh) on PATH, and none can be installed here; the cmdlets' manifest and attributes are checked by tests/Kv.PowerShell.Tests instead"
      skipped=$((skipped + its))
    fi
  fi

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
  DEMO_BIN="$ROOT/artifacts/bin" DEMO_DIR="$ROOT/.kv/demo"
  # The demo's own kvctl context, so it does not replace yours (~/.kv/kvctl-context.json).
  export KVCTL_CONTEXT="$DEMO_DIR/kvctl-context.json"
  say "the tour: binaries in $DEMO_BIN, a 3-node cluster with its data in $DEMO_DIR"
  tour kvctl version
  show "$DEMO_BIN/kv-node" storage check --data-dir "$DEMO_DIR/storage-check"

  say "an embedded 3-node cluster: real kv-node processes on 127.0.0.1"
  # If the tour stops half way, do not leave the nodes running.
  trap 'rc=$?; if [ $rc -ne 0 ]; then say "stopping the demo cluster"; "$DEMO_BIN/kvctl" local down --dir "$DEMO_DIR" >&2 || true; fi' EXIT
  tour kvctl local up --nodes 3 --dir "$DEMO_DIR"
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

  say "stopping the nodes cleanly; the data stays in $DEMO_DIR for the next 'local up'"
  tour kvctl local down --dir "$DEMO_DIR"
  trap - EXIT
  say "done: ./kv.sh test runs every test; README.md has more"
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
    build Debug
    run_tests
    ;;
  build)
    ensure_deps
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

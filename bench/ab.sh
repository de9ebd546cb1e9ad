#!/usr/bin/env bash
# bench/ab.sh BEFORE AFTER SUITE ROUNDS [SUITE OPTIONS...]
#
# A/B comparison of two builds of this repository on one kv-bench suite (cluster or txn): each
# round runs BEFORE's kv-bench and AFTER's kv-bench one after the other (the one going first
# alternating by round), each starting its own kv-node cluster (the kv-node built beside that
# kv-bench, with that build's client library in kv-bench), so both builds see the same machine
# noise. BEFORE and AFTER are checkouts whose bench was built in Release
# (`dotnet build bench/Kv.Bench.csproj -c Release`). Prints one table: the median over the rounds
# of each build's per-invocation medians, and after / before (throughput) or before / after
# (latency, CPU), so above 100 % means AFTER did better. Raw outputs stay in artifacts/ab/.
#
# Example (issue 12's gate: cluster and txn suites, kv-node only):
#   bench/ab.sh ../ab-before . cluster 3 --systems kv-node --runs 3 --duration 3
set -euo pipefail
[ $# -ge 4 ] || { sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
before=$(cd "$1" && pwd) after=$(cd "$2" && pwd) suite=$3 rounds=$4
shift 4
opts=("$@")  # the suite options; "$@" inside run() is run's own arguments
out="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/artifacts/ab/$suite-$(date -u +%Y%m%dT%H%M%S)"
mkdir -p "$out"

run() { # side dir round
  local dll="$2/bench/bin/Release/net10.0/kv-bench.dll"
  [ -f "$dll" ] || { echo "ab.sh: $dll is missing; build $2/bench in Release first" >&2; exit 2; }
  echo "round $3: $1 ($2), load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
  dotnet "$dll" "$suite" "${opts[@]}" > "$out/$1-$3.md" 2> "$out/$1-$3.log" || {
    echo "ab.sh: $1 round $3 failed; see $out/$1-$3.log" >&2; exit 1; }
}

for ((r = 1; r <= rounds; r++)); do
  if ((r % 2)); then run before "$before" "$r"; run after "$after" "$r"
  else run after "$after" "$r"; run before "$before" "$r"; fi
done

# Each invocation's table has rows "| name | kv-node | etcd | ratio |"; take the kv-node column.
echo "## A/B: $suite, $rounds rounds (medians of each invocation's medians); before $before, after $after"
echo
echo "| workload | before | after | after vs before |"
echo "| --- | --: | --: | --: |"
awk -F'|' '
  FNR == 1 { side = (FILENAME ~ /\/before-[0-9]+\.md$/) ? "b" : "a" }
  /^\| [a-z]/ && $3 ~ /[0-9]/ {
    name = $2; gsub(/^ +| +$/, "", name); v = $3; gsub(/[ ,]/, "", v)
    if (!(name in seen)) { seen[name] = 1; order[++n] = name }
    vals[side, name] = vals[side, name] " " v
  }
  function median(s,   a, k, i, j, t) {
    k = split(s, a, " "); for (i = 2; i <= k; i++) for (j = i; j > 1 && a[j-1] + 0 > a[j] + 0; j--) { t = a[j]; a[j] = a[j-1]; a[j-1] = t }
    return k == 0 ? "" : (k % 2 ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2)
  }
  END {
    for (i = 1; i <= n; i++) {
      name = order[i]; b = median(vals["b", name]); a = median(vals["a", name])
      higher = (name ~ /ops\/s/)
      ratio = (a == "" || b == "" || a == 0 || b == 0) ? "-" : sprintf("%.0f %%", 100 * (higher ? a / b : b / a))
      printf "| %s | %s | %s | %s |\n", name, b, a, ratio
    }
  }' "$out"/before-*.md "$out"/after-*.md
echo
echo "Raw tables and logs: $out"

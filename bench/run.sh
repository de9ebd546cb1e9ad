#!/usr/bin/env bash
# ./kv.sh bench [SUITE [options]]: builds kv-bench in Release and runs one suite, or all.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
dotnet build bench/Kv.Bench.csproj -c Release -nologo -v q -clp:ErrorsOnly
bench=(dotnet bench/bin/Release/net10.0/kv-bench.dll)
if [ $# -gt 0 ]; then
  exec "${bench[@]}" "$@"
fi
for suite in $("${bench[@]}" 2>&1 | sed -n 's/.*suites: //p' | tr -d ','); do
  "${bench[@]}" "$suite"
done

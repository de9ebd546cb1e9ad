#!/usr/bin/env bash
# ./kv.sh bench [SUITE [options]]: builds kv-bench in Release and runs one suite, or all.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
dotnet build bench/Kv.Bench.csproj -c Release -nologo -v q -clp:ErrorsOnly

# The C peer of the engine suite, over the same librocksdb. Debian's runtime package ships only the
# versioned soname; librocksdb-dev (which ./kv.sh installs) adds librocksdb.so, so fall back to the file.
c_peer=bench/c/engine_bench
if [ ! -x "$c_peer" ] || [ "$c_peer.c" -nt "$c_peer" ]; then
  cflags=(-O2 -std=c11 -Wall -Wextra -Werror -o "$c_peer" "$c_peer.c")
  cc "${cflags[@]}" -lrocksdb 2>/dev/null || cc "${cflags[@]}" -l:librocksdb.so.7.8
fi

# The peer of the cluster suite: Debian's etcd-server (3.4.x), started by the suite itself on
# loopback (the package's own service is not used; policy-rc.d or no init leaves it stopped).
if ! command -v etcd >/dev/null; then
  echo "installing etcd-server (apt) for the cluster suite" >&2
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq etcd-server >/dev/null
fi

bench=(dotnet bench/bin/Release/net10.0/kv-bench.dll)
if [ $# -gt 0 ]; then
  exec "${bench[@]}" "$@"
fi
for suite in $("${bench[@]}" 2>&1 | sed -n 's/.*suites: //p' | tr -d ','); do
  "${bench[@]}" "$suite"
done

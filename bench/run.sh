#!/usr/bin/env bash
# ./kv.sh bench [SUITE [options]]: builds kv-bench in Release and runs one suite, or all.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
dotnet build bench/Kv.Bench.csproj -c Release -nologo -v q -clp:ErrorsOnly

# The C peer of the engine suite links the very librocksdb.so the C# side loads: the RocksDB NuGet
# package's, from kv-bench's build output (no apt package; the package ships no headers, so the
# peer declares the C API it calls in bench/c/rocksdb_c_api.h). The library's soname
# (librocksdb.so.11.12) is not a file the package ships, so bench/c/lib (gitignored) holds a link
# by that name, which the peer finds at run time through its rpath.
case "$(uname -m)" in
  x86_64) rid=linux-x64 ;;
  aarch64) rid=linux-arm64 ;;
  *) echo "bench/run.sh: the RocksDB package has no library for $(uname -m)" >&2; exit 1 ;;
esac
rocksdb_lib="$PWD/bench/bin/Release/net10.0/runtimes/$rid/native/librocksdb.so"
[ -f "$rocksdb_lib" ] || { echo "bench/run.sh: $rocksdb_lib is missing; the RocksDB package did not restore" >&2; exit 1; }
if ! command -v cc >/dev/null; then
  echo "installing gcc (apt) for the C peer of the engine suite" >&2
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq gcc libc6-dev binutils >/dev/null
fi
soname=$(readelf -d "$rocksdb_lib" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')
mkdir -p bench/c/lib
ln -sfn "$rocksdb_lib" "bench/c/lib/$soname"
c_peer=bench/c/engine_bench
if [ ! -x "$c_peer" ] || [ "$c_peer.c" -nt "$c_peer" ] || [ bench/c/rocksdb_c_api.h -nt "$c_peer" ] \
   || ! readelf -d "$c_peer" | grep -F "[$soname]" >/dev/null; then
  cc -O2 -std=c11 -Wall -Wextra -Werror -o "$c_peer" "$c_peer.c" \
    -Lbench/c/lib -l:"$soname" -Wl,-rpath,'$ORIGIN/lib'
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

#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The README's main command (tools/run demo) does what it shows: run
# tools/demo.sh and check
# the tutorial's answers in its output.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=$1
out=$(mktemp /tmp/locus-demo-out-XXXXXX)
trap 'rm -f "$out"' EXIT
(cd "$top" && tools/demo.sh "$build") > "$out" 2>&1
rc=$?
fail=0
check() { # description, grep -E pattern, minimum count
  local n
  n=$(grep -cE -- "$2" "$out")
  if [ "$n" -lt "$3" ]; then
    echo "demo: $1: expected $3 line(s) matching '$2', found $n"
    fail=1
  fi
}
[ $rc -eq 0 ] || { echo "demo: tools/demo.sh exited $rc"; fail=1; }
check "spmd gathers three worker pids" '^\[[0-9]+, [0-9]+, [0-9]+\]$' 1
check "mpmd prints [2, 3, 4]" '^\[2, 3, 4\]$' 1
check "function_to_data slow path" '^slow: .*shape \(100, 100\)' 1
check "function_to_data fast path" '^fast: .*shape \(100, 100\).* 16 bytes' 1
check "function_to_data moves nothing between workers" '^bytes moved between workers: 0$' 1
if ! grep -q '^LOCUS_WITH_HDF5:BOOL=OFF' "$build/CMakeCache.txt" 2>/dev/null; then
  check "hdf5_arrays shape, slow and fast" '^\(100, 100\)$' 2
  check "hdf5_arrays arange(100)" '^       92, 93, 94, 95, 96, 97, 98, 99\], dtype=int64\)$' 1
fi
if [ $fail -ne 0 ]; then
  cat "$out"
  echo "0 passed, 1 failed"
  exit 1
fi
echo "1 passed, 0 failed"

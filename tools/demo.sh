#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The README's main job: start a local cluster (like "ipcluster start -n 4"),
# run the tutorial's examples against it, stop it.
set -euo pipefail
build=${1:-build}
top=$(cd "$(dirname "$0")/.." && pwd)
case $build in
  /*) bin=$build ;;
  *) bin=$top/$build ;;
esac
dir=$(mktemp -d /tmp/locus-demo-XXXXXX)
export LOCUS_CLUSTER_DIR=$dir
stop() {
  "$bin/tools/locus-cluster" stop --dir "$dir" >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap stop EXIT

echo "== locus-info"
"$bin/tools/locus-info" | sed -n '1,3p;/^Chosen/,/address/p;/^Machine/,$p'

echo
echo "== locus-cluster start -n 4 --nthreads 1"
sched=$("$bin/tools/locus-cluster" start -n 4 --nthreads 1 --dir "$dir")
"$bin/tools/locus-cluster" status --dir "$dir"

tasks=$bin/examples/libtasks_tutorial.so
for ex in spmd mpmd; do
  echo
  echo "== $ex"
  "$bin/examples/$ex" "$sched" "$tasks"
done

echo
echo "== function_to_data"
"$bin/examples/function_to_data" "$sched" "$bin/examples/libtasks_data.so"

echo
echo "== what the workers printed"
cat "$dir"/worker-*.log | grep -v ' info ' || true

echo
if grep -q '^LOCUS_WITH_HDF5:BOOL=OFF' "$bin/CMakeCache.txt" 2>/dev/null; then
  echo "== hdf5_arrays skipped: locus was configured with -DLOCUS_WITH_HDF5=OFF"
else
  echo "== hdf5_arrays (data files in $dir)"
  "$bin/examples/hdf5_arrays" "$sched" "$bin/examples/libtasks_arrays.so" "$dir"
fi

echo
echo "== locus-cluster stop"
"$bin/tools/locus-cluster" stop --dir "$dir"

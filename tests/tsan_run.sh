#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Runs one ctest entry of the ThreadSanitizer build (LOCUS_TSAN) so that a
# report from ANY process it starts fails it: the test binary, Criterion's
# test processes, the daemons (and the worker processes their nannies
# fork), helpers, tools, examples, what mpirun and srun start.  Every one
# of them writes its reports to $dir/tsan.<pid> (TSAN_OPTIONS log_path),
# whatever it does with its stderr; the entry fails when one exists.
# tests/support/cluster.c also fails the Criterion test during which one
# appeared (LT_TSAN_LOG_DIR), to name it.
#   tsan_run.sh COMMAND [ARG...]
set -uo pipefail
dir=$(mktemp -d /tmp/locus-tsan-XXXXXX)
export LT_TSAN_LOG_DIR=$dir
export TSAN_OPTIONS="${TSAN_OPTIONS:+$TSAN_OPTIONS:}log_path=$dir/tsan"
"$@"
rc=$?
n=0
for f in "$dir"/tsan.*; do
  [ -e "$f" ] || continue
  n=$((n + 1))
  echo "---- ThreadSanitizer output of pid ${f##*.} ($f) ----"
  cat "$f"
done
rm -rf "$dir"
if [ $n -gt 0 ]; then
  echo "tsan_run: $n process(es) started by '$*' wrote a ThreadSanitizer report (above)"
  echo "0 passed, 1 failed"
  exit 1
fi
exit $rc

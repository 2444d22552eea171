#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The README's mpirun recipe (examples/mpi/locus-mpirun.sh, word for word
# in the README) under Debian's real mpirun: scheduler and workers started
# by locus-launch, examples/mpi_client's ranks as the clients; then a
# worker of another job is refused at once, naming both ids.
# Skipped (exit 77, counted by ctest) only when Open MPI is missing.
set -uo pipefail
build=$(cd "$1" && pwd)
src=$(cd "$(dirname "$0")/.." && pwd)
skip() { echo "SKIPPED: $*"; exit 77; }
command -v mpirun >/dev/null || skip "no mpirun (Debian: apt-get install openmpi-bin libopenmpi-dev; tools/install-deps.sh does)"
[ -x "$build/examples/mpi_client" ] || skip "examples/mpi_client not built: MPI was not found at configure time (apt-get install libopenmpi-dev, then reconfigure)"

recipe=$src/examples/mpi/locus-mpirun.sh
# what our processes left in /dev/shm (other users' tests may run beside us)
shm_of() {
  local p
  for p in "$@"; do
    ls /dev/shm | grep -E "^locus-[0-9a-f]+-$p-|^locus-[0-9a-f]+-${p}c-|^$p:" || true
  done
}
ran_pids() { # pids named in the logs given: schedulers, workers, clients
  { cat "$@" 2>/dev/null | grep -oE '(pid |\[|, |locus-(scheduler|worker)\[)[0-9]+' | grep -oE '[0-9]+$'
    # rows of locus-cluster status: id pid host numa ...
    awk '/^ *[0-9]+ +[0-9]+ +[^ ]+ +[0-9]+ /{print $2}' "$@" 2>/dev/null; } | sort -u
}
fail=0
bad() { echo "mpirun: $*"; fail=1; }
# the README shows the recipe the test runs
python3 - "$src/README.md" "$recipe" <<'PY' || bad "README.md does not contain $recipe word for word"
import sys
readme, recipe = (open(p).read() for p in sys.argv[1:3])
sys.exit(0 if recipe.strip() in readme else 1)
PY

work=$(mktemp -d /tmp/locus-mpirun-XXXXXX)
cleanup() {
  # anything the recipe left: its scheduler (by the pid in its file)
  for f in "$work"/locus-*.json; do
    [ -f "$f" ] && "$build/tools/locus-cluster" stop --scheduler-file "$f" >/dev/null 2>&1
  done
  rm -rf "$work"
}
trap cleanup EXIT
export PATH=$build/tools:$PATH EXAMPLES=$build/examples
# as root Open MPI wants to be told; 2 cores here: oversubscribe
flags="--oversubscribe"
[ "$(id -u)" -eq 0 ] && flags="$flags --allow-run-as-root"
export MPIRUN_FLAGS=$flags OMPI_MCA_btl_tcp_if_include=lo OMPI_MCA_oob_tcp_if_include=lo
if [ -n "${LSAN_OPTIONS:-}" ]; then
  # Sanitizer build: Open MPI leaks at MPI_Finalize by design.  Keep its
  # components loaded, so the leaks name their modules, and suppress those
  # modules only (locus's own leaks are still reported).
  export OMPI_MCA_mca_base_component_disable_dlclose=1 PMIX_MCA_mca_base_component_disable_dlclose=1
  supp=$(echo "$LSAN_OPTIONS" | grep -oE 'suppressions=[^:]+' | cut -d= -f2)
  { [ -n "$supp" ] && cat "$supp"
    printf 'leak:%s\n' libmpi.so libopen-pal.so libopen-rte.so libpmix.so \
      libevent mca_ libhwloc.so libucs libucp libfabric.so
  } > "$work/lsan.supp"
  # full stacks: Open MPI's frames have no frame pointers
  export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}fast_unwind_on_malloc=0
  export LSAN_OPTIONS=$(echo "$LSAN_OPTIONS" | sed -E 's/suppressions=[^:]+//; s/^:+|:+$//g'):suppressions=$work/lsan.supp
fi
(cd "$work" && timeout 180 bash "$recipe") > "$work/out" 2>&1
rc=$?
cat "$work/out"
[ $rc -eq 0 ] || bad "the recipe exited $rc"
grep -qE '^mpi_client: 2 ranks, 16 tasks, sum 136 \(expected 136\)$' "$work/out" ||
  bad "mpi_client did not print the expected sum"
grep -qE 'has 2 workers$' "$work/out" || bad "locus-cluster wait did not see 2 workers"
grep -q 'stopped scheduler' "$work/out" || bad "the scheduler was not stopped"
ls "$work"/locus-*.json >/dev/null 2>&1 && bad "the scheduler file is still there"

# a worker of another job refuses the file at once, naming both ids
export LOCUS_JOB_ID=mpirun-test-$$
F=$work/sched.json
mpirun $flags -np 2 locus-launch --scheduler-file "$F" > "$work/launch" 2>&1 &
launch=$!
locus-cluster wait --scheduler-file "$F" -n 1 --timeout-ms 60000 || bad "launch did not start"
t0=$(date +%s%N)
LOCUS_JOB_ID=other-job timeout 20 locus-worker --scheduler-file "$F" > "$work/other" 2>&1
wrc=$?
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
cat "$work/other"
[ $wrc -eq 1 ] || bad "a worker of another job exited $wrc, not 1"
grep -q "belongs to job mpirun-test-$$, this process to job other-job" "$work/other" ||
  bad "the refusal does not name both job ids"
[ $ms -lt 2000 ] || bad "the refusal took $ms ms"
locus-cluster status --scheduler-file "$F" >> "$work/launch" 2>&1 || bad "status failed"
grep -q '^1 workers$' "$work/launch" || bad "status does not show the worker"
locus-cluster stop --scheduler-file "$F" || bad "stop failed"
wait $launch || bad "mpirun of the launch exited $?"

sleep 0.5
left=$(shm_of $(ran_pids "$work/out" "$work/launch" "$work/other"))
[ -z "$left" ] || bad "left in /dev/shm: $left"
if [ $fail -ne 0 ]; then
  cat "$work/launch"
  echo "0 passed, 1 failed"
  exit 1
fi
echo "1 passed, 0 failed"

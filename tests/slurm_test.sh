#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The README's Slurm recipe (examples/slurm/locus.sbatch, word for word in
# the README) under a real Slurm started here: munged, slurmctld and slurmd
# on this host (loopback ports, a slurm.conf written into a temporary
# directory, proctrack/linuxproc, task/none, select/cons_tres), the job
# submitted with sbatch --wait; its output and exit code are checked.
# Then examples/slurm/locus-srun-pmix.sh: one srun --mpi=pmix step, no
# scheduler file, whose client rank stops the cluster (locus_shutdown) so
# that the step ends.  The daemons are stopped and everything they made
# removed.
# Skipped (exit 77, counted by ctest) only when Slurm or munge is missing.
set -uo pipefail
build=$(cd "$1" && pwd)
src=$(cd "$(dirname "$0")/.." && pwd)
skip() { echo "SKIPPED: $*"; exit 77; }
for p in munged slurmctld slurmd sbatch sinfo scontrol; do
  command -v $p >/dev/null || [ -x /usr/sbin/$p ] ||
    skip "no $p (Debian: apt-get install slurm-wlm munge; tools/install-deps.sh does)"
done
[ "$(id -u)" -eq 0 ] || skip "the Slurm test starts slurmd, which must run as root"
export PATH=$PATH:/usr/sbin

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
bad() { echo "slurm: $*"; fail=1; }
recipe=$src/examples/slurm/locus.sbatch
recipe_pmix=$src/examples/slurm/locus-srun-pmix.sh
for r in "$recipe" "$recipe_pmix"; do
  python3 - "$src/README.md" "$r" <<'PY' || bad "README.md does not contain $r word for word"
import sys
readme, recipe = (open(p).read() for p in sys.argv[1:3])
sys.exit(0 if recipe.strip() in readme else 1)
PY
done

T=$(mktemp -d /tmp/locus-slurm-XXXXXX)
chmod 755 "$T"
pids=()
stop_daemons() {
  # slurmd first (it ends what still runs of the job), then the controller
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    kill -TERM "${pids[i]}" 2>/dev/null
    for _ in $(seq 100); do kill -0 "${pids[i]}" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "${pids[i]}" 2>/dev/null
    wait "${pids[i]}" 2>/dev/null
  done
  pids=()
}
dump() { for f in "$T"/*.log; do echo "---- $f"; tail -25 "$f"; done; }
cleanup() {
  stop_daemons
  for f in "$T"/job/locus-*.json; do
    [ -f "$f" ] && "$build/tools/locus-cluster" stop --scheduler-file "$f" >/dev/null 2>&1
  done
  rm -rf "$T"
}
trap cleanup EXIT

freeport() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
host=$(hostname -s)
ctlport=$(freeport)
dport=$(freeport)
[ "$ctlport" != "$dport" ] || dport=$((dport + 1))

# munge: our own key, socket and files
dd if=/dev/urandom of="$T/munge.key" bs=1024 count=1 status=none
chmod 400 "$T/munge.key"
munged --force --foreground --key-file="$T/munge.key" --socket="$T/munge.sock" \
       --pid-file="$T/munged.pid" --log-file="$T/munged.log" --seed-file="$T/munge.seed" &
pids+=($!)
for _ in $(seq 100); do [ -S "$T/munge.sock" ] && break; sleep 0.1; done
[ -S "$T/munge.sock" ] || { dump; echo "slurm: munged did not start"; exit 1; }

mkdir -p "$T/state" "$T/spool" "$T/job"
node=$(slurmd -C | head -1 | sed 's/ RealMemory=[0-9]*//')
cat > "$T/slurm.conf" <<CONF
ClusterName=locustest
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$ctlport
SlurmdPort=$dport
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$T/munge.sock
StateSaveLocation=$T/state
SlurmdSpoolDir=$T/spool
SlurmctldPidFile=$T/slurmctld.pid
SlurmdPidFile=$T/slurmd.pid
SlurmctldLogFile=$T/slurmctld.log
SlurmdLogFile=$T/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/builtin
SwitchType=switch/none
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
ReturnToService=2
SlurmctldTimeout=30
SlurmdTimeout=30
$node NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=locus Nodes=$host Default=YES MaxTime=10 State=UP
CONF
export SLURM_CONF=$T/slurm.conf
slurmctld -D -c -f "$SLURM_CONF" > "$T/slurmctld.out.log" 2>&1 &
pids+=($!)
slurmd -D -f "$SLURM_CONF" -N "$host" > "$T/slurmd.out.log" 2>&1 &
pids+=($!)
state=
for _ in $(seq 300); do
  state=$(sinfo -h -n "$host" -o %t 2>/dev/null | head -1)
  [ "$state" = idle ] && break
  sleep 0.1
done
if [ "$state" != idle ]; then
  dump
  echo "slurm: node $host is '$state', not idle, 30 s after slurmd started"
  echo "0 passed, 1 failed"
  exit 1
fi

# the recipe, as a user submits it
export EXAMPLES=$build/examples
out=$(cd "$T/job" && PATH=$build/tools:$PATH timeout 240 \
      sbatch --wait --parsable --chdir="$T/job" "$recipe" 2>&1)
rc=$?
jobid=$(echo "$out" | grep -oE '^[0-9]+' | head -1)
echo "sbatch --wait: exit $rc, job ${jobid:-?}"
joblog=$T/job/locus-$jobid.out
[ -n "$jobid" ] && [ -f "$joblog" ] || bad "no job output ($out)"
echo "---- $joblog"
cat "$joblog" 2>/dev/null
[ $rc -eq 0 ] || bad "the job exited $rc"
grep -qE '^\[[0-9]+, [0-9]+, [0-9]+\]$' "$joblog" || bad "spmd did not gather three worker pids"
grep -qE "^Parent process id: +[0-9]+$" "$joblog" || bad "spmd did not run"
grep -q "(job $jobid) has 2 workers" "$joblog" ||
  bad "the scheduler file does not carry SLURM_JOB_ID $jobid, or 2 workers did not join"
grep -q "stopped scheduler" "$joblog" || bad "the scheduler was not stopped"
ls "$T"/job/locus-*.json >/dev/null 2>&1 && bad "the scheduler file is still there"
state=$(scontrol show job "$jobid" 2>/dev/null | grep -oE 'JobState=[A-Z]+')
[ "$state" = JobState=COMPLETED ] || bad "job $jobid is $state, not COMPLETED"


# ---- srun --mpi=pmix: one step, the scheduler's record through PMIx ------
passed=1
if ! grep -q '^LOCUS_WITH_PMIX:BOOL=ON$' "$build/CMakeCache.txt"; then
  echo "SKIPPED (srun --mpi=pmix part): this build has LOCUS_WITH_PMIX=OFF (Debian: apt-get install libpmix-dev, then reconfigure); only sbatch with a scheduler file was tested"
elif ! srun --mpi=list 2>&1 | grep -qw pmix; then
  bad "srun --mpi=list has no pmix plugin (Debian's slurm-wlm-basic-plugins ships mpi_pmix.so): $(srun --mpi=list 2>&1 | tr '\n' ' ')"
else
  # in an empty directory that must stay empty: no scheduler file
  mkdir "$T/pmix"
  pout=$T/srun-pmix.out
  t0=$(date +%s)
  # sanitizer build: full stacks, so that tests/lsan.supp's libpmix entries
  # match (libpmix's frames have no frame pointers)
  asan=${ASAN_OPTIONS:-}
  [ -n "${LSAN_OPTIONS:-}" ] && asan=${asan:+$asan:}fast_unwind_on_malloc=0
  (cd "$T/pmix" && PATH=$build/tools:$PATH EXAMPLES=$build/examples LOCUS_LOG=info \
     ASAN_OPTIONS=$asan timeout 120 bash "$recipe_pmix") > "$pout" 2>&1
  rc=$?
  took=$(($(date +%s) - t0))
  echo "---- srun --mpi=pmix recipe (exit $rc, $took s)"
  grep -vE ' (debug|info) ' "$pout"
  [ $rc -eq 0 ] || bad "srun --mpi=pmix: the step exited $rc (124: it did not end within 120 s)"
  parent=$(grep -oE '^(3: )?Parent process id: +[0-9]+$' "$pout" | grep -oE '[0-9]+$')
  gathered=$(grep -oE '\[[0-9]+, [0-9]+, [0-9]+\]$' "$pout" | tr -d '[],')
  ran=$(grep -oE '_f argument: +[0-9]+, process id: +[0-9]+' "$pout" | awk '{print $NF}' | sort | tr '\n' ' ')
  args=$(grep -oE '_f argument: +[0-9]+' "$pout" | awk '{print $NF}' | sort -n | tr '\n' ' ')
  [ -n "$parent" ] && [ -n "$gathered" ] || bad "srun --mpi=pmix: spmd_job did not run through pmix:0"
  [ "$args" = "2 15 30 " ] || bad "srun --mpi=pmix: the tasks ran on arguments '$args', not 2 15 30"
  [ "$(echo $gathered | tr ' ' '\n' | sort | tr '\n' ' ')" = "$ran" ] ||
    bad "srun --mpi=pmix: spmd_job gathered '$gathered', the workers ran the tasks as '$ran'"
  for p in $gathered; do [ "$p" != "$parent" ] || bad "srun --mpi=pmix: a task ran in the client"; done
  grep -q 'scheduler record published as pmix:0' "$pout" ||
    bad "srun --mpi=pmix: the scheduler did not publish its record through PMIx"
  grep -q '^spmd_job: stopped the cluster$' "$pout" || bad "srun --mpi=pmix: locus_shutdown did not succeed"
  n=$(grep -c 'worker: shutdown: client [0-9]* (pid [0-9]* on [^)]*) stopped the cluster' "$pout")
  [ "$n" -eq 2 ] || bad "srun --mpi=pmix: $n workers, not 2, were told that the client stopped the cluster"
  grep -q 'sched: stopping' "$pout" || bad "srun --mpi=pmix: the scheduler did not stop"
  [ $took -le 60 ] || bad "srun --mpi=pmix: the step took $took s"
  [ -z "$(ls -A "$T/pmix")" ] || bad "srun --mpi=pmix: files were left: $(ls -A "$T/pmix")"
  passed=2
fi

stop_daemons
sleep 0.5
left=$(shm_of $(ran_pids "$joblog" "$T"/srun-pmix.out))
[ -z "$left" ] || bad "left in /dev/shm: $left"
if [ $fail -ne 0 ]; then
  dump
  [ -f "$T/srun-pmix.out" ] && { echo "---- $T/srun-pmix.out"; cat "$T/srun-pmix.out"; }
  echo "0 passed, 1 failed"
  exit 1
fi
echo "$passed passed, 0 failed"

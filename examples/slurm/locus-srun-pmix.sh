#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# A locus cluster as one srun step with no scheduler file: srun --mpi=pmix
# runs a PMIx server, and the scheduler's record goes through it.  Ranks
# 0-2 run locus-launch (the scheduler on rank 0, workers on 1 and 2); rank
# 3 is the client, one process that finds the scheduler as pmix:0, waits
# for the 2 workers, runs the tutorial's SPMD example and stops the
# cluster (locus_shutdown), so that every rank exits and the step ends.
# Run it inside an allocation (sbatch, salloc) or on its own.
# Needs locus-launch on PATH, the examples in $EXAMPLES.
set -euo pipefail
EXAMPLES=${EXAMPLES:-$PWD}
conf=$(mktemp -p "$PWD" locus-multi-prog.XXXXXX)
trap 'rm -f "$conf"' EXIT
cat > "$conf" <<CONF
0-2 locus-launch -- --nthreads 1
3   $EXAMPLES/spmd_job pmix:0 2 $EXAMPLES/libtasks_tutorial.so
CONF
srun --mpi=pmix --ntasks=4 --overcommit --multi-prog "$conf"

#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# A locus cluster under mpirun: one mpirun starts the scheduler (rank 0)
# and a worker on every other rank; a second mpirun runs the simulation,
# every rank of which is a locus client.  Two mpiruns are two jobs to the
# launcher: LOCUS_JOB_ID makes them one job for locus, so the clients
# accept this scheduler file and refuse any other.
# Needs locus-launch and locus-cluster on PATH, the examples in $EXAMPLES;
# as root add --allow-run-as-root to both mpiruns (MPIRUN_FLAGS).
set -euo pipefail
EXAMPLES=${EXAMPLES:-$PWD}
export LOCUS_JOB_ID=mpirun-$(hostname)-$$
F=$PWD/locus-$LOCUS_JOB_ID.json
mpirun ${MPIRUN_FLAGS:-} -np 3 locus-launch --scheduler-file "$F" -- --nthreads 1 &
launch=$!
locus-cluster wait --scheduler-file "$F" -n 2 --timeout-ms 60000
mpirun ${MPIRUN_FLAGS:-} -np 2 "$EXAMPLES/mpi_client" "$F" "$EXAMPLES/libtasks_tutorial.so"
locus-cluster stop --scheduler-file "$F"
wait $launch

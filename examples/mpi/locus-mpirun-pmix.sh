#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# A locus cluster under mpirun with no scheduler file: mpirun is a PMIx
# server, and the scheduler's record (addresses, key, job = the PMIx
# namespace) goes through it.  One mpirun, two app contexts: locus-launch
# on ranks 0-2 (the scheduler on rank 0, workers on 1 and 2), and on rank
# 3 the client side, which finds the scheduler as pmix:0, waits for the
# workers, runs the tutorial's SPMD example and stops the cluster.
# Needs locus-launch and locus-cluster on PATH, the examples in $EXAMPLES;
# as root add --allow-run-as-root (MPIRUN_FLAGS).
set -euo pipefail
export EXAMPLES=${EXAMPLES:-$PWD}
mpirun ${MPIRUN_FLAGS:-} -np 3 locus-launch -- --nthreads 1 : \
  -np 1 bash -c 'locus-cluster wait --scheduler-file pmix:0 -n 2 --timeout-ms 60000 &&
    "$EXAMPLES/spmd" pmix:0 "$EXAMPLES/libtasks_tutorial.so"; rc=$?
    locus-cluster stop --scheduler-file pmix:0; exit $rc'

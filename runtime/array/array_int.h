/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Array internals shared by the array and HDF5 client code, the benchmark
 * and the tests (private).
 */
#ifndef LC_ARRAY_INT_H
#define LC_ARRAY_INT_H

#include <stddef.h>
#include <stdint.h>

#include "locus/array.h"

/*
 * Worker ids in placement order: interleaved by host, then by NUMA node
 * within a host, so that consecutive entries are as far apart as the
 * cluster allows.  *ids is malloc'd.  LOCUS_ENOWORKERS if none.
 */
int array_worker_order(locus_client *c, int **ids, size_t *n);

/*
 * What the last compute/persist/store of an array did, from the client's
 * view of its task graph: tasks that ran, inputs that were already on the
 * task's worker, and inputs (with their bytes) that another worker had to
 * send.  The scheduler places each task where most of its input bytes are,
 * so remote inputs are partial results; a chunk moving shows here.
 */
typedef struct array_stats {
    size_t tasks;
    size_t local_inputs;
    size_t remote_inputs;
    uint64_t remote_bytes;
    uint64_t client_bytes; /* fetched to the client */
} array_stats;

int array_last_stats(const locus_array *a, array_stats *out);

#endif

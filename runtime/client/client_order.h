/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Client-side placement helper (private), for the modules' client code
 * (HDF5 loads, HDF5-backed arrays) and the tests.
 */
#ifndef LC_CLIENT_ORDER_H
#define LC_CLIENT_ORDER_H

#include <stddef.h>

#include "locus/client.h"

/*
 * Worker ids in placement order: interleaved by host, then by NUMA node
 * within a host, so that consecutive entries are as far apart as the
 * cluster allows.  *ids is malloc'd.  LOCUS_ENOWORKERS if none.
 */
int client_worker_order(locus_client *c, int **ids, size_t *n);

#endif

/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A local cluster: a scheduler and workers on this host, started from a
 * program (dask's LocalCluster(), ipyparallel's "ipcluster start -n N").
 *
 * locus_local_cluster_start spawns the locus-scheduler and locus-worker
 * programs (found in $LOCUS_BINDIR, else where locus was built or
 * installed), waits until all workers have joined, and returns a handle;
 * locus_local_cluster_stop stops them and removes the scheduler file.
 * Start the cluster before connecting any client in the same process.
 */
#ifndef LOCUS_CLUSTER_H
#define LOCUS_CLUSTER_H

#include <stddef.h>

#include "locus/errors.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct locus_cluster locus_cluster;

struct locus_cluster_opts {
    size_t size;          /* sizeof(struct locus_cluster_opts) */
    int nworkers;         /* 0: one per NUMA node; at most 1024 */
    int nthreads;         /* per worker; 0: the cores of its NUMA node;
                             at most 4096 */
    const char *provider; /* net provider; NULL: $FI_PROVIDER or tcp;ofi_rxm */
    const char *dir;      /* scheduler file and logs (at most 1023
                             bytes); NULL: a new directory under $TMPDIR
                             or /tmp */
    const char *topology; /* hwloc synthetic topology or XML path given to
                             the workers (tests); NULL: this machine */
    int timeout_ms;       /* start-up deadline; 0: 30 s */
    unsigned flags;       /* LOCUS_CLUSTER_* */
};
#define LOCUS_CLUSTER_NO_SHM 0x1u /* peers talk over the net provider only */
#define LOCUS_CLUSTER_OPTS_INIT                                                \
    {                                                                          \
        sizeof(struct locus_cluster_opts), 0, 0, NULL, NULL, NULL, 0, 0        \
    }

LOCUS_EXPORT int
locus_local_cluster_start(const struct locus_cluster_opts *opts,
                          locus_cluster **out);
/* Path of the cluster's scheduler file (give it to locus_connect). */
LOCUS_EXPORT const char *locus_cluster_scheduler_file(const locus_cluster *lc);
/* URL of the scheduler's dashboard ("" when it has none; also logged at
 * info level by locus_local_cluster_start).  Valid until the stop. */
LOCUS_EXPORT const char *locus_cluster_dashboard(const locus_cluster *lc);
/* Stop workers and scheduler (SIGTERM, then SIGKILL after a grace period),
 * remove the files it made, free lc.  NULL ok. */
LOCUS_EXPORT int locus_local_cluster_stop(locus_cluster *lc);

#ifdef __cplusplus
}
#endif
#endif

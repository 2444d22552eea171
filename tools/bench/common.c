/* SPDX-License-Identifier: BSD-3-Clause */
/* locus-bench: notes and local clusters. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench.h"

void bench_note(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("locus-bench: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

struct clus *bench_running;

void bench_clus_stop(struct clus *k)
{
    if (k->c)
        locus_disconnect(k->c);
    k->c = NULL;
    locus_local_cluster_stop(k->lc);
    k->lc = NULL;
    bench_running = NULL;
}

int bench_clus_start(int nworkers, int nthreads, int no_shm, struct clus *k)
{
    memset(k, 0, sizeof(*k));
    k->nworkers = nworkers;
    k->nthreads = nthreads;
    k->no_shm = no_shm;
    struct locus_cluster_opts o = LOCUS_CLUSTER_OPTS_INIT;
    o.nworkers = nworkers;
    o.nthreads = nthreads;
    o.provider = bench_cfg.provider;
    o.timeout_ms = CLUSTER_TIMEOUT_MS;
    o.flags = no_shm ? LOCUS_CLUSTER_NO_SHM : 0;
    int rc = locus_local_cluster_start(&o, &k->lc);
    if (rc)
        return rc;
    bench_running = k;
    struct locus_connect_opts co = LOCUS_CONNECT_OPTS_INIT;
    co.timeout_ms = CLUSTER_TIMEOUT_MS;
    co.flags = no_shm ? LOCUS_CONNECT_NO_SHM : 0;
    rc = locus_connect(locus_cluster_scheduler_file(k->lc), &co, &k->c);
    if (rc)
        return rc;
    locus_worker_info wi[8];
    size_t n = 0;
    rc = locus_workers(k->c, wi, 8, &n);
    if (rc)
        return rc;
    size_t off = 0;
    for (size_t i = 0; i < n && i < 8 && off < sizeof(k->desc); i++)
        off += (size_t)snprintf(k->desc + off, sizeof(k->desc) - off,
                                "%sworker %d: cpus %s, %d thread%s",
                                i ? "; " : "", wi[i].id, wi[i].cpuset,
                                wi[i].nthreads, wi[i].nthreads == 1 ? "" : "s");
    return 0;
}

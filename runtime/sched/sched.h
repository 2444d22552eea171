/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The scheduler (private): task graph, data directory, placement.
 * locus-scheduler is a thin main() over sched_run().
 */
#ifndef LC_SCHED_H
#define LC_SCHED_H

#include <signal.h>

struct sched_opts {
    const char *provider; /* net provider; NULL: $FI_PROVIDER/tcp;ofi_rxm */
    const char *bind;     /* NULL: 127.0.0.1 */
    const char *port;     /* NULL: any */
    const char *file;     /* scheduler file to write (required) */
    int no_shm;
    int heartbeat_ms;  /* peers' heartbeat period; 0: 500 */
    int dead_after_ms; /* silence that declares a peer dead; 0: 10000 */
    /* the dashboard (runtime/dash); LOCUS_TRACE=file.json adds a trace */
    int no_dashboard;
    const char *dashboard; /* ADDR:PORT; NULL: 127.0.0.1:8787, else free */
    int dashboard_token;   /* require its token on loopback too */
};

/* Run until *stop becomes non-zero (a signal handler sets it). */
int sched_run(const struct sched_opts *o, volatile sig_atomic_t *stop);

#endif

/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The nanny (private): locus-worker's parent process.  It forks the worker
 * process, waits for it, and starts it again when it dies:
 *
 *   - killed by a signal or an exit() in task code after it had joined:
 *     restarted at once (backing off when it keeps dying), with the same
 *     options (NUMA node, threads); the new process joins as a fresh worker
 *     and tells the scheduler which process it replaces, how that died and
 *     which tasks it was running (REC_REPLACES), so the scheduler blames
 *     those tasks and no others;
 *   - it lost the scheduler (declared dead while stopped, scheduler gone):
 *     restarted to join again, for up to the death timeout;
 *   - it stopped on purpose (SIGTERM, shutdown) or never joined (bad
 *     options, no scheduler file): the nanny exits with its status.
 *
 * The two share one page: the worker writes its state, its id and the key
 * of the task each thread runs; the nanny reads it after the death.  The
 * nanny is single-threaded, opens no fabric and holds no task state, so
 * nothing a task does can take it down.
 */
#ifndef LC_NANNY_H
#define LC_NANNY_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define NANNY_SLOTS 4096 /* task threads whose task the nanny can name */

enum {
    NANNY_STARTING, /* not joined yet */
    NANNY_JOINED,   /* serving */
    NANNY_FINAL,    /* stopping on purpose: do not restart */
    NANNY_REJOIN    /* lost the scheduler: start again and rejoin */
};

typedef struct nanny_page {
    _Atomic uint32_t state;
    _Atomic uint32_t id;                   /* worker id, once joined */
    _Atomic uint64_t running[NANNY_SLOTS]; /* task key per thread; 0: none */
} nanny_page;

/* The process this one replaces, for its REC_REPLACES. */
typedef struct worker_prev {
    uint32_t id; /* its worker id; 0: this is the first process */
    int pid;
    int sig;    /* killed by this signal; 0: it exited */
    int status; /* its exit status when sig is 0 */
    uint32_t nkeys;
    uint64_t keys[64]; /* tasks it was running (the first 64) */
} worker_prev;

struct nanny_opts {
    int death_timeout_ms; /* rejoin for this long; 0: 60 s */
};

/*
 * Fork the worker process and supervise it.  Returns 0 in each worker
 * process, with *page (shared with the nanny), *prev (the process it
 * replaces, id 0 for the first) and *rejoin_ms (0, or how long this process
 * may wait for a scheduler: it replaces one that lost its scheduler).  The
 * nanny itself never returns: it exits with the last worker's status.
 * Returns a negative code if the nanny could not start (no fork, no
 * memory): the caller runs the worker unsupervised or gives up.
 */
int nanny_run(const struct nanny_opts *o, nanny_page **page, worker_prev *prev,
              int *rejoin_ms);

/* "killed by signal 11 (Segmentation fault)" or "exited with status 3". */
void nanny_describe(int sig, int status, char *buf, size_t len);

#endif

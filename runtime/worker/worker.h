/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The worker (private): one process per NUMA node, bound to it, running
 * task functions on as many threads as the node has cores, and keeping every
 * task result in its memory until the scheduler says to free it.
 * locus-worker is a thin main() over worker_run().
 */
#ifndef LC_WORKER_H
#define LC_WORKER_H

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>

#include "locus/task.h"

struct worker_opts {
    const char *sched_file; /* required */
    const char *provider;   /* NULL: the scheduler's */
    const char *bind;       /* NULL: 127.0.0.1 */
    int numa_node;          /* logical node; -1: 0 */
    int nthreads;           /* 0: cores of the node */
    const char *topology;   /* hwloc synthetic string or XML path; NULL */
    int no_shm;
    int timeout_ms;      /* to join the scheduler; 0: 30 s */
    size_t memory_limit; /* arena bytes; 0: 90% of /dev/shm */
    int no_inline;       /* every task on a task thread, none inline */
    /* under a nanny (runtime/worker/nanny.h): the page shared with it, and
       the process this one replaces (id 0: none); NULL: unsupervised */
    struct nanny_page *nanny;
    const struct worker_prev *prev;
};

int worker_run(const struct worker_opts *o, volatile sig_atomic_t *stop);

/* ---- shared between the worker's threads and the task API ---------------- */

struct worker;
struct wobj;
struct replica;
struct arena_map;

typedef struct targ {
    const void *p;
    size_t len;
    struct wobj *pin;      /* local object kept alive while the task runs */
    struct replica *copy;  /* fetched copy, shared by the tasks that wait */
    struct arena_map *map; /* same-host peer's segment, mapped read-only */
} targ;

struct locus_task {
    struct worker *w;
    uint64_t key;
    locus_task_fn fn;
    char fn_name[128];
    uint32_t nargs;
    targ *args;
    uint8_t *payload; /* copy of the COMPUTE record: inline args point here */
    void *result;
    size_t rlen;
    int status;
    char *errmsg;
    atomic_int canceled;
    int thread;
    int nmissing; /* inputs still being fetched */
    uint64_t t0, dur;
    int client; /* came from this client (a lease), not the scheduler */
    struct locus_task *next;
};

/* Task results live in the worker's arena. */
void *worker_alloc(struct worker *w, size_t len);
void worker_free(struct worker *w, void *p);

int worker_id_of(const struct worker *w);
int worker_node_of(const struct worker *w);

#endif

/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The worker's private interface: its types and what its files call of
 * one another.  The progress thread owns everything but the task queues.
 *
 *   worker.c        the progress loop: joining, dispatch, goodbye
 *   worker_tasks.c  tasks: COMPUTE, the task threads, results, DONE
 *   worker_fetch.c  the data plane: fetching inputs, serving objects
 *   worker_peers.c  the other workers and clients (pair sessions)
 *   worker_libs.c   task libraries; names resolve in the registry (task.c)
 */
#ifndef LC_WORKER_INT_H
#define LC_WORKER_INT_H

#include "worker/worker.h"
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "arena/arena.h"
#include "base/base.h"
#include "base/keytab.h"
#include "base/map.h"
#include "net/join.h"
#include "net/lnet.h"
#include "proto/auth.h"
#include "proto/records.h"
#include "proto/schedfile.h"
#include "proto/wire.h"
#include "topo/topo.h"
#include "worker/nanny.h"
#include <stdarg.h>

typedef struct wobj {
    uint64_t key;
    void *data; /* in the arena */
    size_t len;
    int pins;
    int freed; /* FREE arrived while pinned */
    /* a lease task's value: its DONE waits in the worker's books (at
       book_off while books_gen is still book_gen) */
    int booked;
    size_t book_off;
    uint64_t book_gen, book_ns;
} wobj;

/* A copy of a remote object, shared by the tasks that wait for it. */
typedef struct replica {
    void *data;
    size_t len;
    int refs;
} replica;

typedef struct wpeer {
    int id, role;
    lnet_route route;
    lsess *sess; /* the pair session */
    char host[64];
    int pid;
    int no_map; /* its segments could not be mapped: use RMA */
} wpeer;

typedef struct waiter {
    struct locus_task *t;
    uint32_t arg;
} waiter;

/* One fetch of one object from its holder; every task of this worker that
   needs the object while it is in flight waits on the same fetch. */
struct fetch {
    uint64_t key, req;
    int holder;
    waiter *w;
    int nw, capw;
    replica *copy;
};

typedef struct worker {
    const struct worker_opts *o;
    lnet net;
    schedfile sf;
    lnet_route sched;
    ljoin join;
    int id;
    int heartbeat_ms;
    int node, nthreads;
    char cpuset[64];
    topo *topo;
    lc_keytab objs;  /* key -> wobj */
    lc_keytab tasks; /* key -> task, from COMPUTE until DONE is sent */
    lc_map fetches;  /* request id -> fetch */
    lc_map inflight; /* object key -> fetch */
    arena *arena;
    char arena_prefix[64];
    /* counters: bytes that reached tasks by each path, tasks by locality */
    uint64_t bytes_mapped, bytes_rma, bytes_inline;
    uint64_t tasks_local, tasks_remote;
    uint64_t next_req;
    wpeer **peers;
    int cappeers;
    void **libs;
    char **libpaths;
    int nlibs;
    /* task queue: progress thread -> task threads */
    pthread_mutex_t qmu;
    pthread_cond_t qcv;
    struct locus_task *qhead, *qtail;
    _Atomic int qlen; /* written under qmu, read by the heartbeat without */
    int stopping;
    /* done queue: task threads -> progress thread */
    pthread_mutex_t dmu;
    struct locus_task *dhead, *dtail;
    pthread_t *threads;
    int nstarted;
    atomic_int running;
    uint64_t tasks_done, bytes_held;
    lc_map fnstats; /* function -> fnstat: its run times */
    uint64_t tasks_inline, tasks_direct;
    /* DONEs of lease tasks that succeeded: the scheduler only books them,
       so they wait here (up to LNET_LAZY_NS or LNET_LAZY_BYTES); one whose
       client releases the task first (RELEASE_DIRECT) never goes */
    wire_wr books, books_keep;
    uint64_t books_ns, books_gen; /* books_ns: the oldest that may be live */
    size_t books_dead;            /* bytes of DONEs taken back */
    uint64_t tasks_unbooked;      /* released before their DONE went */
} worker;

/* Run times of one task function on this worker (progress thread only):
   short ones run on the progress thread that received them. */
typedef struct fnstat {
    uint64_t runs, total_ns, max_ns;
} fnstat;
typedef struct fetch fetch;

static inline wpeer *wpeer_get(worker *w, int id)
{
    return id > 0 && id < w->cappeers ? w->peers[id] : NULL;
}

static inline wire_wr *out_to_peer(worker *w, wpeer *p)
{
    return lnet_out(&w->net, p->sess);
}

static inline wire_wr *to_sched(worker *w)
{
    return lnet_out(&w->net, w->join.sess);
}

/* For reports the scheduler only books (lnet_out_lazy). */
static inline wire_wr *to_sched_lazy(worker *w)
{
    return lnet_out_lazy(&w->net, w->join.sess);
}

void worker_on_peer(worker *w, wire_rd *r);
void worker_on_peer_gone(worker *w, wire_rd *r);
locus_task_fn worker_resolve(worker *w, const char *name);
void worker_on_load_lib(worker *w, wire_rd *r);
void worker_replica_put(replica *r);
void worker_send_get(worker *w, struct locus_task *t, uint32_t i, uint64_t key,
                     int holder);
void worker_fetch_failed(worker *w, fetch *f, int status, const char *msg);
void worker_on_data(worker *w, int ep, wire_rd *r);
void worker_on_read_event(worker *w, xport_event *ev);
void worker_on_get(worker *w, wpeer *p, wire_rd *r);
void worker_task_destroy(worker *w, struct locus_task *t);
/* COMPUTE from the scheduler (client 0), or COMPUTE_DIRECT from a client
   with a lease: its value also goes to that client at once. */
void worker_on_compute(worker *w, wire_rd *r, int client);
void worker_input_arrived(worker *w, struct locus_task *t);
void worker_obj_free(worker *w, wobj *o);
void worker_on_free(worker *w, wire_rd *r);
/* RELEASE_DIRECT from client: its lease task's value is not wanted, and
   the scheduler was never told of the task */
void worker_on_release_direct(worker *w, wire_rd *r, int client);
/* Send the books when they have waited long enough (or at once: force). */
void worker_books_flush(worker *w, uint64_t now, int force);
void worker_on_cancel(worker *w, wire_rd *r);
void worker_on_steal(worker *w, wire_rd *r);
void worker_drain_done(worker *w);
int worker_start_threads(worker *w);
void worker_stop_threads(worker *w);
/* The same within ms (<0: no limit): 0, or -1 if a task thread is still
   running a task then (it is left running). */
int worker_stop_threads_within(worker *w, int ms);

#endif

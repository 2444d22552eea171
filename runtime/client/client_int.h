/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The client library's private interface: its types and what its files
 * call of one another.  User threads hold mu; the progress thread alone
 * owns the endpoints.
 *
 *   client.c           connect, disconnect, requests that wait for an answer
 *   client_progress.c  the progress thread: the scheduler's records
 *   client_fetch.c     the data plane: values fetched, big arguments served
 *   client_submit.c    submit, map, scatter, run on every worker
 *   client_futures.c   waiting on futures, their results, release, cancel
 */
#ifndef LC_CLIENT_INT_H
#define LC_CLIENT_INT_H

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "arena/arena.h"
#include "base/base.h"
#include "base/iface.h"
#include "base/keytab.h"
#include "base/map.h"
#include "locus/client.h"
#include "net/join.h"
#include "net/lnet.h"
#include "proto/auth.h"
#include "proto/records.h"
#include "proto/schedfile.h"
#include "proto/wire.h"
#include <stdarg.h>

enum { F_PENDING, F_DONE, F_ERROR };
enum { C_HELLO, C_AUTH, C_JOINED, C_CLOSED };

/* A user thread driving progress spins this long for an answer before it
   blocks in the kernel; the progress thread stays parked this long after
   the last user thread drove (a loop of submit + result never hands the
   endpoints back and forth). */
#define DRIVE_SPIN_US 50
#define LINGER_NS 2000000ull

struct locus_future {
    locus_client *c;
    uint64_t key;
    atomic_int refs;
    atomic_int state;
    int status;
    int worker;
    uint64_t nbytes;
    void *data;
    size_t len;
    int have_data;
    int fetching;
    int fetch_status;
    int direct; /* sent to this leased worker by us (0: by the scheduler) */
    /* its SUBMIT_DIRECT waits in the client's books, at book_off while
       books_gen is still book_gen (under mu) */
    int booked;
    size_t book_off;
    uint64_t book_gen, book_ns;
    char *errmsg;
    char keystr[40];
    struct locus_future *fetch_next;
    uint64_t *puts; /* big arguments kept for the workers to fetch */
    int nputs;
    int vkind; /* LOCUS_ARG_I64 / _F64 when the client made the value
                  (scatter), else 0: a task's bytes are untyped */
};

/* A big argument: kept in the client's arena until its task finished. */
typedef struct put_obj {
    void *data;
    size_t len;
} put_obj;

/* Arguments above this go by reference (the worker fetches them: mapped on
   the same host, RMA read across hosts) instead of inside messages. */
#define PUT_MIN (16u << 10)

typedef struct creq {
    uint64_t id;
    int done, status;
    char msg[2048];
    void *payload;
    size_t len;
    struct creq *next;
} creq;

typedef struct cpeer {
    int id;
    lnet_route route;
    lsess *sess;   /* the pair session */
    int same_host; /* its arena segments can be mapped here */
    int no_map;    /* mapping failed once: use RMA */
    /* its lease (client_submit.c; under mu): tasks we may send it
       ourselves, how many are out, and their COMPUTE_DIRECT records not
       yet in the session */
    uint32_t slots, out;
    wire_wr direct;
    wire_wr rel; /* RELEASE_DIRECTs: they wait for a ride (lazy) */
    int dirty;   /* in the client's ddirty list */
} cpeer;

struct locus_client {
    lnet net;
    schedfile sf;
    lnet_route sched;
    int id;
    int timeout_ms;
    int heartbeat_ms;
    pthread_t thr;
    int thr_started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    wire_wr pending; /* user threads -> scheduler (under mu) */
    /* of pending's records, those nobody waits for (RELEASE): a batch of
       only those goes lnet_out_lazy's way, and leaves the books waiting */
    uint32_t pending_lazy, batch_lazy;
    /* SUBMIT_DIRECTs (under mu): the scheduler only books lease tasks, so
       they wait here until LNET_LAZY_NS old (younger ones stay) or
       LNET_LAZY_BYTES of them wait, and go first, all of them, before any
       other record to the scheduler but the RELEASE of a task not in them;
       a task released meanwhile with its value here is taken back
       (client_futures.c, proto/PROTOCOL.md "Books") */
    wire_wr books, books_keep;
    uint64_t books_ns, books_gen; /* books_ns: the oldest that may be live */
    size_t books_dead;            /* bytes of records taken back */
    int books_first;   /* a RELEASE in pending names a task in the books */
    lc_keytab futures; /* key -> future (under mu) */
    uint64_t seq;
    struct locus_future *fetchq; /* futures whose value must be fetched */
    creq *reqs;
    uint64_t next_req;
    int state;
    char why[512];
    atomic_int stop;
    int bye_confirmed; /* the scheduler processed our goodbye */
    /* Who drives progress (client_progress.c): the thread that holds pmu
       owns the endpoints and everything below.  A user thread that waits
       takes it when it is free and drives itself; the progress thread
       gives it up (parks) while user threads drive and for LINGER_NS after
       the last one, and otherwise drives alone. */
    pthread_mutex_t pmu;
    pthread_cond_t pcv;        /* the parked progress thread (with mu) */
    atomic_int want;           /* user threads waiting for pmu */
    atomic_int drivers;        /* user threads driving */
    _Atomic uint64_t drove_ns; /* when the last one stopped */
    int cv_waiters;            /* threads in cv without driving (under mu) */
    /* under pmu */
    wire_wr batch;
    uint64_t last_hb, busy_ns;
    ljoin join;
    cpeer *peers;
    int cappeers;
    lc_map gets;  /* request id -> future */
    arena *arena; /* big arguments (under mu) */
    lc_map puts;  /* object key -> put_obj (under mu) */
    uint64_t put_seq;
    /* direct submission (under mu) */
    int no_direct;   /* $LOCUS_NO_DIRECT: every task via the scheduler */
    int lease_asked; /* LEASE_REQ sent, since the last new worker */
    int lease_next;  /* round robin over leased workers */
    int *ddirty;     /* workers whose direct records wait */
    int nddirty, capddirty;
};

static inline cpeer *cpeer_get(locus_client *c, int id)
{
    return id > 0 && id < c->cappeers && c->peers[id].id == id ? &c->peers[id]
                                                               : NULL;
}

int client_deadline_of(const locus_client *c, int timeout_ms);
void client_wake(locus_client *c);
/* Under mu: wait until the client's state may have changed, or the
   deadline (0 or ETIMEDOUT); callers loop on their condition.  Where no
   other thread drives progress, this thread does (one step: a pass, then
   a spin and a bounded block on the endpoints), without mu. */
int client_cv_wait(locus_client *c, uint64_t deadline);
/* After records were added to pending (mu not held): send them now from
   this thread if nobody drives, else wake the one that does. */
void client_kick(locus_client *c);
/* One pass of progress (pmu held): inputs, pending records, heartbeats,
   fetches, flush; returns the number of inputs, *backlog: unsent. */
int client_pass(locus_client *c, int *backlog);
/* Under mu: a future sent directly is answered; its lease slot is free. */
void client_direct_done(locus_client *c, struct locus_future *f);
/* Under mu: a worker's lease ends (it is gone). */
void client_lease_end(locus_client *c, cpeer *p);
void client_close_locked(locus_client *c, const char *why);
int client_check_open(locus_client *c);
void client_drop_puts(locus_client *c, struct locus_future *f);
void client_fetch_done(locus_client *c, struct locus_future *f, int status,
                       const char *msg);
void client_on_data(locus_client *c, int ep, wire_rd *r);
/* STOPPING: the scheduler's answer to locus_shutdown (client.c). */
void client_on_stopping(locus_client *c, wire_rd *r);
void client_on_read_event(locus_client *c, xport_event *ev);
void client_on_get(locus_client *c, cpeer *w, wire_rd *r);
void client_send_gets(locus_client *c, struct locus_future *list);

/* The progress thread's body (pthread_create). */
void *client_progress_main(void *arg);

#endif

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

#define SPIN_NS 30000

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
    lc_map futures;  /* key -> future (under mu) */
    uint64_t seq;
    struct locus_future *fetchq; /* futures whose value must be fetched */
    creq *reqs;
    uint64_t next_req;
    int state;
    char why[512];
    atomic_int stop;
    int sleeping;
    int bye_confirmed; /* the scheduler processed our goodbye */
    /* progress thread only */
    ljoin join;
    cpeer *peers;
    int cappeers;
    lc_map gets;  /* request id -> future */
    arena *arena; /* big arguments (under mu) */
    lc_map puts;  /* object key -> put_obj (under mu) */
    uint64_t put_seq;
};

static inline cpeer *cpeer_get(locus_client *c, int id)
{
    return id > 0 && id < c->cappeers && c->peers[id].id == id ? &c->peers[id]
                                                               : NULL;
}

int client_deadline_of(const locus_client *c, int timeout_ms);
void client_wake(locus_client *c);
int client_cv_wait(locus_client *c, uint64_t deadline);
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

/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The scheduler's private interface: its types and what its files call of
 * one another.  One thread owns all of it (runtime/sched/sched.c).
 *
 *   sched.c          the loop: messages in, records dispatched, liveness
 *   sched_members.c  membership: handshake, heartbeats, peers gone
 *   sched_graph.c    the task graph: submit, release, cancel, results,
 *                    failure, recomputation
 *   sched_place.c    queues and locality-first placement
 *   sched_pick.c     the placement decisions, pure (no scheduler state)
 *   sched_libs.c     task libraries and the worker table
 *   sched_dash.c     the dashboard's feed
 */
#ifndef LC_SCHED_INT_H
#define LC_SCHED_INT_H

#include "sched/sched.h"
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sodium.h>
#include <unistd.h>
#include "arena/arena.h"
#include "base/base.h"
#include "base/keytab.h"
#include "base/map.h"
#include "dash/dash.h"
#include "net/lnet.h"
#include "proto/auth.h"
#include "proto/records.h"
#include "proto/schedfile.h"
#include "proto/wire.h"
#include <stdarg.h>

enum { T_WAITING, T_READY, T_ASSIGNED, T_DONE, T_ERROR };
enum { P_CHALLENGED, P_AUTHED, P_GONE };

#define MAX_UNAUTHED 1024

typedef struct stask stask;

typedef struct sarg {
    uint8_t kind;
    uint32_t off, len;    /* ARG_BYTES: in argbuf */
    stask *dep;           /* ARG_FUTURE */
    uint64_t put, putlen; /* ARG_PUT: held by the owner client */
    uint64_t dkey;        /* ARG_FUTURE: key of dep, for recomputation */
} sarg;

struct stask {
    uint64_t key;
    int owner;
    uint8_t state, released, canceled, deps_dropped, queued;
    uint8_t blamed;   /* was running when its worker's process died */
    uint8_t stealing; /* STEAL sent to its worker, no STOLEN yet */
    uint8_t direct;   /* its client sent it to its worker (a lease) */
    int thief;        /* while stealing: the idle worker it is for */
    uint64_t sent_ns; /* COMPUTE sent */
    int retries;
    int kills;         /* worker processes that died running it */
    char *killlog;     /* which, and how: for LOCUS_EKILLED */
    int worker;        /* assigned worker, then holder of the result */
    uint32_t npending; /* inputs not computed yet */
    uint32_t nlive;    /* unfinished tasks that need this one's data */
    uint64_t nbytes;
    int status;
    char *errmsg;
    char *fn;
    uint32_t nargs;
    sarg *args;
    uint8_t *argbuf;
    uint32_t nrestrict;
    uint32_t *restrict_ids;
    stask **dependents;
    uint32_t ndependents, capdependents;
    stask *next;  /* queue link (while queued) */
    stask *wnext; /* fail_task's worklist link */
};

typedef struct tq {
    stask *head, *tail;
    size_t n;
} tq;

typedef struct speer {
    int id, role, state;
    lnet_route route;
    lsess *sess;
    uint64_t sid;      /* the session id the peer chose */
    uint64_t gone_ns;  /* said goodbye: its session lingers until idle */
    int close_now;     /* gone without a goodbye: no lingering */
    int challenge_due; /* its CHALLENGE is still to be sent */
    uint8_t snonce[AUTH_NONCE_LEN], pnonce[AUTH_NONCE_LEN];
    char host[64], cpuset[64];
    char net[XPORT_NAME_MAX], shm[XPORT_NAME_MAX];
    int pid, numa, nthreads;
    uint64_t last_seen;
    int crashed; /* its process died, the nanny said how (REPLACES) */
    /* workers */
    int assigned;
    tq queue;
    int in_free;
    uint32_t running, queued;
    uint64_t done;
    uint64_t last_done_ns;             /* its last DONE (or its join) */
    int reserved;                      /* stolen tasks on their way to it */
    uint64_t counters[WIRE_NCOUNTERS]; /* bytes_held first */
    double avg_ns;
} speer;

typedef struct lib_req {
    uint64_t id; /* scheduler-wide request id */
    int client;
    uint64_t client_req;
    int remaining;
    int status;
    char msg[2048];
    struct lib_req *next;
} lib_req;

typedef struct sched {
    const struct sched_opts *o;
    lnet net;
    schedfile sf;
    lc_keytab tasks;
    uint64_t slice_ns; /* when this turn's work began (sched_slice) */
    speer **peers;
    int npeers, cappeers;
    lc_map by_sid; /* session id -> peer id, while challenged */
    int *freeq;    /* ring of worker ids with room */
    size_t fq_head, fq_n, fq_cap;
    tq ready;
    char **libs;
    int nlibs;
    lib_req *lib_reqs;
    uint64_t next_req;
    int nunauthed;
    uint64_t dropped;
    uint64_t drops_told, odd_told, drops_ns;
    uint64_t busy_ns;       /* last message handled, until memory is trimmed */
    dash *dash;             /* the dashboard's feed; NULL: none */
    uint64_t steal_next_ns; /* no stealing pass before this */
    int nchallenges;        /* peers whose CHALLENGE is still to be sent */
    lc_map early;           /* key -> DONE of a direct task before its submit */
    int done_thread;        /* the DONE being handled: thread it ran on, -1 */
    uint64_t done_ago;      /* and ns since it started; 0: unknown */
    int stopping;           /* a client asked the cluster to stop (STOP) */
    char stop_why[REC_REASON_MAX]; /* what SHUTDOWN tells every peer then */
} sched;

static inline speer *peer(sched *s, int id)
{
    return id > 0 && id < s->npeers ? s->peers[id] : NULL;
}

static inline speer *worker(sched *s, int id)
{
    speer *p = peer(s, id);
    return p && p->role == ROLE_WORKER && p->state == P_AUTHED ? p : NULL;
}

static inline wire_wr *out_to(sched *s, speer *p)
{
    return lnet_out(&s->net, p->sess);
}

/* sched_place.c: queues and placement (locality first) */
stask *sched_tq_pop(tq *q);
/* t runs on w now (its COMPUTE went, from here or from its client). */
void sched_assigned(sched *s, speer *w, stask *t);
void sched_make_ready(sched *s, stask *t);
void sched_refill(sched *s, speer *w);
/* Idle workers take unstarted tasks from stuck ones, where the inputs are
   cheap to move (STEAL); and the answer (STOLEN). */
void sched_steal_tick(sched *s);
void sched_on_stolen(sched *s, speer *w, wire_rd *r);
/* t's STEAL is over (answered, or its worker gone): the thief's reserved
   slot is free again.  Returns the speer the task was for, or NULL. */
speer *sched_steal_end(sched *s, stask *t);

/* sched_graph.c: the task graph: submit, release, cancel, results, failure,
 * recomputation */
void sched_task_free(stask *t);
int sched_final(const stask *t);
void sched_maybe_free(sched *s, stask *t);
void sched_fail_task(sched *s, stask *t, int status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* SUBMIT, or (direct) SUBMIT_DIRECT: the same after a u32 worker id. */
void sched_on_submit(sched *s, speer *c, wire_rd *r, int direct);
void sched_on_release(sched *s, speer *c, wire_rd *r);
void sched_on_cancel(sched *s, speer *c, wire_rd *r);
void sched_on_done(sched *s, speer *w, wire_rd *r);
void sched_recompute(sched *s, stask *t, speer *p);

/* sched_libs.c: task libraries and the worker table */
void sched_on_require(sched *s, speer *c, wire_rd *r);
void sched_finish_lib_reqs(sched *s);
void sched_on_lib_loaded(sched *s, speer *w, wire_rd *r);
void sched_on_workers_req(sched *s, speer *c, wire_rd *r);

/* sched_members.c: membership: handshake, heartbeats, peers gone */
void sched_on_heartbeat(sched *s, speer *p, wire_rd *r);
void sched_peer_gone(sched *s, speer *p, const char *why);
void sched_end_session(sched *s, speer *p, int linger);
void sched_reap_peer(sched *s, speer *p);
speer *sched_new_peer(sched *s);
void sched_on_hello(sched *s, int ep, uint64_t sid, wire_rd *r);
void sched_on_auth(sched *s, speer *p, wire_rd *r);
/* REPLACES: worker p restarts a worker whose process died. */
void sched_on_replaces(sched *s, speer *p, wire_rd *r);
/* STOP: client p asks the cluster to stop.  Answered at once (STOPPING);
   the loop then ends and every peer gets SHUTDOWN with s->stop_why. */
void sched_on_stop(sched *s, speer *p, wire_rd *r);
/* CHALLENGEs the provider could not take yet: try again, without waiting. */
void sched_handshakes(sched *s);

/* sched_direct.c: direct submission.  A client with a lease on a worker
 * sends it tasks itself; the SUBMIT_DIRECT it sends us as well keeps the
 * graph, the data directory, retries and stealing here. */
void sched_on_lease_req(sched *s, speer *c, wire_rd *r);
/* t came as SUBMIT_DIRECT for worker id: 1 if it is assigned there (a DONE
   that came first is handled now), 0 if that worker is gone. */
int sched_direct_assign(sched *s, stask *t, int id);
/* A DONE for a direct task the scheduler does not know yet (its
   SUBMIT_DIRECT comes on another session): kept, 1; else 0. */
int sched_direct_early(sched *s, speer *w, uint64_t key, const wire_rd *r);
/* Peer p is gone: the DONEs kept for it (its client's or from it) go. */
void sched_direct_gone(sched *s, speer *p);
/* DIRECT_GONE from worker w: the client released a lease task before it
   was booked here; the DONE kept for it goes (the worker freed the value). */
void sched_on_direct_gone(sched *s, speer *w, wire_rd *r);

/* sched_dash.c: the dashboard's feed (runtime/dash/dash.h) */
void sched_dash_task(sched *s, stask *t, int from, int to, speer *w,
                     uint64_t dur, int status);
void sched_dash_worker(sched *s, speer *w);
void sched_dash_tick(sched *s);

#endif

/*
 * Scheduler.  One thread: it owns the endpoints, reads every message, keeps
 * the task graph and the data directory (which worker holds which result),
 * places ready tasks, and batches its records per peer (flushed once per
 * loop turn, so many tasks moving at once share messages).
 *
 * Placement (per task, O(inputs), independent of the number of tasks and
 * workers):
 *   - restricted task: the least loaded of its allowed workers;
 *   - task with future inputs: the worker holding most of its input bytes,
 *     ties to the least loaded; it waits in that worker's queue if the worker
 *     is full: no path moves a task away from its data for balance;
 *   - task without inputs: the next worker with room in a round-robin FIFO
 *     of non-full workers, else the global queue.
 * A worker's in-flight window grows when its tasks are short (so trivial
 * tasks stream) and shrinks to about one per thread when they are long (so
 * long tasks spread over workers).
 */
#include "sched/sched.h"

#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sodium.h>
#include <unistd.h>

#include "base/base.h"
#include "base/map.h"
#include "dash/dash.h"
#include "net/lnet.h"
#include "proto/auth.h"
#include "proto/records.h"
#include "proto/schedfile.h"
#include "proto/wire.h"

enum { T_WAITING, T_READY, T_ASSIGNED, T_DONE, T_ERROR };
enum { P_CHALLENGED, P_AUTHED, P_GONE };

#define SEND_TIMEOUT_MS 5000
#define MAX_UNAUTHED 1024

typedef struct stask stask;

typedef struct sarg {
    uint8_t kind;
    uint32_t off, len; /* ARG_BYTES: in argbuf */
    stask *dep;        /* ARG_FUTURE */
    uint64_t put, putlen; /* ARG_PUT: held by the owner client */
    uint64_t dkey;        /* ARG_FUTURE: key of dep, for recomputation */
} sarg;

struct stask {
    uint64_t key;
    int owner;
    uint8_t state, released, canceled, deps_dropped, queued;
    int retries;
    int worker;          /* assigned worker, then holder of the result */
    uint32_t npending;   /* inputs not computed yet */
    uint32_t nlive;      /* unfinished tasks that need this one's data */
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
    uint64_t sid;     /* the session id the peer chose */
    uint64_t gone_ns; /* said goodbye: its session lingers until idle */
    int close_now;    /* gone without a goodbye: no lingering */
    uint8_t snonce[AUTH_NONCE_LEN], pnonce[AUTH_NONCE_LEN];
    char host[64], cpuset[64];
    char net[XPORT_NAME_MAX], shm[XPORT_NAME_MAX];
    int pid, numa, nthreads;
    uint64_t last_seen;
    /* workers */
    int assigned;
    tq queue;
    int in_free;
    uint32_t running, queued;
    uint64_t done;
    uint64_t counters[WIRE_NCOUNTERS]; /* bytes_held first */
    double avg_ns;
} speer;

typedef struct lib_req {
    uint64_t id;        /* scheduler-wide request id */
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
    lc_map tasks;
    speer **peers;
    int npeers, cappeers;
    lc_map by_sid; /* session id -> peer id, while challenged */
    int *freeq; /* ring of worker ids with room */
    size_t fq_head, fq_n, fq_cap;
    tq ready;
    char **libs;
    int nlibs;
    lib_req *lib_reqs;
    uint64_t next_req;
    int nunauthed;
    uint64_t dropped;
    uint64_t drops_told, odd_told, drops_ns;
    uint64_t busy_ns; /* last message handled, until memory is trimmed */
    dash *dash; /* the dashboard's feed; NULL: none */
} sched;

static speer *peer(sched *s, int id)
{
    return id > 0 && id < s->npeers ? s->peers[id] : NULL;
}

static speer *worker(sched *s, int id)
{
    speer *p = peer(s, id);
    return p && p->role == ROLE_WORKER && p->state == P_AUTHED ? p : NULL;
}

static wire_wr *out_to(sched *s, speer *p)
{
    return lnet_out(&s->net, p->sess);
}

/* ---- the dashboard's feed (runtime/dash/dash.h) --------------------------- */

/* Task t moves from -> to (enum dash_state); dur > 0: it ran dur ns on w,
   and its inputs are counted by where they were when it was placed. */
static void dash_feed_task(sched *s, stask *t, int from, int to,
                           speer *w, uint64_t dur, int status)
{
    if (!s->dash)
        return;
    struct dash_task_ev e = {.fn = t->fn, .from = (uint8_t)from,
                             .to = (uint8_t)to, .worker = w ? w->id : -1,
                             .thread = -1, .status = status,
                             .duration_ns = dur};
    if (dur && w) {
        uint64_t now = lc_now_ns(); /* DONE carries no start time yet */
        e.start_ns = now > dur ? now - dur : 0;
        speer *c = peer(s, t->owner);
        uint64_t most = 0;
        for (uint32_t i = 0; i < t->nargs; i++) {
            sarg *a = &t->args[i];
            speer *h = a->kind == ARG_PUT ? c
                       : a->dep           ? peer(s, a->dep->worker)
                                          : NULL;
            uint64_t n = a->kind == ARG_PUT ? a->putlen
                         : a->dep           ? a->dep->nbytes
                                            : 0;
            if (h == w)
                e.bytes_stayed += n;
            else if (h && !strcmp(h->host, w->host))
                e.bytes_same_host += n;
            else
                e.bytes_other_host += n;
            if (h && h != w && h != c && n >= most) {
                most = n;
                e.src_worker = h->id; /* the page draws this transfer */
            }
        }
    }
    dash_task_event(s->dash, &e);
}

static void dash_feed_worker(sched *s, speer *w)
{
    if (!s->dash)
        return;
    struct dash_worker d = {
        .id = w->id, .pid = w->pid, .numa = w->numa,
        .nthreads = w->nthreads, .host = w->host, .cpuset = w->cpuset,
        .running = w->running,
        .queued = w->assigned > (int)w->running
                      ? (uint32_t)w->assigned - w->running : 0,
        .sched_queued = (uint32_t)w->queue.n, .tasks_done = w->done,
        .bytes_held = w->counters[0], .arena_reserved = w->counters[1],
        .bytes_mapped = w->counters[2], .bytes_rma = w->counters[3],
        .bytes_inline = w->counters[4], .tasks_local = w->counters[5],
        .tasks_remote = w->counters[6], .last_heartbeat_ns = lc_now_ns()};
    dash_worker_update(s->dash, &d);
}

/* Totals and queue lengths, a few times a second. */
static void dash_feed_tick(sched *s)
{
    int clients = 0;
    for (int i = 1; s->dash && i < s->npeers; i++)
        clients += s->peers[i] && s->peers[i]->role == ROLE_CLIENT &&
                   s->peers[i]->state == P_AUTHED;
    lnet_stats *st = &s->net.st;
    dash_counter_set(s->dash, DASH_C_DROPPED,
                     s->dropped + st->bad_header + st->no_session +
                         st->out_of_window);
    dash_counter_set(s->dash, DASH_C_MAC_FAILURES, st->bad_mac);
    dash_counter_set(s->dash, DASH_C_MESSAGES, st->msgs_in);
    dash_gauge_set(s->dash, DASH_G_READY_QUEUE, (int64_t)s->ready.n);
    dash_gauge_set(s->dash, DASH_G_TASKS, (int64_t)s->tasks.n);
    dash_gauge_set(s->dash, DASH_G_CLIENTS, clients);
}

/* ---- queues ---------------------------------------------------------------- */

static void tq_push(tq *q, stask *t)
{
    t->queued = 1;
    t->next = NULL;
    if (q->tail)
        q->tail->next = t;
    else
        q->head = t;
    q->tail = t;
    q->n++;
}

static stask *tq_pop(tq *q)
{
    stask *t = q->head;
    if (t) {
        q->head = t->next;
        if (!q->head)
            q->tail = NULL;
        q->n--;
        t->next = NULL;
        t->queued = 0;
    }
    return t;
}

static int capacity(const speer *w)
{
    /* enough in flight to cover ~2 ms of work per thread, at least one
       extra per thread, at most 4096 */
    int nt = w->nthreads > 0 ? w->nthreads : 1;
    double extra = w->avg_ns > 0 ? 2e6 / w->avg_ns : 1.0;
    if (extra < 1)
        extra = 1;
    if (extra > 4096)
        extra = 4096;
    return nt + (int)(extra * nt);
}

static int has_room(const speer *w)
{
    return w->assigned < capacity(w);
}

static void freeq_push(sched *s, speer *w)
{
    if (w->in_free || !has_room(w))
        return;
    if (s->fq_n == s->fq_cap) {
        size_t ncap = s->fq_cap ? s->fq_cap * 2 : 64;
        int *nq = malloc(ncap * sizeof(int));
        if (!nq)
            return;
        for (size_t i = 0; i < s->fq_n; i++)
            nq[i] = s->freeq[(s->fq_head + i) % s->fq_cap];
        free(s->freeq);
        s->freeq = nq;
        s->fq_head = 0;
        s->fq_cap = ncap;
    }
    s->freeq[(s->fq_head + s->fq_n) % s->fq_cap] = w->id;
    s->fq_n++;
    w->in_free = 1;
}

static speer *freeq_pop(sched *s)
{
    while (s->fq_n) {
        int id = s->freeq[s->fq_head];
        s->fq_head = (s->fq_head + 1) % s->fq_cap;
        s->fq_n--;
        speer *w = worker(s, id);
        if (!w)
            continue;
        w->in_free = 0;
        if (has_room(w))
            return w;
    }
    return NULL;
}

/* ---- task lifecycle ------------------------------------------------------ */

static void task_free(stask *t)
{
    free(t->errmsg);
    free(t->fn);
    free(t->args);
    free(t->argbuf);
    free(t->restrict_ids);
    free(t->dependents);
    free(t);
}

static int final(const stask *t)
{
    return t->state == T_DONE || t->state == T_ERROR;
}

static void maybe_free(sched *s, stask *t)
{
    if (!t->released || !final(t) || t->nlive || t->npending || t->queued)
        return;
    s->busy_ns = lc_now_ns(); /* memory to give back once idle */
    if (t->state == T_DONE) {
        speer *w = worker(s, t->worker);
        if (w) {
            wire_wr *o = out_to(s, w);
            wire_rec_begin(o, REC_FREE);
            wire_put_u64(o, t->key);
            wire_rec_end(o);
        }
    }
    lc_map_del(&s->tasks, t->key);
    task_free(t);
}

static void drop_deps(sched *s, stask *t)
{
    if (t->deps_dropped)
        return;
    t->deps_dropped = 1;
    for (uint32_t i = 0; i < t->nargs; i++) {
        stask *d = t->args[i].dep;
        if (d) {
            d->nlive--;
            maybe_free(s, d);
        }
    }
}

static void send_result(sched *s, stask *t, const void *data, size_t len)
{
    speer *c = peer(s, t->owner);
    if (t->released || !c || c->state != P_AUTHED)
        return;
    wire_wr *o = out_to(s, c);
    wire_rec_begin(o, REC_RESULT);
    wire_put_u64(o, t->key);
    wire_put_i32(o, t->status);
    wire_put_u32(o, t->worker > 0 ? (uint32_t)t->worker : 0);
    wire_put_u64(o, t->nbytes);
    if (t->status == 0) {
        wire_put_u8(o, data != NULL);
        wire_put_bytes(o, data, data ? len : 0);
    } else {
        wire_put_u8(o, 0);
        wire_put_str(o, t->errmsg);
    }
    wire_rec_end(o);
}

static void make_ready(sched *s, stask *t);

/* Fail t and, transitively, everything waiting on it. */
static void fail_task(sched *s, stask *t, int status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void fail_task(sched *s, stask *t, int status, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);

    stask *work = t;
    t->wnext = NULL;
    t->status = status;
    free(t->errmsg);
    t->errmsg = strdup(msg);
    /* worklist through ->next: each failed task's waiting dependents */
    while (work) {
        stask *cur = work;
        work = work->wnext;
        cur->wnext = NULL;
        dash_feed_task(s, cur,
                       cur->state == T_ASSIGNED ? DASH_T_RUNNING
                                                : DASH_T_WAITING,
                       DASH_T_FAILED, NULL, 0, cur->status);
        cur->state = T_ERROR;
        send_result(s, cur, NULL, 0);
        drop_deps(s, cur);
        for (uint32_t i = 0; i < cur->ndependents; i++) {
            stask *d = cur->dependents[i];
            d->npending--;
            if (final(d)) {
                maybe_free(s, d);
                continue;
            }
            if (d->state == T_WAITING) {
                /* the input's own code: a missing file stays ENOENT */
                d->status = cur->status ? cur->status : LOCUS_ETASK;
                char m2[1200];
                snprintf(m2, sizeof(m2), "input %s failed: %s",
                         cur->fn ? cur->fn : "?", cur->errmsg ? cur->errmsg
                                                              : "");
                free(d->errmsg);
                d->errmsg = strdup(m2);
                d->state = T_ERROR; /* mark now so it is queued once */
                d->wnext = work;
                work = d;
            }
        }
        cur->ndependents = 0;
        maybe_free(s, cur);
    }
}

static void send_compute(sched *s, speer *w, stask *t)
{
    wire_wr *o = out_to(s, w);
    wire_rec_begin(o, REC_COMPUTE);
    wire_put_u64(o, t->key);
    wire_put_str(o, t->fn);
    wire_put_u32(o, t->nargs);
    for (uint32_t i = 0; i < t->nargs; i++) {
        sarg *a = &t->args[i];
        /* a client's big argument is fetched from the client like a
           future from its holder */
        wire_put_u8(o, a->kind == ARG_PUT ? ARG_FUTURE : a->kind);
        if (a->kind == ARG_BYTES) {
            wire_put_bytes(o, t->argbuf + a->off, a->len);
        } else if (a->kind == ARG_PUT) {
            wire_put_u64(o, a->put);
            wire_put_u32(o, (uint32_t)t->owner);
            wire_put_u64(o, a->putlen);
        } else {
            wire_put_u64(o, a->dep->key);
            wire_put_u32(o, (uint32_t)a->dep->worker);
            wire_put_u64(o, a->dep->nbytes);
        }
    }
    wire_rec_end(o);
    dash_feed_task(s, t, DASH_T_WAITING, DASH_T_RUNNING, NULL, 0, 0);
    t->state = T_ASSIGNED;
    t->worker = w->id;
    w->assigned++;
}

static void assign(sched *s, speer *w, stask *t)
{
    if (has_room(w)) {
        send_compute(s, w, t);
    } else {
        t->state = T_READY;
        t->worker = w->id;
        tq_push(&w->queue, t);
    }
}

static speer *least_loaded(sched *s, const uint32_t *ids, uint32_t n)
{
    speer *best = NULL;
    for (uint32_t i = 0; i < n; i++) {
        speer *w = worker(s, (int)ids[i]);
        if (w && (!best || w->assigned * best->nthreads <
                               best->assigned * w->nthreads))
            best = w;
    }
    return best;
}

static void make_ready(sched *s, stask *t)
{
    if (t->canceled) {
        fail_task(s, t, LOCUS_ECANCELED, "canceled");
        return;
    }
    speer *w = NULL;
    if (t->nrestrict) {
        w = least_loaded(s, t->restrict_ids, t->nrestrict);
        if (!w) {
            char ids[256] = "";
            size_t o = 0;
            for (uint32_t i = 0; i < t->nrestrict && o < sizeof(ids) - 12;
                 i++)
                o += (size_t)snprintf(ids + o, sizeof(ids) - o, "%s%u",
                                      i ? "," : "", t->restrict_ids[i]);
            fail_task(s, t, LOCUS_ENOWORKERS,
                      "none of the allowed workers [%s] is connected", ids);
            return;
        }
        assign(s, w, t);
        return;
    }
    /* the worker holding most input bytes; ties to the one whose host holds
       most of the rest (mapped, not sent), then the least loaded.  Few
       inputs, so quadratic is cheap and needs no allocation. */
    uint64_t best_bytes = 0, best_host = 0;
    for (uint32_t i = 0; i < t->nargs; i++) {
        stask *d = t->args[i].dep;
        if (!d)
            continue;
        speer *h = worker(s, d->worker);
        if (!h)
            continue;
        uint64_t sum = 0, host = 0;
        for (uint32_t j = 0; j < t->nargs; j++) {
            stask *e = t->args[j].dep;
            if (!e)
                continue;
            if (e->worker == d->worker)
                sum += e->nbytes + 1;
            else if (worker(s, e->worker) &&
                     !strcmp(worker(s, e->worker)->host, h->host))
                host += e->nbytes + 1;
        }
        int better = !w || sum > best_bytes ||
                     (sum == best_bytes && host > best_host) ||
                     (sum == best_bytes && host == best_host &&
                      h->assigned * w->nthreads < w->assigned * h->nthreads);
        if (better) {
            w = h;
            best_bytes = sum;
            best_host = host;
        }
    }
    if (w) {
        assign(s, w, t);
        return;
    }
    w = freeq_pop(s);
    if (w) {
        send_compute(s, w, t);
        freeq_push(s, w);
        return;
    }
    t->state = T_READY;
    t->worker = -1;
    tq_push(&s->ready, t);
}

/* A worker got room: its own queue first (locality), then the global one. */
static void refill(sched *s, speer *w)
{
    while (has_room(w)) {
        stask *t = tq_pop(&w->queue);
        if (!t)
            break;
        if (t->state != T_READY) { /* canceled while queued */
            maybe_free(s, t);
            continue;
        }
        if (t->canceled) {
            fail_task(s, t, LOCUS_ECANCELED, "canceled");
            continue;
        }
        send_compute(s, w, t);
    }
    while (has_room(w)) {
        stask *t = tq_pop(&s->ready);
        if (!t)
            break;
        if (t->state != T_READY) {
            maybe_free(s, t);
            continue;
        }
        if (t->canceled) {
            fail_task(s, t, LOCUS_ECANCELED, "canceled");
            continue;
        }
        send_compute(s, w, t);
    }
    freeq_push(s, w);
}

/* ---- records from clients ------------------------------------------------- */

static int add_dependent(stask *d, stask *t)
{
    if (d->ndependents == d->capdependents) {
        uint32_t ncap = d->capdependents ? d->capdependents * 2 : 4;
        stask **nd = realloc(d->dependents, ncap * sizeof(*nd));
        if (!nd)
            return LOCUS_ENOMEM;
        d->dependents = nd;
        d->capdependents = ncap;
    }
    d->dependents[d->ndependents++] = t;
    return 0;
}

static void on_submit(sched *s, speer *c, wire_rd *r)
{
    char fn[256];
    uint64_t key = wire_get_u64(r);
    wire_get_str(r, fn, sizeof(fn));
    int retries = wire_get_i32(r);
    uint32_t nrestrict = wire_get_u32(r);
    if (!wire_rd_ok(r) || nrestrict > wire_rd_left(r) / 4) {
        lc_log(LC_LOG_WARN, "sched", "malformed SUBMIT from client %d", c->id);
        return;
    }
    if ((key >> 40) != (uint64_t)c->id || lc_map_get(&s->tasks, key)) {
        lc_log(LC_LOG_WARN, "sched", "client %d submitted bad or duplicate "
               "key %llx; ignored", c->id, (unsigned long long)key);
        return;
    }
    stask *t = calloc(1, sizeof(*t));
    if (!t)
        return;
    t->key = key;
    t->owner = c->id;
    t->worker = -1;
    t->retries = retries < 0 ? 3 : retries;
    t->fn = strdup(fn);
    if (nrestrict) {
        t->restrict_ids = malloc(nrestrict * sizeof(uint32_t));
        if (t->restrict_ids)
            for (uint32_t i = 0; i < nrestrict; i++)
                t->restrict_ids[i] = wire_get_u32(r);
        t->nrestrict = t->restrict_ids ? nrestrict : 0;
    }
    uint32_t nargs = wire_get_u32(r);
    size_t argstart = r->off;
    if (!wire_rd_ok(r) || nargs > wire_rd_left(r)) {
        lc_log(LC_LOG_WARN, "sched", "malformed SUBMIT from client %d", c->id);
        task_free(t);
        return;
    }
    /* inline argument bytes are copied once, whole */
    size_t blen = wire_rd_left(r);
    t->argbuf = malloc(blen ? blen : 1);
    t->args = calloc(nargs ? nargs : 1, sizeof(sarg));
    if (!t->argbuf || !t->args || lc_map_put(&s->tasks, key, t) != 0) {
        task_free(t);
        return;
    }
    memcpy(t->argbuf, r->p + argstart, blen);
    t->nargs = nargs;
    dash_feed_task(s, t, DASH_T_NONE, DASH_T_WAITING, NULL, 0, 0);
    int bad = 0;
    char why[512] = "";
    for (uint32_t i = 0; i < nargs && !bad; i++) {
        uint8_t kind = wire_get_u8(r);
        t->args[i].kind = kind;
        if (kind == ARG_BYTES) {
            size_t n;
            const uint8_t *p = wire_get_bytes(r, &n);
            t->args[i].off = p ? (uint32_t)(p - (r->p + argstart)) : 0;
            t->args[i].len = (uint32_t)n;
        } else if (kind == ARG_PUT) {
            t->args[i].put = wire_get_u64(r);
            t->args[i].putlen = wire_get_u64(r);
            if (!(t->args[i].put >> 63)) {
                bad = LOCUS_EPROTO;
                snprintf(why, sizeof(why), "argument %u: bad client object "
                         "key", i);
            }
        } else if (kind == ARG_FUTURE) {
            uint64_t dk = wire_get_u64(r);
            stask *d = lc_map_get(&s->tasks, dk);
            if (!d || (d->released && d->owner == c->id && !d->nlive &&
                       final(d))) {
                snprintf(why, sizeof(why), "argument %u refers to a future "
                         "that is unknown or released", i);
                bad = LOCUS_EINVAL;
                break;
            }
            t->args[i].dep = d;
            t->args[i].dkey = dk;
            d->nlive++;
            if (!final(d)) {
                if (add_dependent(d, t) != 0) {
                    d->nlive--;
                    t->args[i].dep = NULL;
                    bad = LOCUS_ENOMEM;
                    snprintf(why, sizeof(why), "out of memory");
                    break;
                }
                t->npending++;
            } else if (d->state == T_ERROR) {
                snprintf(why, sizeof(why), "input %u (%s) failed: %s", i,
                         d->fn, d->errmsg ? d->errmsg : "");
                bad = d->status == LOCUS_ECANCELED ? LOCUS_ECANCELED
                                                   : LOCUS_ETASK;
            }
        } else {
            bad = LOCUS_EPROTO;
            snprintf(why, sizeof(why), "argument %u has unknown kind %u", i,
                     kind);
        }
    }
    if (!bad && !wire_rd_ok(r)) {
        bad = LOCUS_EPROTO;
        snprintf(why, sizeof(why), "malformed arguments");
    }
    if (bad) {
        /* pending inputs will decrement npending when they finish */
        fail_task(s, t, bad, "%s", why);
        return;
    }
    if (t->npending == 0)
        make_ready(s, t);
    else
        t->state = T_WAITING;
}

static void on_release(sched *s, speer *c, wire_rd *r)
{
    uint64_t key = wire_get_u64(r);
    stask *t = lc_map_get(&s->tasks, key);
    if (!wire_rd_ok(r) || !t || t->owner != c->id || t->released)
        return;
    t->released = 1;
    if (!final(t) && !t->nlive)
        t->canceled = 1; /* nobody wants its result any more */
    if (!final(t) && t->canceled && t->state != T_ASSIGNED &&
        t->state != T_WAITING)
        fail_task(s, t, LOCUS_ECANCELED, "released before it ran");
    maybe_free(s, t);
}

static void on_cancel(sched *s, speer *c, wire_rd *r)
{
    uint64_t key = wire_get_u64(r);
    stask *t = lc_map_get(&s->tasks, key);
    if (!wire_rd_ok(r) || !t || t->owner != c->id || final(t))
        return;
    t->canceled = 1;
    if (t->state == T_ASSIGNED) {
        speer *w = worker(s, t->worker);
        if (w) {
            wire_wr *o = out_to(s, w);
            wire_rec_begin(o, REC_CANCEL);
            wire_put_u64(o, key);
            wire_rec_end(o);
        }
    }
    /* the client sees the cancellation now; a running task's result is
       dropped when it arrives */
    fail_task(s, t, LOCUS_ECANCELED, "canceled by the client");
}

static void finish_lib_reqs(sched *s);

static void on_require(sched *s, speer *c, wire_rd *r)
{
    char path[1024];
    uint64_t creq = wire_get_u64(r);
    wire_get_str(r, path, sizeof(path));
    if (!wire_rd_ok(r))
        return;
    int known = 0;
    for (int i = 0; i < s->nlibs; i++)
        known |= !strcmp(s->libs[i], path);
    if (!known) {
        char **nl = realloc(s->libs, (size_t)(s->nlibs + 1) * sizeof(char *));
        if (nl) {
            s->libs = nl;
            s->libs[s->nlibs++] = strdup(path);
        }
    }
    lib_req *q = calloc(1, sizeof(*q));
    if (!q)
        return;
    q->id = ++s->next_req;
    q->client = c->id;
    q->client_req = creq;
    for (int i = 1; i < s->npeers; i++) {
        speer *w = worker(s, i);
        if (!w)
            continue;
        wire_wr *o = out_to(s, w);
        wire_rec_begin(o, REC_LOAD_LIB);
        wire_put_u64(o, q->id);
        wire_put_str(o, path);
        wire_rec_end(o);
        q->remaining++;
    }
    q->next = s->lib_reqs;
    s->lib_reqs = q;
    /* no worker yet: nothing to wait for; those that join load it */
    finish_lib_reqs(s);
}

static void finish_lib_reqs(sched *s)
{
    for (lib_req **pp = &s->lib_reqs; *pp;) {
        lib_req *q = *pp;
        if (q->remaining > 0) {
            pp = &q->next;
            continue;
        }
        speer *c = peer(s, q->client);
        if (c && c->state == P_AUTHED) {
            wire_wr *o = out_to(s, c);
            wire_rec_begin(o, REC_REQUIRE_DONE);
            wire_put_u64(o, q->client_req);
            wire_put_i32(o, q->status);
            wire_put_str(o, q->msg);
            wire_rec_end(o);
        }
        *pp = q->next;
        free(q);
    }
}

static void on_lib_loaded(sched *s, speer *w, wire_rd *r)
{
    char msg[1024];
    uint64_t id = wire_get_u64(r);
    int status = wire_get_i32(r);
    wire_get_str(r, msg, sizeof(msg));
    if (!wire_rd_ok(r))
        return;
    if (status)
        lc_log(LC_LOG_WARN, "sched", "worker %d (%s pid %d): %s", w->id,
               w->host, w->pid, msg);
    for (lib_req *q = s->lib_reqs; q; q = q->next) {
        if (q->id != id)
            continue;
        q->remaining--;
        if (status) {
            q->status = status;
            size_t l = strlen(q->msg);
            snprintf(q->msg + l, sizeof(q->msg) - l, "%sworker %d (%s pid %d): %s",
                     l ? "; " : "", w->id, w->host, w->pid, msg);
        }
    }
    finish_lib_reqs(s);
}

static void on_workers_req(sched *s, speer *c, wire_rd *r)
{
    uint64_t req = wire_get_u64(r);
    if (!wire_rd_ok(r))
        return;
    uint32_t n = 0;
    for (int i = 1; i < s->npeers; i++)
        n += worker(s, i) != NULL;
    wire_wr *o = out_to(s, c);
    wire_rec_begin(o, REC_WORKERS);
    wire_put_u64(o, req);
    wire_put_u32(o, n);
    for (int i = 1; i < s->npeers; i++) {
        speer *w = worker(s, i);
        if (!w)
            continue;
        wire_put_u32(o, (uint32_t)w->id);
        wire_put_u32(o, (uint32_t)w->pid);
        wire_put_str(o, w->host);
        wire_put_i32(o, w->numa);
        wire_put_str(o, w->cpuset);
        wire_put_u32(o, (uint32_t)w->nthreads);
        wire_put_u32(o, w->running);
        wire_put_u32(o, (uint32_t)(w->assigned > (int)w->running
                                       ? w->assigned - (int)w->running
                                       : 0));
        wire_put_u64(o, w->done);
        for (int k = 0; k < WIRE_NCOUNTERS; k++)
            wire_put_u64(o, w->counters[k]);
    }
    wire_rec_end(o);
}

/* ---- records from workers -------------------------------------------------- */

static void on_done(sched *s, speer *w, wire_rd *r)
{
    uint64_t key = wire_get_u64(r);
    int status = wire_get_i32(r);
    uint64_t nbytes = wire_get_u64(r);
    uint64_t dur = wire_get_u64(r);
    uint8_t has_inline = wire_get_u8(r);
    size_t n;
    const void *data = wire_get_bytes(r, &n);
    if (!wire_rd_ok(r)) {
        lc_log(LC_LOG_WARN, "sched", "malformed DONE from worker %d", w->id);
        return;
    }
    w->assigned--;
    w->done++;
    w->avg_ns = w->avg_ns > 0 ? 0.9 * w->avg_ns + 0.1 * (double)dur
                              : (double)dur;
    stask *t = lc_map_get(&s->tasks, key);
    if (!t || t->worker != w->id || t->state == T_DONE) {
        /* canceled or released meanwhile: the worker frees the data */
        if (status == 0) {
            if (!t || t->state != T_DONE) {
                wire_wr *o = out_to(s, w);
                wire_rec_begin(o, REC_FREE);
                wire_put_u64(o, key);
                wire_rec_end(o);
            }
        }
        refill(s, w);
        return;
    }
    if (t->state == T_ERROR) { /* canceled while running */
        if (status == 0) {
            wire_wr *o = out_to(s, w);
            wire_rec_begin(o, REC_FREE);
            wire_put_u64(o, key);
            wire_rec_end(o);
        }
        t->worker = -1;
        maybe_free(s, t);
        refill(s, w);
        return;
    }
    if (status == LOCUS_ELOST) {
        /* an input died with its worker and is being computed again:
           wait for it instead of failing */
        int rewait = 0;
        for (uint32_t i = 0; i < t->nargs; i++) {
            stask *d = t->args[i].dep;
            if (d && !final(d) && add_dependent(d, t) == 0) {
                t->npending++;
                rewait = 1;
            }
        }
        if (rewait) {
            dash_feed_task(s, t, DASH_T_RUNNING, DASH_T_WAITING, w,
                           dur + !dur, status);
            t->state = T_WAITING;
            t->worker = -1;
            refill(s, w);
            return;
        }
    }
    if (status != 0) {
        char msg[1024];
        snprintf(msg, sizeof(msg), "%.*s", (int)n, data ? (const char *)data
                                                        : "");
        /* its bar; fail_task counts it failed */
        dash_feed_task(s, t, DASH_T_RUNNING, DASH_T_RUNNING, w,
                       dur + !dur, status);
        fail_task(s, t, status, "%s", msg);
        refill(s, w);
        return;
    }
    dash_feed_task(s, t, DASH_T_RUNNING, DASH_T_DONE, w, dur + !dur, 0);
    t->state = T_DONE;
    t->nbytes = nbytes;
    t->worker = w->id;
    send_result(s, t, has_inline ? data : NULL, has_inline ? n : 0);
    drop_deps(s, t);
    /* a dependent that fails now may drop the last reference to t: keep t
       alive while walking its dependents */
    t->nlive++;
    for (uint32_t i = 0; i < t->ndependents; i++) {
        stask *d = t->dependents[i];
        d->npending--;
        if (final(d))
            maybe_free(s, d);
        else if (d->npending == 0 && d->state == T_WAITING)
            make_ready(s, d);
    }
    t->ndependents = 0;
    t->nlive--;
    maybe_free(s, t);
    refill(s, w);
}

static void on_heartbeat(sched *s, speer *p, wire_rd *r)
{
    if (p->role != ROLE_WORKER)
        return;
    uint32_t running = wire_get_u32(r);
    uint32_t queued = wire_get_u32(r);
    uint64_t done = wire_get_u64(r);
    uint64_t c[WIRE_NCOUNTERS];
    for (int i = 0; i < WIRE_NCOUNTERS; i++)
        c[i] = wire_get_u64(r);
    if (!wire_rd_ok(r))
        return;
    (void)queued;
    (void)done;
    p->running = running;
    memcpy(p->counters, c, sizeof(c));
    dash_feed_worker(s, p);
}

/* ---- membership ------------------------------------------------------------------ */

static void announce(sched *s, speer *to, speer *about)
{
    rec_peer r;
    r.id = (uint32_t)about->id;
    r.role = (uint8_t)about->role;
    snprintf(r.host, sizeof(r.host), "%s", about->host);
    r.pid = (uint32_t)about->pid;
    snprintf(r.net, sizeof(r.net), "%s", about->net);
    snprintf(r.shm, sizeof(r.shm), "%s", about->shm);
    r.sid = about->sid;
    rec_put_peer(out_to(s, to), &r);
}

/* t's result was lost with worker p: run it again on its inputs, if they
   are still known (a released input, or one that came from the client, is
   gone: then the owner is told why). */
static void recompute(sched *s, stask *t, speer *p)
{
    for (uint32_t i = 0; i < t->nargs; i++)
        t->args[i].dep = NULL; /* stale since the task finished */
    t->deps_dropped = 0;
    for (uint32_t i = 0; i < t->nargs; i++) {
        sarg *a = &t->args[i];
        if (a->kind == ARG_BYTES)
            continue;
        stask *d = a->kind == ARG_FUTURE ? lc_map_get(&s->tasks, a->dkey)
                                         : NULL;
        if (!d || d->state == T_ERROR) {
            t->state = T_ASSIGNED; /* not final: fail_task finalizes */
            fail_task(s, t, LOCUS_ELOST,
                      "result lost with worker %d (%s pid %d) and cannot be "
                      "computed again: input %u %s", p->id, p->host, p->pid,
                      i, a->kind == ARG_PUT ? "came from the client"
                                            : "is gone too");
            return;
        }
        a->dep = d;
        d->nlive++;
        if (!final(d)) {
            if (add_dependent(d, t) != 0) {
                t->state = T_ASSIGNED;
                fail_task(s, t, LOCUS_ENOMEM, "out of memory recomputing");
                return;
            }
            t->npending++;
        }
    }
    lc_log(LC_LOG_INFO, "sched", "recomputing %s (key %llx), lost with "
           "worker %d", t->fn, (unsigned long long)t->key, p->id);
    if (t->npending == 0)
        make_ready(s, t);
}

static void peer_gone(sched *s, speer *p, const char *why)
{
    if (p->state == P_GONE)
        return;
    int was_authed = p->state == P_AUTHED;
    if (!was_authed) {
        s->nunauthed--;
        lc_map_del(&s->by_sid, p->sid);
    }
    p->state = P_GONE;
    p->gone_ns = lc_now_ns();
    lc_log(was_authed && strcmp(why, "said goodbye") ? LC_LOG_WARN
                                                      : LC_LOG_INFO,
           "sched", "%s %d (%s pid %d) gone: %s",
           p->role == ROLE_WORKER ? "worker" : "client", p->id, p->host,
           p->pid, why);
    if (!was_authed)
        return;
    if (p->role == ROLE_WORKER)
        dash_worker_gone(s->dash, p->id);
    for (int i = 1; i < s->npeers; i++) {
        speer *q = peer(s, i);
        if (q && q != p && q->state == P_AUTHED) {
            wire_wr *o = out_to(s, q);
            wire_rec_begin(o, REC_PEER_GONE);
            wire_put_u32(o, (uint32_t)p->id);
            wire_rec_end(o);
        }
    }
    /* walk the task table once: rare event, O(tasks) is fine */
    stask **redo = NULL;
    size_t nredo = 0, capredo = 0;
    size_t it = 0;
    uint64_t k;
    void *v;
    tq waiting = p->queue;
    memset(&p->queue, 0, sizeof(p->queue));
    while (lc_map_next(&s->tasks, &it, &k, &v)) {
        stask *t = v;
        if (p->role == ROLE_CLIENT && t->owner == p->id && !t->released) {
            if (nredo == capredo) {
                capredo = capredo ? capredo * 2 : 64;
                stask **nr = realloc(redo, capredo * sizeof(*nr));
                if (!nr)
                    break;
                redo = nr;
            }
            redo[nredo++] = t;
        } else if (p->role == ROLE_WORKER && t->worker == p->id &&
                   (t->state == T_ASSIGNED || t->state == T_DONE)) {
            if (nredo == capredo) {
                capredo = capredo ? capredo * 2 : 64;
                stask **nr = realloc(redo, capredo * sizeof(*nr));
                if (!nr)
                    break;
                redo = nr;
            }
            redo[nredo++] = t;
        }
    }
    for (size_t i = 0; i < nredo; i++) {
        stask *t = redo[i];
        if (p->role == ROLE_CLIENT) {
            t->released = 1;
            if (!final(t) && !t->nlive)
                t->canceled = 1;
            maybe_free(s, t);
            continue;
        }
        if (t->state == T_DONE) {
            /* its result is lost: computed again from the graph, once
               every lost result is marked (an input may be lost too) */
            /* counted as new work: done and failed only ever grow */
            dash_feed_task(s, t, DASH_T_NONE, DASH_T_WAITING, NULL, 0, 0);
            t->state = T_WAITING;
            t->worker = -1;
            continue;
        }
        int was_running = t->state == T_ASSIGNED;
        t->worker = -1;
        if (was_running && t->retries-- <= 0) {
            fail_task(s, t, LOCUS_ECLOSED,
                      "worker %d (%s pid %d) died while running the task, "
                      "and its retries are used up", p->id, p->host, p->pid);
            continue;
        }
        if (was_running)
            dash_feed_task(s, t, DASH_T_RUNNING, DASH_T_WAITING, NULL, 0,
                           0);
        t->state = T_WAITING;
        make_ready(s, t);
    }
    for (size_t i = 0; p->role == ROLE_WORKER && i < nredo; i++)
        if (redo[i]->state == T_WAITING && redo[i]->worker == -1 &&
            redo[i]->deps_dropped)
            recompute(s, redo[i], p);
    free(redo);
    /* tasks queued for this worker find another home */
    for (stask *t; (t = tq_pop(&waiting));) {
        t->worker = -1;
        if (t->state != T_READY) {
            maybe_free(s, t);
            continue;
        }
        t->state = T_WAITING;
        make_ready(s, t);
    }
    /* library requests waiting for this worker */
    if (p->role == ROLE_WORKER) {
        for (lib_req *q = s->lib_reqs; q; q = q->next)
            q->remaining--; /* conservative: every pending request */
        finish_lib_reqs(s);
    }
}

/* A peer that is gone: its session ends at the next liveness check, or
   (after a goodbye) once the GOODBYE was acknowledged or 10 s passed.  Not
   at once: the session's message may still be being handled. */
static void end_session(sched *s, speer *p, int linger)
{
    (void)s;
    if (!linger)
        p->close_now = 1;
}

/* Close the sessions of gone peers that are done, and forget the peers
   (a long-lived scheduler sees many clients come and go). */
static void reap_peer(sched *s, speer *p)
{
    if (p->sess && !p->close_now && !lnet_sess_idle(p->sess) &&
        lc_now_ns() - p->gone_ns < 10000000000ull)
        return;
    if (p->sess)
        lnet_sess_close(&s->net, p->sess);
    lnet_unroute(&s->net, p->route);
    s->peers[p->id] = NULL;
    free(p);
}

static speer *new_peer(sched *s)
{
    if (s->npeers == s->cappeers) {
        int ncap = s->cappeers ? s->cappeers * 2 : 64;
        speer **np = realloc(s->peers, (size_t)ncap * sizeof(*np));
        if (!np)
            return NULL;
        s->peers = np;
        s->cappeers = ncap;
    }
    speer *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    p->id = s->npeers;
    s->peers[s->npeers++] = p;
    return p;
}

/* Handshake replies go outside any session, bounded by a short deadline:
   a peer that does not take them asks again. */
static void send_refuse(sched *s, lnet_route r, uint64_t sid, const char *why)
{
    wire_wr w;
    wire_wr_init(&w);
    wire_rec_begin(&w, REC_REFUSE);
    wire_put_str(&w, why);
    wire_rec_end(&w);
    lnet_send_handshake(&s->net, r, 0, sid, &w, lc_deadline_ms(100));
    wire_wr_free(&w);
}

static void send_challenge(sched *s, speer *p)
{
    uint8_t mac[AUTH_MAC_LEN];
    auth_mac(s->sf.key, "locus-sched", p->pnonce, AUTH_NONCE_LEN,
             s->sf.job_id, strlen(s->sf.job_id), mac);
    rec_challenge c;
    memcpy(c.snonce, p->snonce, AUTH_NONCE_LEN);
    memcpy(c.mac, mac, AUTH_MAC_LEN);
    c.id = (uint32_t)p->id;
    wire_wr w;
    wire_wr_init(&w);
    rec_put_challenge(&w, &c);
    int rc = lnet_send_handshake(&s->net, p->route, (uint32_t)p->id, p->sid,
                                 &w, lc_deadline_ms(100));
    if (rc)
        lc_log(LC_LOG_INFO, "sched", "CHALLENGE to %s pid %d: %s (it will "
               "ask again)", p->host, p->pid, locus_last_error());
    wire_wr_free(&w);
}

static void on_hello(sched *s, int ep, uint64_t sid, wire_rd *r)
{
    speer tmp;
    memset(&tmp, 0, sizeof(tmp));
    rec_hello h;
    if (rec_get_hello(r, &h) != 0) {
        s->dropped++;
        lc_log(LC_LOG_WARN, "sched", "malformed HELLO dropped");
        return;
    }
    char job[REC_JOB_MAX];
    tmp.role = h.role;
    memcpy(tmp.pnonce, h.nonce, AUTH_NONCE_LEN);
    snprintf(tmp.host, sizeof(tmp.host), "%s", h.host);
    tmp.pid = (int)h.pid;
    snprintf(tmp.net, sizeof(tmp.net), "%s", h.net);
    snprintf(tmp.shm, sizeof(tmp.shm), "%s", h.shm);
    tmp.numa = h.numa;
    snprintf(tmp.cpuset, sizeof(tmp.cpuset), "%s", h.cpuset);
    tmp.nthreads = (int)h.nthreads;
    snprintf(job, sizeof(job), "%s", h.job);
    /* replies go where the HELLO says, over the endpoint it came by:
       never to the transport's idea of the sender */
    lnet_route route = {ep, 0};
    const char *addr = ep == LNET_SHM ? tmp.shm : tmp.net;
    if (lnet_insert(&s->net, ep, addr, &route.addr) != 0) {
        s->dropped++;
        lc_log(LC_LOG_WARN, "sched", "HELLO from %s pid %d with a bad "
               "address: %s", tmp.host, tmp.pid, locus_last_error());
        return;
    }
    if (strcmp(job, s->sf.job_id) != 0) {
        lc_log(LC_LOG_WARN, "sched", "HELLO from %s pid %d for job '%s', "
               "this is job '%s' (stale scheduler file?): refused", tmp.host,
               tmp.pid, job, s->sf.job_id);
        send_refuse(s, route, sid, "wrong job id: the scheduler file is "
                    "stale");
        lnet_unroute(&s->net, route);
        return;
    }
    if (s->nunauthed >= MAX_UNAUTHED) {
        lc_log(LC_LOG_WARN, "sched", "too many unauthenticated peers; "
               "HELLO from %s dropped", tmp.host);
        lnet_unroute(&s->net, route);
        return;
    }
    void *known = lc_map_get(&s->by_sid, sid);
    if (known) {
        /* the same HELLO again: our CHALLENGE was lost or is late; send
           the same one again rather than a second, conflicting one */
        speer *op = peer(s, (int)(intptr_t)known);
        if (op && op->state == P_CHALLENGED &&
            !memcmp(op->pnonce, tmp.pnonce, AUTH_NONCE_LEN)) {
            lc_log(LC_LOG_INFO, "sched", "HELLO from %s pid %d again: "
                   "CHALLENGE sent again", op->host, op->pid);
            send_challenge(s, op);
        }
        lnet_unroute(&s->net, route);
        return;
    }
    speer *p = new_peer(s);
    if (!p) {
        lnet_unroute(&s->net, route);
        return;
    }
    int id = p->id;
    *p = tmp;
    p->id = id;
    p->sid = sid;
    p->state = P_CHALLENGED;
    p->route = route;
    p->last_seen = lc_now_ns();
    auth_random(p->snonce, AUTH_NONCE_LEN);
    uint8_t ktx[AUTH_KEY_LEN], krx[AUTH_KEY_LEN];
    lnet_keys_sched(s->sf.key, p->pnonce, p->snonce, 1, ktx, krx);
    p->sess = lnet_sess_open(&s->net, (uint32_t)p->id, sid, ktx, krx, route);
    sodium_memzero(ktx, sizeof(ktx));
    sodium_memzero(krx, sizeof(krx));
    if (!p->sess || lc_map_put(&s->by_sid, sid, (void *)(intptr_t)p->id)) {
        lc_log(LC_LOG_WARN, "sched", "no memory for a session with %s pid "
               "%d", p->host, p->pid);
        if (p->sess)
            lnet_sess_close(&s->net, p->sess);
        p->sess = NULL;
        p->state = P_GONE;
        p->close_now = 1;
        return;
    }
    p->sess->user = p;
    s->nunauthed++;
    lc_log(LC_LOG_DEBUG, "sched", "HELLO from %s pid %d (%s) on %s handle "
           "%llu: peer %d challenged", p->host, p->pid,
           p->role == ROLE_WORKER ? "worker" : "client",
           ep == LNET_SHM ? "shm" : "net", (unsigned long long)route.addr,
           p->id);
    send_challenge(s, p);
}

static void on_auth(sched *s, speer *p, wire_rd *r)
{
    const uint8_t *mac = wire_get_raw(r, AUTH_MAC_LEN);
    uint8_t want[AUTH_MAC_LEN];
    auth_mac(s->sf.key, "locus-peer", p->snonce, AUTH_NONCE_LEN, p->pnonce,
             AUTH_NONCE_LEN, want);
    if (!mac || !auth_equal(mac, want)) {
        lc_log(LC_LOG_WARN, "sched", "peer %s pid %d failed authentication "
               "(wrong cluster key): refused", p->host, p->pid);
        send_refuse(s, p->route, p->sid, "authentication failed: wrong "
                    "cluster key");
        dash_counter_add(s->dash, DASH_C_AUTH_FAILURES, 1);
        peer_gone(s, p, "authentication failed");
        end_session(s, p, 0);
        return;
    }
    p->state = P_AUTHED;
    s->nunauthed--;
    lc_map_del(&s->by_sid, p->sid);
    lc_log(LC_LOG_INFO, "sched", "%s %d joined: %s pid %d numa %d cpuset %s "
           "threads %d via %s", p->role == ROLE_WORKER ? "worker" : "client",
           p->id, p->host, p->pid, p->numa, p->cpuset, p->nthreads,
           p->route.ep == LNET_SHM ? "shm" : "net");
    wire_wr *o = out_to(s, p);
    wire_rec_begin(o, REC_WELCOME);
    wire_put_u32(o, (uint32_t)p->id);
    wire_put_u32(o, (uint32_t)(s->o->heartbeat_ms ? s->o->heartbeat_ms : 500));
    wire_rec_end(o);
    /* workers know everyone; clients know the workers */
    for (int i = 1; i < s->npeers; i++) {
        speer *q = peer(s, i);
        if (!q || q == p || q->state != P_AUTHED)
            continue;
        if (p->role == ROLE_WORKER || q->role == ROLE_WORKER)
            announce(s, p, q);
        if (q->role == ROLE_WORKER || p->role == ROLE_WORKER)
            announce(s, q, p);
    }
    if (p->role == ROLE_WORKER) {
        for (int i = 0; i < s->nlibs; i++) {
            wire_rec_begin(o, REC_LOAD_LIB);
            wire_put_u64(o, 0);
            wire_put_str(o, s->libs[i]);
            wire_rec_end(o);
        }
        refill(s, p);
        dash_feed_worker(s, p);
    }
}

/* ---- the loop ------------------------------------------------------------------- */

/* A handshake message: HELLO only. */
static void on_handshake(sched *s, lnet_in *in)
{
    wire_rd r;
    int type, rc;
    while ((rc = wire_next(&in->rd, &type, &r)) == 1) {
        if (type == REC_HELLO) {
            on_hello(s, in->ep, in->hdr.sid, &r);
        } else {
            s->dropped++;
            lc_log(LC_LOG_WARN, "sched", "%s outside a session dropped",
                   wire_rec_name(type));
        }
    }
}

/* The in-order records of one peer's session. */
static void on_message(sched *s, lnet_in *in)
{
    wire_rd r;
    int type;
    speer *p = in->sess->user;
    int id = p ? p->id : -1;
    int rc;
    while ((rc = wire_next(&in->rd, &type, &r)) == 1) {
        if (!p || p->state == P_GONE) {
            s->dropped++;
            lc_log(LC_LOG_DEBUG, "sched", "%s after goodbye dropped",
                   wire_rec_name(type));
            continue;
        }
        p->last_seen = lc_now_ns();
        if (p->state == P_CHALLENGED) {
            if (type == REC_AUTH)
                on_auth(s, p, &r);
            else {
                s->dropped++;
                lc_log(LC_LOG_WARN, "sched", "%s before authentication "
                       "dropped", wire_rec_name(type));
            }
            continue;
        }
        int client = p->role == ROLE_CLIENT, wk = p->role == ROLE_WORKER;
        switch (type) {
        case REC_SUBMIT:
            if (client)
                on_submit(s, p, &r);
            break;
        case REC_RELEASE:
            if (client)
                on_release(s, p, &r);
            break;
        case REC_CANCEL:
            if (client)
                on_cancel(s, p, &r);
            break;
        case REC_REQUIRE:
            if (client)
                on_require(s, p, &r);
            break;
        case REC_WORKERS_REQ:
            if (client)
                on_workers_req(s, p, &r);
            break;
        case REC_DONE:
            if (wk)
                on_done(s, p, &r);
            break;
        case REC_LIB_LOADED:
            if (wk)
                on_lib_loaded(s, p, &r);
            break;
        case REC_HEARTBEAT:
            on_heartbeat(s, p, &r);
            break;
        case REC_BYE: {
            /* everything it sent before is processed: confirm, and keep
               the session until the confirmation is acknowledged */
            wire_wr *o = out_to(s, p);
            wire_rec_begin(o, REC_GOODBYE);
            wire_rec_end(o);
            peer_gone(s, p, "said goodbye");
            return;
        }
        default:
            s->dropped++;
            lc_log(LC_LOG_WARN, "sched", "unexpected %s from peer %d "
                   "dropped", wire_rec_name(type), p->id);
        }
    }
    if (rc < 0) {
        s->dropped++;
        lc_log(LC_LOG_WARN, "sched", "rest of message from peer %d dropped: "
               "%s", id, locus_last_error());
    }
}

/* What the session layer dropped, logged when it changes (at most once a
   second): a warning when something was forged or malformed. */
static void report_drops(sched *s, uint64_t now)
{
    lnet_stats *st = &s->net.st;
    uint64_t odd = st->bad_header + st->no_session + st->bad_mac +
                   st->out_of_window;
    uint64_t all = odd + st->duplicates;
    if (all == s->drops_told || now - s->drops_ns < 1000000000ull)
        return;
    lc_log(odd != s->odd_told ? LC_LOG_WARN : LC_LOG_INFO, "sched",
           "dropped so far: %llu bad headers, %llu without a session, %llu "
           "bad MACs, %llu duplicates, %llu out of window",
           (unsigned long long)st->bad_header,
           (unsigned long long)st->no_session,
           (unsigned long long)st->bad_mac,
           (unsigned long long)st->duplicates,
           (unsigned long long)st->out_of_window);
    s->drops_told = all;
    s->odd_told = odd;
    s->drops_ns = now;
}

static void check_liveness(sched *s, uint64_t now)
{
    report_drops(s, now);
    /* idle for a second after work: give freed memory back to the system
       (glibc keeps it otherwise; a long-lived scheduler must not grow) */
    if (s->busy_ns && now - s->busy_ns > 1000000000ull) {
        malloc_trim(0);
        s->busy_ns = 0;
    }
    uint64_t dead = (uint64_t)(s->o->dead_after_ms ? s->o->dead_after_ms
                                                   : 10000) * 1000000ull;
    for (int i = 1; i < s->npeers; i++) {
        speer *p = peer(s, i);
        if (p && p->state == P_GONE) {
            reap_peer(s, p);
            continue;
        }
        if (!p)
            continue;
        uint64_t limit = p->state == P_CHALLENGED ? 10000000000ull : dead;
        if (now - p->last_seen > limit) {
            peer_gone(s, p, p->state == P_CHALLENGED
                                ? "did not authenticate in time"
                                : "no heartbeat");
            end_session(s, p, 0);
        }
    }
}

static void shutdown_peers(sched *s, const char *why)
{
    for (int i = 1; i < s->npeers; i++) {
        speer *p = peer(s, i);
        if (!p || p->state != P_AUTHED)
            continue;
        wire_wr *o = out_to(s, p);
        wire_rec_begin(o, REC_SHUTDOWN);
        wire_put_str(o, why);
        wire_rec_end(o);
    }
    lnet_flush(&s->net);
}

static int make_job_id(char *buf, size_t len)
{
    uint8_t rnd[8];
    char hex[17];
    auth_random(rnd, sizeof(rnd));
    auth_to_hex(rnd, sizeof(rnd), hex);
    snprintf(buf, len, "%lld-%s", (long long)time(NULL), hex);
    return 0;
}

int sched_run(const struct sched_opts *o, volatile sig_atomic_t *stop)
{
    int rc = 0;
    sched s;
    memset(&s, 0, sizeof(s));
    s.o = o;
    lc_map_init(&s.tasks);
    lc_map_init(&s.by_sid);
    int wrote = 0;
    LC_CHECK(o->file && *o->file, out, rc, LOCUS_EINVAL, "sched",
             "no scheduler file path given (--scheduler-file)");
    LC_CHECK_RC(auth_init(), out, rc);
    LC_CHECK_RC(lnet_open(&s.net, o->provider, o->bind, o->port, o->no_shm),
                out, rc);
    s.net.self = LNET_SCHED_ID;
    s.net.dead_ms = o->dead_after_ms ? o->dead_after_ms : 10000;
    /* peer ids start at 1 */
    LC_CHECK(new_peer(&s), out, rc, LOCUS_ENOMEM, "sched", "no memory");
    s.peers[0]->state = P_GONE;

    make_job_id(s.sf.job_id, sizeof(s.sf.job_id));
    auth_random(s.sf.key, AUTH_KEY_LEN);
    snprintf(s.sf.provider, sizeof(s.sf.provider), "%s",
             xport_provider(s.net.ep[LNET_NET]));
    snprintf(s.sf.net_addr, sizeof(s.sf.net_addr), "%s",
             s.net.name[LNET_NET]);
    snprintf(s.sf.shm_addr, sizeof(s.sf.shm_addr), "%s",
             s.net.name[LNET_SHM]);
    snprintf(s.sf.host, sizeof(s.sf.host), "%s", lc_hostname());
    s.sf.pid = (int)getpid();
    s.sf.started = (int64_t)time(NULL);
    {
        struct dash_opts dopt = DASH_OPTS_INIT;
        dopt.listen = o->dashboard;
        dopt.http = !o->no_dashboard;
        dopt.token_required = o->dashboard_token;
        dopt.trace = getenv("LOCUS_TRACE");
        if (dash_open(&dopt, &s.dash) != 0)
            lc_log(LC_LOG_WARN, "sched", "running without a dashboard: %s",
                   locus_last_error());
        snprintf(s.sf.dashboard, sizeof(s.sf.dashboard), "%s",
                 dash_url(s.dash));
    }
    LC_CHECK_RC(schedfile_write(o->file, &s.sf), out, rc);
    wrote = 1;
    lc_log(LC_LOG_INFO, "sched", "job %s listening on %s (%s), shm %s; "
           "scheduler file %s", s.sf.job_id, s.net.name[LNET_NET],
           s.sf.provider, s.sf.shm_addr[0] ? s.sf.shm_addr : "off", o->file);

    lnet_in in[64];
    uint64_t last_check = lc_now_ns();
    while (!*stop) {
        int n = lnet_poll(&s.net, in, 64);
        for (int i = 0; i < n; i++) {
            if (in[i].kind == LNET_IN_MSG) {
                on_message(&s, &in[i]);
            } else if (in[i].kind == LNET_IN_HANDSHAKE) {
                on_handshake(&s, &in[i]);
            } else if (in[i].kind == LNET_IN_BROKEN) {
                speer *p = in[i].sess->user;
                if (p) {
                    peer_gone(&s, p, "its session is broken (messages not "
                              "acknowledged)");
                    end_session(&s, p, 0);
                }
            }
            lnet_done(&s.net, &in[i]);
        }
        int backlog = lnet_flush(&s.net);
        uint64_t now = lc_now_ns();
        if (now - last_check > 200000000ull) {
            check_liveness(&s, now);
            lnet_flush(&s.net);
            dash_feed_tick(&s);
            last_check = now;
        }
        if (n == 0)
            lnet_wait(&s.net, 50, backlog ? 1 : 200);
    }
    shutdown_peers(&s, "scheduler stopped");
    for (int tries = 0; tries < 100; tries++) {
        int n = lnet_poll(&s.net, in, 64);
        for (int i = 0; i < n; i++)
            lnet_done(&s.net, &in[i]);
        int busy = lnet_flush(&s.net);
        for (int i = 1; i < s.npeers && !busy; i++)
            busy = s.peers[i] && s.peers[i]->state == P_AUTHED &&
                   s.peers[i]->sess && !lnet_sess_idle(s.peers[i]->sess);
        if (!busy)
            break;
        lnet_wait(&s.net, 0, 10);
    }
    lnet_stats *st = &s.net.st;
    lc_log(LC_LOG_INFO, "sched", "messages in %llu, out %llu, sent again "
           "%llu; dropped: %llu bad headers, %llu without a session, %llu "
           "bad MACs, %llu duplicates, %llu out of window",
           (unsigned long long)st->msgs_in, (unsigned long long)st->msgs_out,
           (unsigned long long)st->resent,
           (unsigned long long)st->bad_header,
           (unsigned long long)st->no_session,
           (unsigned long long)st->bad_mac,
           (unsigned long long)st->duplicates,
           (unsigned long long)st->out_of_window);
    lc_log(LC_LOG_INFO, "sched", "stopping (%llu malformed or unauthenticated "
           "messages dropped)", (unsigned long long)s.dropped);
out:
    if (wrote)
        unlink(o->file);
    dash_close(s.dash);
    {
        size_t it = 0;
        uint64_t k;
        void *v;
        while (lc_map_next(&s.tasks, &it, &k, &v))
            task_free(v);
        lc_map_free(&s.tasks);
    }
    for (int i = 0; i < s.npeers; i++)
        free(s.peers[i]);
    free(s.peers);
    lc_map_free(&s.by_sid);
    free(s.freeq);
    for (int i = 0; i < s.nlibs; i++)
        free(s.libs[i]);
    free(s.libs);
    while (s.lib_reqs) {
        lib_req *q = s.lib_reqs;
        s.lib_reqs = q->next;
        free(q);
    }
    lnet_close(&s.net);
    return rc;
}

/*
 * Client library.  User threads encode their records (SUBMIT, RELEASE,
 * CANCEL...) straight into a pending buffer under the client's mutex; the
 * progress thread, which alone owns the endpoints, sends that buffer to the
 * scheduler as few messages as possible, reads RESULT records into futures,
 * and fetches large values from the worker that holds them (GET, then
 * inline bytes or an fi_read of the worker's registered memory).
 */
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

enum { F_PENDING, F_DONE, F_ERROR };
enum { C_HELLO, C_AUTH, C_JOINED, C_CLOSED };

#define SEND_TIMEOUT_MS 5000
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
    wire_wr pending;       /* user threads -> scheduler (under mu) */
    lc_map futures;        /* key -> future (under mu) */
    uint64_t seq;
    struct locus_future *fetchq; /* futures whose value must be fetched */
    creq *reqs;
    uint64_t next_req;
    int state;
    char why[512];
    atomic_int stop;
    int sleeping;
    int bye_confirmed;      /* the scheduler processed our goodbye */
    /* progress thread only */
    ljoin join;
    cpeer *peers;
    int cappeers;
    lc_map gets;           /* request id -> future */
    arena *arena;           /* big arguments (under mu) */
    lc_map puts;            /* object key -> put_obj (under mu) */
    uint64_t put_seq;
};

static int deadline_of(const locus_client *c, int timeout_ms)
{
    return timeout_ms < 0 ? c->timeout_ms : timeout_ms;
}

static void wake(locus_client *c)
{
    if (c->sleeping)
        lnet_wake(&c->net);
}

/* Wait on the client's condition variable until deadline; 0 or ETIMEDOUT. */
static int cv_wait(locus_client *c, uint64_t deadline)
{
    if (deadline == LC_DEADLINE_NONE) {
        pthread_cond_wait(&c->cv, &c->mu);
        return 0;
    }
    uint64_t now = lc_now_ns();
    if (now >= deadline)
        return ETIMEDOUT;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t left = deadline - now;
    ts.tv_sec += (time_t)(left / 1000000000ull);
    ts.tv_nsec += (long)(left % 1000000000ull);
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return pthread_cond_timedwait(&c->cv, &c->mu, &ts);
}

/* under mu: the task finished, its big arguments are not needed */
static void drop_puts(locus_client *c, struct locus_future *f)
{
    for (int i = 0; i < f->nputs; i++) {
        put_obj *p = lc_map_del(&c->puts, f->puts[i]);
        if (p) {
            arena_free(c->arena, p->data);
            free(p);
        }
    }
    free(f->puts);
    f->puts = NULL;
    f->nputs = 0;
}

static void close_client(locus_client *c, const char *why)
{
    /* under mu */
    if (c->state == C_CLOSED)
        return;
    c->state = C_CLOSED;
    snprintf(c->why, sizeof(c->why), "%s", why);
    size_t it = 0;
    uint64_t k;
    void *v;
    while (lc_map_next(&c->futures, &it, &k, &v)) {
        struct locus_future *f = v;
        if (atomic_load(&f->state) == F_PENDING) {
            f->status = LOCUS_ECLOSED;
            free(f->errmsg);
            f->errmsg = strdup(why);
            atomic_store(&f->state, F_ERROR);
        }
        if (f->fetching) {
            f->fetching = 0;
            f->fetch_status = LOCUS_ECLOSED;
        }
    }
    for (creq *q = c->reqs; q; q = q->next)
        if (!q->done) {
            q->done = 1;
            q->status = LOCUS_ECLOSED;
            snprintf(q->msg, sizeof(q->msg), "%s", why);
        }
    pthread_cond_broadcast(&c->cv);
}

/* ---- progress thread ----------------------------------------------------------- */

static cpeer *cpeer_get(locus_client *c, int id)
{
    return id > 0 && id < c->cappeers && c->peers[id].id == id
               ? &c->peers[id]
               : NULL;
}

static void on_peer(locus_client *c, wire_rd *r)
{
    rec_peer rp;
    if (rec_get_peer(r, &rp) != 0 || rp.role != ROLE_WORKER)
        return;
    int id = (int)rp.id;
    if (id >= c->cappeers) {
        int ncap = c->cappeers ? c->cappeers : 64;
        while (ncap <= id)
            ncap *= 2;
        cpeer *np = realloc(c->peers, (size_t)ncap * sizeof(*np));
        if (!np)
            return;
        c->peers = np;
        for (int i = c->cappeers; i < ncap; i++)
            memset(&c->peers[i], 0, sizeof(c->peers[i]));
        c->cappeers = ncap;
    }
    lnet_route rt;
    if (lnet_route_to(&c->net, rp.host, rp.net, rp.shm, &rt) != 0) {
        lc_log(LC_LOG_WARN, "client", "cannot reach worker %d: %s", id,
               locus_last_error());
        return;
    }
    uint8_t ktx[AUTH_KEY_LEN], krx[AUTH_KEY_LEN];
    uint64_t psid;
    lnet_keys_pair(c->sf.key, c->join.id, c->join.sid, rp.id, rp.sid, ktx,
                   krx, &psid);
    lsess *ps = lnet_sess_open(&c->net, rp.id, psid, ktx, krx, rt);
    if (!ps) {
        lnet_unroute(&c->net, rt);
        return;
    }
    c->peers[id].id = id;
    c->peers[id].route = rt;
    c->peers[id].sess = ps;
    c->peers[id].same_host = !strcmp(rp.host, lc_hostname()) &&
                             !getenv("LOCUS_NO_MAP");
    c->peers[id].no_map = 0;
}

static void on_result(locus_client *c, wire_rd *r)
{
    uint64_t key = wire_get_u64(r);
    int status = wire_get_i32(r);
    int wk = (int)wire_get_u32(r);
    uint64_t nbytes = wire_get_u64(r);
    uint8_t inl = wire_get_u8(r);
    size_t n;
    const void *p = wire_get_bytes(r, &n);
    if (!wire_rd_ok(r))
        return;
    pthread_mutex_lock(&c->mu);
    struct locus_future *f = lc_map_get(&c->futures, key);
    if (f)
        drop_puts(c, f);
    if (f && status == 0 && atomic_load(&f->state) == F_DONE) {
        /* computed again after its worker died: it lives elsewhere now */
        f->worker = wk;
        f->nbytes = nbytes;
    }
    if (f && atomic_load(&f->state) == F_PENDING) {
        f->status = status;
        f->worker = wk;
        f->nbytes = nbytes;
        if (status == 0) {
            if (inl) {
                f->data = malloc(n ? n : 1);
                if (f->data) {
                    memcpy(f->data, p, n);
                    f->len = n;
                    f->have_data = 1;
                }
            } else if (nbytes == 0) {
                f->have_data = 1;
            }
            atomic_store(&f->state, F_DONE);
        } else {
            f->errmsg = strndup(p ? p : "", n);
            atomic_store(&f->state, F_ERROR);
        }
        pthread_cond_broadcast(&c->cv);
    }
    pthread_mutex_unlock(&c->mu);
}

static void on_require_done(locus_client *c, wire_rd *r, int type)
{
    uint64_t id = wire_get_u64(r);
    if (!wire_rd_ok(r))
        return;
    pthread_mutex_lock(&c->mu);
    for (creq *q = c->reqs; q; q = q->next) {
        if (q->id != id)
            continue;
        if (type == REC_REQUIRE_DONE) {
            q->status = wire_get_i32(r);
            wire_get_str(r, q->msg, sizeof(q->msg));
        } else {
            size_t left = wire_rd_left(r);
            q->payload = malloc(left ? left : 1);
            if (q->payload) {
                memcpy(q->payload, r->p + r->off, left);
                q->len = left;
            } else {
                q->status = LOCUS_ENOMEM;
            }
        }
        if (!wire_rd_ok(r))
            q->status = LOCUS_EPROTO;
        q->done = 1;
        pthread_cond_broadcast(&c->cv);
    }
    pthread_mutex_unlock(&c->mu);
}

static void fetch_done(locus_client *c, struct locus_future *f, int status,
                       const char *msg)
{
    pthread_mutex_lock(&c->mu);
    f->fetching = 0;
    f->fetch_status = status;
    if (status) {
        free(f->errmsg);
        f->errmsg = strdup(msg ? msg : locus_strerror(status));
    } else {
        f->have_data = 1;
    }
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

static void send_gets(locus_client *c, struct locus_future *list);

static void on_data(locus_client *c, int ep, wire_rd *r)
{
    rec_data d;
    int bad = rec_get_data(r, &d) != 0;
    struct locus_future *f = lc_map_del(&c->gets, d.req);
    if (!f)
        return;
    if (bad || d.status) {
        char msg[512];
        snprintf(msg, sizeof(msg), "fetching the value from worker %d: %.*s",
                 f->worker, bad ? 9 : (int)d.nbytes_inline,
                 bad ? "malformed" : d.bytes ? (const char *)d.bytes : "");
        fetch_done(c, f, bad ? LOCUS_EPROTO : d.status, msg);
        return;
    }
    void *buf = malloc(d.nbytes ? d.nbytes : 1);
    if (!buf) {
        fetch_done(c, f, LOCUS_ENOMEM, "out of memory for the value");
        return;
    }
    if (d.mode == DATA_SHM) {
        /* same host: copy straight out of the worker's segment */
        arena_map *m = NULL;
        const void *base;
        if (arena_map_open(d.segment, d.seg_len, d.dedicated, &m, &base) !=
            0) {
            free(buf);
            cpeer *w = cpeer_get(c, f->worker);
            if (w) { /* not mappable here: ask for RMA */
                w->no_map = 1;
                f->fetch_next = NULL;
                send_gets(c, f);
                return;
            }
            fetch_done(c, f, LOCUS_ELOST, "the worker holding the value is "
                       "gone");
            return;
        }
        memcpy(buf, (const uint8_t *)base + d.offset, d.nbytes);
        arena_map_release(m);
    } else if (d.mode == DATA_INLINE) {
        if (d.nbytes)
            memcpy(buf, d.bytes, d.nbytes);
    }
    pthread_mutex_lock(&c->mu);
    f->data = buf;
    f->len = d.nbytes;
    pthread_mutex_unlock(&c->mu);
    if (d.mode != DATA_RMA) {
        fetch_done(c, f, 0, NULL);
        return;
    }
    cpeer *w = cpeer_get(c, f->worker);
    if (!w || w->route.ep != ep) {
        fetch_done(c, f, LOCUS_EPROTO, "bad RMA descriptor");
        return;
    }
    if (lc_map_put(&c->gets, d.req, f) != 0) {
        fetch_done(c, f, LOCUS_ENOMEM, "out of memory");
        return;
    }
    int rc = xport_read(c->net.ep[ep], w->route.addr, buf, d.nbytes, NULL,
                        &d.rk, 0, (void *)(uintptr_t)d.req);
    if (rc) {
        lc_map_del(&c->gets, d.req);
        fetch_done(c, f, rc, locus_last_error());
    }
}

static void on_read_event(locus_client *c, xport_event *ev)
{
    uint64_t req = (uint64_t)(uintptr_t)ev->ctx;
    struct locus_future *f = lc_map_del(&c->gets, req);
    if (!f)
        return;
    if (ev->kind == XPORT_EV_READ_ERROR)
        fetch_done(c, f, ev->status, "RMA read of the value failed");
    else
        fetch_done(c, f, 0, NULL);
}

/* A worker fetches a big argument of ours. */
static void on_get(locus_client *c, cpeer *w, wire_rd *r)
{
    uint64_t req, key;
    int may_map;
    if (rec_get_get(r, &req, &key, &may_map) != 0)
        return;
    wire_wr *o = lnet_out(&c->net, w->sess);
    rec_data d;
    memset(&d, 0, sizeof(d));
    d.req = req;
    pthread_mutex_lock(&c->mu);
    put_obj *p = lc_map_get(&c->puts, key);
    arena_loc loc;
    int rc = 0;
    if (!p) {
        rec_put_data_error(o, req, LOCUS_ENOENT, "the client no longer holds "
                           "that argument (its future was released)");
    } else if (may_map && arena_locate(c->arena, p->data, &loc) == 0) {
        d.nbytes = p->len;
        d.mode = DATA_SHM;
        snprintf(d.segment, sizeof(d.segment), "%s", loc.name);
        d.seg_len = loc.seg_len;
        d.offset = loc.offset;
        d.dedicated = (uint8_t)loc.dedicated;
        rec_put_data(o, &d);
    } else if ((rc = arena_rkey(c->arena, w->route.ep, c->net.ep[w->route.ep],
                                p->data, p->len, &d.rk)) == 0) {
        d.nbytes = p->len;
        d.mode = DATA_RMA;
        rec_put_data(o, &d);
    } else {
        rec_put_data_error(o, req, rc, locus_last_error());
    }
    pthread_mutex_unlock(&c->mu);
}

static void close_locked(locus_client *c, const char *why)
{
    pthread_mutex_lock(&c->mu);
    close_client(c, why);
    pthread_mutex_unlock(&c->mu);
}

/* A worker is gone: close its session; values being fetched from it will
   not come. */
static void worker_gone(locus_client *c, int id)
{
    cpeer *p = cpeer_get(c, id);
    if (!p)
        return;
    lnet_sess_close(&c->net, p->sess);
    lnet_unroute(&c->net, p->route);
    p->sess = NULL;
    p->id = 0;
    struct locus_future *gone[64];
    int ngone;
    do {
        ngone = 0;
        size_t it = 0;
        uint64_t k;
        void *v;
        while (ngone < 64 && lc_map_next(&c->gets, &it, &k, &v))
            if (((struct locus_future *)v)->worker == id) {
                lc_map_del(&c->gets, k);
                gone[ngone++] = v;
            }
        for (int i = 0; i < ngone; i++)
            fetch_done(c, gone[i], LOCUS_ELOST,
                       "the worker holding the value died");
    } while (ngone == 64);
}

/* In-order records of the scheduler's session. */
static void on_sched_message(locus_client *c, lnet_in *in)
{
    wire_rd r;
    int type;
    while (wire_next(&in->rd, &type, &r) == 1) {
        if (c->join.state != LJ_JOINED && type != REC_WELCOME)
            continue;
        switch (type) {
        case REC_WELCOME:
            if (ljoin_on_welcome(&c->join, &r) != 0) {
                close_locked(c, locus_last_error());
                return;
            }
            pthread_mutex_lock(&c->mu);
            c->id = (int)c->join.id;
            c->heartbeat_ms = c->join.heartbeat_ms;
            c->state = C_JOINED;
            pthread_cond_broadcast(&c->cv);
            pthread_mutex_unlock(&c->mu);
            break;
        case REC_RESULT:
            on_result(c, &r);
            break;
        case REC_REQUIRE_DONE:
        case REC_WORKERS:
            on_require_done(c, &r, type);
            break;
        case REC_PEER:
            on_peer(c, &r);
            break;
        case REC_PEER_GONE: {
            int id = (int)wire_get_u32(&r);
            if (wire_rd_ok(&r))
                worker_gone(c, id);
            break;
        }
        case REC_GOODBYE:
            c->bye_confirmed = 1;
            break;
        case REC_SHUTDOWN: {
            char why[256], m[300];
            wire_get_str(&r, why, sizeof(why));
            snprintf(m, sizeof(m), "scheduler shut down: %s", why);
            close_locked(c, m);
            return;
        }
        default:
            break;
        }
    }
}

static void handle_input(locus_client *c, lnet_in *in)
{
    if (in->kind == LNET_IN_HANDSHAKE) {
        if (ljoin_on_handshake(&c->join, &c->net, &c->sf, in) != 0)
            close_locked(c, locus_last_error());
    } else if (in->kind == LNET_IN_READ) {
        on_read_event(c, &in->ev);
    } else if (in->kind == LNET_IN_BROKEN) {
        if (in->sess == c->join.sess)
            close_locked(c, "the scheduler is gone: it has acknowledged "
                            "nothing for 10 s");
    } else if (in->kind == LNET_IN_MSG && in->sess == c->join.sess) {
        on_sched_message(c, in);
    } else if (in->kind == LNET_IN_MSG) {
        cpeer *w = cpeer_get(c, (int)in->sess->peer);
        wire_rd r;
        int type;
        while (w && wire_next(&in->rd, &type, &r) == 1) {
            if (type == REC_DATA)
                on_data(c, in->ep, &r);
            else if (type == REC_GET)
                on_get(c, w, &r);
        }
    }
}

static void send_gets(locus_client *c, struct locus_future *list)
{
    while (list) {
        struct locus_future *f = list;
        list = f->fetch_next;
        f->fetch_next = NULL;
        cpeer *w = cpeer_get(c, f->worker);
        if (!w) {
            char m[128];
            snprintf(m, sizeof(m), "worker %d that holds the value is not "
                     "connected", f->worker);
            fetch_done(c, f, LOCUS_ELOST, m);
            continue;
        }
        uint64_t req = ++c->next_req | (1ull << 62);
        if (lc_map_put(&c->gets, req, f) != 0) {
            fetch_done(c, f, LOCUS_ENOMEM, "out of memory");
            continue;
        }
        rec_put_get(lnet_out(&c->net, w->sess), req, f->key,
                    w->same_host && !w->no_map);
    }
}

static void poll_once(locus_client *c, lnet_in *in, int *n)
{
    *n = lnet_poll(&c->net, in, 64);
    for (int i = 0; i < *n; i++) {
        handle_input(c, &in[i]);
        lnet_done(&c->net, &in[i]);
    }
}

static void *progress_main(void *arg)
{
    locus_client *c = arg;
    wire_wr batch;
    wire_wr_init(&batch);
    lnet_in in[64];
    uint64_t last_hb = lc_now_ns();
    while (!atomic_load(&c->stop)) {
        int n;
        poll_once(c, in, &n);
        pthread_mutex_lock(&c->mu);
        int joined = c->state == C_JOINED;
        struct locus_future *fetches = NULL;
        if (joined) {
            /* swap buffers: user threads keep appending to a fresh one */
            wire_wr tmp = c->pending;
            c->pending = batch;
            batch = tmp;
            fetches = c->fetchq;
            c->fetchq = NULL;
        }
        pthread_mutex_unlock(&c->mu);
        if (batch.nrec) {
            /* records of the batch go after the thread's own */
            wire_wr *o = lnet_out(&c->net, c->join.sess);
            wire_put_raw(o, batch.buf, batch.len);
            o->nrec += batch.nrec;
            wire_wr_reset(&batch);
        }
        ljoin_tick(&c->join, &c->net, &c->sf);
        uint64_t now = lc_now_ns();
        if (joined && now - last_hb > (uint64_t)c->heartbeat_ms * 1000000ull) {
            wire_wr *o = lnet_out(&c->net, c->join.sess);
            wire_rec_begin(o, REC_HEARTBEAT);
            wire_put_u32(o, 0);
            wire_put_u32(o, 0);
            wire_put_u64(o, 0);
            for (int k = 0; k < WIRE_NCOUNTERS; k++)
                wire_put_u64(o, 0);
            wire_rec_end(o);
            last_hb = now;
        }
        if (fetches)
            send_gets(c, fetches);
        int backlog = lnet_flush(&c->net);
        if (n == 0) {
            pthread_mutex_lock(&c->mu);
            int idle = c->pending.nrec == 0 && !c->fetchq && !backlog;
            if (idle)
                c->sleeping = 1;
            pthread_mutex_unlock(&c->mu);
            if (idle)
                lnet_wait(&c->net, 50, c->heartbeat_ms > 0 ? c->heartbeat_ms
                                                           : 200);
            else if (backlog)
                lnet_wait(&c->net, 0, 1);
            pthread_mutex_lock(&c->mu);
            c->sleeping = 0;
            pthread_mutex_unlock(&c->mu);
        }
    }
    /* goodbye: everything sent before it is processed first, then the
       scheduler releases whatever we still hold and confirms */
    if (c->state == C_JOINED && c->join.sess) {
        wire_wr *o = lnet_out(&c->net, c->join.sess);
        pthread_mutex_lock(&c->mu);
        if (c->pending.nrec) {
            wire_put_raw(o, c->pending.buf, c->pending.len);
            o->nrec += c->pending.nrec;
            wire_wr_reset(&c->pending);
        }
        pthread_mutex_unlock(&c->mu);
        wire_rec_begin(o, REC_BYE);
        wire_rec_end(o);
        uint64_t until = lc_deadline_ms(c->timeout_ms);
        while (!c->bye_confirmed && c->state == C_JOINED &&
               !lc_expired(until)) {
            lnet_flush(&c->net);
            int n;
            poll_once(c, in, &n);
            if (n == 0 && !c->bye_confirmed)
                lnet_wait(&c->net, 20, 10);
        }
        /* acknowledge the GOODBYE, so that the scheduler can forget us */
        if (c->join.sess) {
            c->join.sess->ack_due = lc_now_ns();
            lnet_out(&c->net, c->join.sess);
            lnet_flush(&c->net);
        }
    }
    wire_wr_free(&batch);
    return NULL;
}

/* ---- connecting --------------------------------------------------------------- */

static void client_free(locus_client *c)
{
    size_t it = 0;
    uint64_t k;
    void *v;
    while (lc_map_next(&c->futures, &it, &k, &v)) {
        struct locus_future *f = v;
        free(f->data);
        free(f->errmsg);
        free(f->puts);
        free(f);
    }
    lc_map_free(&c->futures);
    it = 0;
    while (lc_map_next(&c->puts, &it, &k, &v))
        free(v); /* their memory goes with the arena */
    lc_map_free(&c->puts);
    arena_destroy(c->arena);
    lc_map_free(&c->gets);
    while (c->reqs) {
        creq *q = c->reqs;
        c->reqs = q->next;
        free(q->payload);
        free(q);
    }
    free(c->peers);
    wire_wr_free(&c->pending);
    lnet_close(&c->net);
    arena_map_forget("/locus-"); /* cached mappings of workers' segments */
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->cv);
    free(c);
}

int locus_connect(const char *target, const struct locus_connect_opts *opts,
                  locus_client **out)
{
    int rc = 0;
    locus_client *c = NULL;
    lc_clearerr();
    LC_CHECK(out, fail, rc, LOCUS_EINVAL, "client", "locus_connect: out is "
             "NULL");
    *out = NULL;
    LC_CHECK(!opts || opts->size == sizeof(*opts), fail, rc, LOCUS_EINVAL,
             "client", "locus_connect: opts->size is %zu, expected %zu "
             "(use LOCUS_CONNECT_OPTS_INIT)", opts ? opts->size : 0,
             sizeof(*opts));
    LC_CHECK(!opts || (opts->flags & ~LOCUS_CONNECT_NO_SHM) == 0, fail, rc,
             LOCUS_EINVAL, "client", "locus_connect: unknown flag bits "
             "0x%x", opts ? opts->flags & ~LOCUS_CONNECT_NO_SHM : 0);
    if (!target)
        target = getenv("LOCUS_SCHEDULER_FILE");
    LC_CHECK(target && *target, fail, rc, LOCUS_EINVAL, "client",
             "no scheduler file: pass its path or set $LOCUS_SCHEDULER_FILE");
    c = calloc(1, sizeof(*c));
    LC_CHECK(c, fail, rc, LOCUS_ENOMEM, "client", "no memory");
    pthread_mutex_init(&c->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_cond_init(&c->cv, &ca);
    pthread_condattr_destroy(&ca);
    lc_map_init(&c->futures);
    lc_map_init(&c->gets);
    lc_map_init(&c->puts);
    wire_wr_init(&c->pending);
    c->net.wake_fd = -1;
    c->timeout_ms = opts && opts->timeout_ms > 0 ? opts->timeout_ms : 30000;
    c->heartbeat_ms = 500;
    LC_CHECK_RC(auth_init(), fail, rc);
    LC_CHECK_RC(schedfile_read(target, &c->sf), fail, rc);
    {
        /* a file of another job, or one whose scheduler is gone, is
           refused at once rather than after a timeout */
        char job[128];
        schedfile_job_from_env(job, sizeof(job));
        LC_CHECK_RC(schedfile_check(&c->sf, target, job), fail, rc);
    }
    char bind[LC_IFACE_ADDR_MAX] = "";
    LC_CHECK_RC(lc_bind_resolve(opts ? opts->bind : NULL, NULL, bind,
                                sizeof(bind)),
                fail, rc);
    if (!bind[0]) {
        /* by default, the address from which the scheduler is reachable:
           loopback for a scheduler on loopback, the right interface for
           one on another host */
        char hp[64], *colon;
        snprintf(hp, sizeof(hp), "%s", c->sf.net_hostport);
        if ((colon = strrchr(hp, ':')) != NULL && hp[0] != '[') {
            *colon = '\0';
            if (strncmp(hp, "127.", 4) != 0 &&
                lc_bind_for_peer(hp, bind, sizeof(bind)) != 0)
                bind[0] = '\0'; /* no route known: the default */
        }
    }
    LC_CHECK_RC(lnet_open(&c->net, opts && opts->provider ? opts->provider
                                                          : c->sf.provider,
                          bind[0] ? bind : NULL, NULL,
                          opts && (opts->flags & LOCUS_CONNECT_NO_SHM)),
                fail, rc);
    LC_CHECK_RC(lnet_route_to(&c->net, c->sf.host, c->sf.net_addr,
                              c->sf.shm_addr, &c->sched),
                fail, rc);
    ljoin_init(&c->join, &c->net, &c->sf, c->sched, ROLE_CLIENT, -1, "", 0);
    uint64_t dl = lc_deadline_ms(c->timeout_ms);
    int e = pthread_create(&c->thr, NULL, progress_main, c);
    LC_CHECK(e == 0, fail, rc, LOCUS_ESYS, "client", "pthread_create: %s",
             strerror(e));
    c->thr_started = 1;
    pthread_mutex_lock(&c->mu);
    while (c->state != C_JOINED && c->state != C_CLOSED)
        if (cv_wait(c, dl) == ETIMEDOUT)
            break;
    int st = c->state;
    char why[512];
    snprintf(why, sizeof(why), "%s", c->why);
    pthread_mutex_unlock(&c->mu);
    if (st == C_CLOSED) {
        rc = lc_seterr(strstr(why, "key") || strstr(why, "auth")
                           ? LOCUS_EAUTH
                           : LOCUS_ECLOSED,
                       "client", "connecting to %s: %s", target, why);
        goto fail;
    }
    LC_CHECK(st == C_JOINED, fail, rc, LOCUS_ETIMEDOUT, "client",
             "the scheduler at %s (from %s) did not answer within %d ms; "
             "is it running?", c->sf.net_addr, target, c->timeout_ms);
    *out = c;
    return 0;
fail:
    if (c) {
        if (c->thr_started) {
            atomic_store(&c->stop, 1);
            lnet_wake(&c->net);
            pthread_join(c->thr, NULL);
        }
        client_free(c);
    }
    return rc;
}

int locus_disconnect(locus_client *c)
{
    if (!c)
        return lc_seterr(LOCUS_EINVAL, "client", "locus_disconnect: NULL "
                         "client");
    pthread_mutex_lock(&c->mu);
    size_t left = c->futures.n;
    pthread_mutex_unlock(&c->mu);
    if (left)
        lc_log(LC_LOG_INFO, "client", "disconnecting with %zu futures not "
               "released; the cluster frees their data", left);
    pthread_mutex_lock(&c->mu);
    int was_joined = c->state == C_JOINED;
    pthread_mutex_unlock(&c->mu);
    atomic_store(&c->stop, 1);
    lnet_wake(&c->net);
    pthread_join(c->thr, NULL);
    int rc = 0;
    if (was_joined && !c->bye_confirmed)
        rc = lc_seterr(LOCUS_ETIMEDOUT, "client", "the scheduler did not "
                       "confirm our goodbye within %d ms (it frees our data "
                       "when it declares us gone)", c->timeout_ms);
    client_free(c);
    return rc;
}

/* ---- requests that wait for an answer ------------------------------------ */

static int check_open(locus_client *c);

/* Lock the client, register a request waiting for its answer and begin its
   record (type, then the request id): the caller adds its fields, ends the
   record, waits with req_wait and unlocks.  On error nothing is held. */
static int req_begin(locus_client *c, int type, creq **out)
{
    pthread_mutex_lock(&c->mu);
    int rc = check_open(c);
    creq *q = rc ? NULL : calloc(1, sizeof(*q));
    if (!rc && !q)
        rc = lc_seterr(LOCUS_ENOMEM, "client", "no memory");
    if (rc) {
        pthread_mutex_unlock(&c->mu);
        return rc;
    }
    q->id = ++c->next_req;
    q->next = c->reqs;
    c->reqs = q;
    wire_rec_begin(&c->pending, type);
    wire_put_u64(&c->pending, q->id);
    *out = q;
    return 0;
}

static int req_wait(locus_client *c, creq *q, int timeout_ms)
{
    /* under mu; unlinks and leaves q to the caller to free */
    uint64_t dl = lc_deadline_ms(deadline_of(c, timeout_ms));
    while (!q->done)
        if (cv_wait(c, dl) == ETIMEDOUT)
            break;
    for (creq **pp = &c->reqs; *pp; pp = &(*pp)->next)
        if (*pp == q) {
            *pp = q->next;
            break;
        }
    return q->done ? 0 : LOCUS_ETIMEDOUT;
}

static int check_open(locus_client *c)
{
    /* under mu */
    if (c->state == C_CLOSED)
        return lc_seterr(LOCUS_ECLOSED, "client", "not connected: %s",
                         c->why);
    return 0;
}

int locus_require(locus_client *c, const char *path, int timeout_ms)
{
    if (!c || !path || !*path)
        return lc_seterr(LOCUS_EINVAL, "client", "locus_require: NULL client "
                         "or empty path");
    char abs[PATH_MAX];
    if (!realpath(path, abs))
        return lc_seterr(LOCUS_ELIB, "client", "task library %s: %s", path,
                         strerror(errno));
    creq *q;
    int rc = req_begin(c, REC_REQUIRE, &q);
    if (rc)
        return rc;
    wire_put_str(&c->pending, abs);
    wire_rec_end(&c->pending);
    wake(c);
    rc = req_wait(c, q, timeout_ms);
    pthread_mutex_unlock(&c->mu);
    if (rc)
        rc = lc_seterr(rc, "client", "locus_require(%s): no answer in time",
                       abs);
    else if (q->status)
        rc = lc_seterr(q->status == LOCUS_ECLOSED ? LOCUS_ECLOSED : LOCUS_ELIB,
                       "client", "task library %s: %s", abs, q->msg);
    free(q->payload);
    free(q);
    return rc;
}

int locus_workers(locus_client *c, locus_worker_info *out, size_t max,
                  size_t *n)
{
    if (!c || !n || (max && !out))
        return lc_seterr(LOCUS_EINVAL, "client", "locus_workers: NULL "
                         "argument");
    creq *q;
    int rc = req_begin(c, REC_WORKERS_REQ, &q);
    if (rc)
        return rc;
    wire_rec_end(&c->pending);
    wake(c);
    rc = req_wait(c, q, -1);
    pthread_mutex_unlock(&c->mu);
    if (rc) {
        rc = lc_seterr(rc, "client", "locus_workers: no answer in time");
    } else if (q->status) {
        rc = lc_seterr(q->status, "client", "locus_workers: %s",
                       q->msg[0] ? q->msg : locus_strerror(q->status));
    } else {
        wire_rd r;
        wire_rd_init(&r, q->payload, q->len);
        uint32_t cnt = wire_get_u32(&r);
        *n = cnt;
        for (uint32_t i = 0; i < cnt && wire_rd_ok(&r); i++) {
            locus_worker_info wi;
            memset(&wi, 0, sizeof(wi));
            wi.id = (int)wire_get_u32(&r);
            wi.pid = (int)wire_get_u32(&r);
            wire_get_str(&r, wi.host, sizeof(wi.host));
            wi.numa_node = wire_get_i32(&r);
            wire_get_str(&r, wi.cpuset, sizeof(wi.cpuset));
            wi.nthreads = (int)wire_get_u32(&r);
            wi.running = (int)wire_get_u32(&r);
            wi.queued = (int)wire_get_u32(&r);
            wi.tasks_done = wire_get_u64(&r);
            wi.bytes_held = wire_get_u64(&r);
            wi.bytes_reserved = wire_get_u64(&r);
            wi.bytes_mapped = wire_get_u64(&r);
            wi.bytes_rma = wire_get_u64(&r);
            wi.bytes_inline = wire_get_u64(&r);
            wi.tasks_local = wire_get_u64(&r);
            wi.tasks_remote = wire_get_u64(&r);
            if (i < max)
                out[i] = wi;
        }
        if (!wire_rd_ok(&r))
            rc = lc_seterr(LOCUS_EPROTO, "client", "malformed WORKERS reply");
    }
    free(q->payload);
    free(q);
    return rc;
}

/* ---- submitting ------------------------------------------------------------------ */

/* max_args: arguments one task may take (a map's inputs are not that) */
static int check_args(const char *fn, const locus_arg *args, size_t nargs,
                      size_t max_args, const struct locus_submit_opts *opts,
                      locus_client *c)
{
    if (!fn || !*fn || strlen(fn) > 255)
        return lc_seterr(LOCUS_EINVAL, "client", "function name is empty or "
                         "longer than 255 characters");
    if (nargs && !args)
        return lc_seterr(LOCUS_EINVAL, "client", "%s: %zu arguments but args "
                         "is NULL", fn, nargs);
    if (nargs > max_args)
        return lc_seterr(LOCUS_EINVAL, "client", "%s: %zu arguments (at most "
                         "%zu)", fn, nargs, max_args);
    if (opts) {
        if (opts->size != sizeof(*opts))
            return lc_seterr(LOCUS_EINVAL, "client", "submit opts size %zu, "
                             "expected %zu (use LOCUS_SUBMIT_OPTS_INIT)",
                             opts->size, sizeof(*opts));
        if (opts->flags)
            return lc_seterr(LOCUS_EINVAL, "client", "unknown submit flag "
                             "bits 0x%x", opts->flags);
        if (opts->nworkers && !opts->workers)
            return lc_seterr(LOCUS_EINVAL, "client", "opts.nworkers is %zu "
                             "but opts.workers is NULL", opts->nworkers);
    }
    for (size_t i = 0; i < nargs; i++) {
        const locus_arg *a = &args[i];
        switch (a->kind) {
        case LOCUS_ARG_BYTES:
            if (a->len && !a->data)
                return lc_seterr(LOCUS_EINVAL, "client", "%s: argument %zu "
                                 "has %zu bytes at NULL", fn, i, a->len);
            break;
        case LOCUS_ARG_I64:
        case LOCUS_ARG_F64:
            break;
        case LOCUS_ARG_FUTURE:
            if (!a->future || a->future->c != c ||
                atomic_load(&a->future->refs) <= 0)
                return lc_seterr(LOCUS_EINVAL, "client", "%s: argument %zu is "
                                 "not a live future of this client", fn, i);
            break;
        default:
            return lc_seterr(LOCUS_EINVAL, "client", "%s: argument %zu has "
                             "unknown kind %d", fn, i, a->kind);
        }
    }
    return 0;
}

/* under mu: copy a big argument into the client's arena, for the worker
   to fetch; 0 on failure (message set) */
static uint64_t put_locked(locus_client *c, struct locus_future *f,
                           const void *data, size_t len)
{
    if (!c->arena) {
        char prefix[64];
        const char *jh = strchr(c->sf.job_id, '-');
        snprintf(prefix, sizeof(prefix), "/locus-%.16s-%dc",
                 jh ? jh + 1 : c->sf.job_id, (int)getpid());
        struct arena_opts ao = {prefix, 0};
        if (arena_create(&ao, &c->arena) != 0)
            return 0;
    }
    uint64_t *np = realloc(f->puts, (size_t)(f->nputs + 1) * sizeof(*np));
    put_obj *p = np ? malloc(sizeof(*p)) : NULL;
    if (np)
        f->puts = np;
    if (!p) {
        lc_seterr(LOCUS_ENOMEM, "client", "no memory");
        return 0;
    }
    p->len = len;
    p->data = arena_alloc(c->arena, len);
    uint64_t key = (1ull << 63) | ++c->put_seq;
    if (!p->data || lc_map_put(&c->puts, key, p) != 0) {
        if (p->data)
            arena_free(c->arena, p->data);
        free(p);
        return 0;
    }
    memcpy(p->data, data, len);
    f->puts[f->nputs++] = key;
    return key;
}

/* under mu: make a future and write its SUBMIT record */
static struct locus_future *submit_locked(locus_client *c, const char *fn,
                                          const locus_arg *args, size_t nargs,
                                          const int *workers, size_t nworkers,
                                          int retries)
{
    struct locus_future *f = calloc(1, sizeof(*f));
    if (!f)
        return NULL;
    f->c = c;
    f->key = ((uint64_t)c->id << 40) | ++c->seq;
    atomic_init(&f->refs, 1);
    atomic_init(&f->state, F_PENDING);
    f->worker = -1;
    snprintf(f->keystr, sizeof(f->keystr), "task-%d-%llu", c->id,
             (unsigned long long)c->seq);
    if (lc_map_put(&c->futures, f->key, f) != 0) {
        free(f);
        return NULL;
    }
    wire_wr *o = &c->pending;
    wire_rec_begin(o, REC_SUBMIT);
    wire_put_u64(o, f->key);
    wire_put_str(o, fn);
    wire_put_i32(o, retries);
    wire_put_u32(o, (uint32_t)nworkers);
    for (size_t i = 0; i < nworkers; i++)
        wire_put_u32(o, (uint32_t)workers[i]);
    wire_put_u32(o, (uint32_t)nargs);
    for (size_t i = 0; i < nargs; i++) {
        const locus_arg *a = &args[i];
        if (a->kind == LOCUS_ARG_FUTURE) {
            wire_put_u8(o, ARG_FUTURE);
            wire_put_u64(o, a->future->key);
        } else if (a->kind == LOCUS_ARG_BYTES && a->len > PUT_MIN) {
            uint64_t pk = put_locked(c, f, a->data, a->len);
            if (!pk) {
                /* the caller takes the half-written record back */
                lc_map_del(&c->futures, f->key);
                drop_puts(c, f);
                free(f);
                return NULL;
            }
            wire_put_u8(o, ARG_PUT);
            wire_put_u64(o, pk);
            wire_put_u64(o, a->len);
        } else {
            wire_put_u8(o, ARG_BYTES);
            if (a->kind == LOCUS_ARG_I64)
                wire_put_bytes(o, &a->v.i64, 8);
            else if (a->kind == LOCUS_ARG_F64)
                wire_put_bytes(o, &a->v.f64, 8);
            else
                wire_put_bytes(o, a->data, a->len);
        }
    }
    wire_rec_end(o);
    return f;
}

static int submit_many(locus_client *c, const char *fn, const locus_arg *args,
                       size_t nargs, size_t ntasks, int per_task_arg,
                       const struct locus_submit_opts *opts,
                       const int *one_worker, locus_future **out)
{
    const int *workers = opts ? opts->workers : NULL;
    size_t nworkers = opts ? opts->nworkers : 0;
    int retries = opts ? opts->retries : -1;
    pthread_mutex_lock(&c->mu);
    int rc = check_open(c);
    size_t done = 0;
    /* other threads' records may precede ours in the pending buffer */
    size_t start_len = c->pending.len;
    uint32_t start_nrec = c->pending.nrec;
    for (; !rc && done < ntasks; done++) {
        const locus_arg *a = per_task_arg ? &args[done] : args;
        size_t na = per_task_arg ? 1 : nargs;
        const int *ws = workers;
        size_t nw = nworkers;
        if (one_worker) {
            ws = &one_worker[done];
            nw = 1;
        }
        lc_clearerr();
        out[done] = submit_locked(c, fn, a, na, ws, nw, retries);
        if (!out[done] || c->pending.err)
            rc = lc_seterr(LOCUS_ENOMEM, "client", "task %zu of %zu: %s",
                           done, ntasks,
                           *locus_last_error() ? locus_last_error()
                                               : "out of memory");
    }
    if (rc) {
        /* nothing was sent yet: take every record of this call back */
        for (size_t i = 0; i < done; i++) {
            if (out[i]) {
                lc_map_del(&c->futures, out[i]->key);
                drop_puts(c, out[i]);
                free(out[i]);
            }
            out[i] = NULL;
        }
        c->pending.len = start_len; /* the thread swaps only under mu */
        c->pending.nrec = start_nrec;
        c->pending.err = 0;
    } else {
        wake(c);
    }
    pthread_mutex_unlock(&c->mu);
    return rc;
}

int locus_submit(locus_client *c, const char *fn, const locus_arg *args,
                 size_t nargs, const struct locus_submit_opts *opts,
                 locus_future **out)
{
    if (!c || !out)
        return lc_seterr(LOCUS_EINVAL, "client", "locus_submit: NULL client "
                         "or out");
    *out = NULL;
    int rc = check_args(fn, args, nargs, 65535, opts, c);
    if (rc)
        return rc;
    return submit_many(c, fn, args, nargs, 1, 0, opts, NULL, out);
}

int locus_map(locus_client *c, const char *fn, const locus_arg *inputs,
              size_t n, const struct locus_submit_opts *opts,
              locus_future **out)
{
    if (!c || !out || (n && !inputs))
        return lc_seterr(LOCUS_EINVAL, "client", "locus_map: NULL argument");
    int rc = check_args(fn, inputs, n, SIZE_MAX, opts, c);
    if (rc)
        return rc;
    return submit_many(c, fn, inputs, 1, n, 1, opts, NULL, out);
}

int locus_scatter(locus_client *c, const locus_arg *values, size_t n,
                  const struct locus_submit_opts *opts, locus_future **out)
{
    if (!c || !out || (n && !values))
        return lc_seterr(LOCUS_EINVAL, "client", "locus_scatter: NULL "
                         "argument");
    int rc = check_args("locus.identity", values, n, SIZE_MAX, opts, c);
    if (rc)
        return rc;
    for (size_t i = 0; i < n; i++)
        if (values[i].kind == LOCUS_ARG_FUTURE)
            return lc_seterr(LOCUS_EINVAL, "client", "locus_scatter: value "
                             "%zu is a future; scatter takes client data", i);
    /* spread round-robin over the allowed workers, or all workers */
    int *ids = NULL;
    size_t nids = 0;
    if (opts && opts->nworkers) {
        ids = malloc(opts->nworkers * sizeof(int));
        if (ids)
            memcpy(ids, opts->workers, opts->nworkers * sizeof(int));
        nids = opts->nworkers;
    } else {
        locus_worker_info wi[256];
        size_t nw = 0;
        rc = locus_workers(c, wi, 256, &nw);
        if (rc)
            return rc;
        if (nw > 256)
            nw = 256;
        if (nw == 0)
            return lc_seterr(LOCUS_ENOWORKERS, "client", "locus_scatter: no "
                             "worker is connected");
        ids = malloc(nw * sizeof(int));
        for (size_t i = 0; ids && i < nw; i++)
            ids[i] = wi[i].id;
        nids = nw;
    }
    int *per = ids ? malloc((n ? n : 1) * sizeof(int)) : NULL;
    if (!per) {
        free(ids);
        return lc_seterr(LOCUS_ENOMEM, "client", "no memory");
    }
    for (size_t i = 0; i < n; i++)
        per[i] = ids[i % nids];
    struct locus_submit_opts o = LOCUS_SUBMIT_OPTS_INIT;
    rc = submit_many(c, "locus.identity", values, 1, n, 1, &o, per, out);
    free(per);
    free(ids);
    return rc;
}

int locus_run_on_all(locus_client *c, const char *fn, const locus_arg *args,
                     size_t nargs, locus_future ***out, int **worker_ids,
                     size_t *n)
{
    if (!c || !out || !n)
        return lc_seterr(LOCUS_EINVAL, "client", "locus_run_on_all: NULL "
                         "argument");
    *out = NULL;
    *n = 0;
    if (worker_ids)
        *worker_ids = NULL;
    int rc = check_args(fn, args, nargs, 65535, NULL, c);
    if (rc)
        return rc;
    locus_worker_info wi[1024];
    size_t nw = 0;
    rc = locus_workers(c, wi, 1024, &nw);
    if (rc)
        return rc;
    if (nw > 1024)
        nw = 1024;
    if (nw == 0)
        return lc_seterr(LOCUS_ENOWORKERS, "client", "locus_run_on_all: no "
                         "worker is connected");
    int *ids = malloc(nw * sizeof(int));
    locus_future **fs = calloc(nw, sizeof(*fs));
    if (!ids || !fs) {
        free(ids);
        free(fs);
        return lc_seterr(LOCUS_ENOMEM, "client", "no memory");
    }
    for (size_t i = 0; i < nw; i++)
        ids[i] = wi[i].id;
    struct locus_submit_opts o = LOCUS_SUBMIT_OPTS_INIT;
    o.retries = 0; /* bound to its worker: retrying elsewhere is wrong */
    rc = submit_many(c, fn, args, nargs, nw, 0, &o, ids, fs);
    if (rc) {
        free(ids);
        free(fs);
        return rc;
    }
    *out = fs;
    *n = nw;
    if (worker_ids)
        *worker_ids = ids;
    else
        free(ids);
    return 0;
}

/* ---- waiting ----------------------------------------------------------------------- */

static int finished(const struct locus_future *f)
{
    return atomic_load(&f->state) != F_PENDING;
}

/* Spin briefly (low latency), then sleep on the condition variable. */
static int wait_finished(struct locus_future *f, uint64_t dl)
{
    uint64_t spin_end = lc_now_ns() + SPIN_NS;
    /* yield while spinning: on few cores the thread we wait for may need
       this one's CPU */
    while (!finished(f) && lc_now_ns() < spin_end)
        sched_yield();
    if (finished(f))
        return 0;
    locus_client *c = f->c;
    pthread_mutex_lock(&c->mu);
    while (!finished(f))
        if (cv_wait(c, dl) == ETIMEDOUT)
            break;
    pthread_mutex_unlock(&c->mu);
    return finished(f) ? 0 : LOCUS_ETIMEDOUT;
}

static int error_of(struct locus_future *f)
{
    int st = f->status ? f->status : LOCUS_ETASK;
    return lc_seterr(st, "task", "%s: %s", f->keystr,
                     f->errmsg ? f->errmsg : locus_strerror(st));
}

static int value_of(struct locus_future *f, uint64_t dl, const void **data,
                    size_t *len)
{
    if (atomic_load(&f->state) == F_ERROR)
        return error_of(f);
    locus_client *c = f->c;
    pthread_mutex_lock(&c->mu);
    if (!f->have_data && !f->fetching) {
        if (c->state == C_CLOSED) {
            pthread_mutex_unlock(&c->mu);
            return lc_seterr(LOCUS_ECLOSED, "client", "%s: not connected",
                             f->keystr);
        }
        f->fetching = 1;
        f->fetch_status = 0;
        f->fetch_next = c->fetchq;
        c->fetchq = f;
        wake(c);
    }
    while (f->fetching)
        if (cv_wait(c, dl) == ETIMEDOUT)
            break;
    int rc = 0;
    if (f->fetching)
        rc = lc_seterr(LOCUS_ETIMEDOUT, "client", "%s: fetching its %llu "
                       "bytes did not finish in time", f->keystr,
                       (unsigned long long)f->nbytes);
    else if (!f->have_data)
        rc = lc_seterr(f->fetch_status ? f->fetch_status : LOCUS_EIO,
                       "client", "%s: %s", f->keystr,
                       f->errmsg ? f->errmsg : "value could not be fetched");
    pthread_mutex_unlock(&c->mu);
    if (!rc) {
        if (data)
            *data = f->data;
        if (len)
            *len = f->len;
    }
    return rc;
}

int locus_result(locus_future *f, int timeout_ms, const void **data,
                 size_t *len)
{
    if (!f)
        return lc_seterr(LOCUS_EINVAL, "client", "locus_result: NULL future");
    if (atomic_load(&f->refs) <= 0)
        return lc_seterr(LOCUS_EINVAL, "client", "locus_result: future was "
                         "released");
    uint64_t dl = lc_deadline_ms(deadline_of(f->c, timeout_ms));
    if (wait_finished(f, dl))
        return lc_seterr(LOCUS_ETIMEDOUT, "client", "%s not finished within "
                         "%d ms", f->keystr, deadline_of(f->c, timeout_ms));
    if (!data && !len)
        return atomic_load(&f->state) == F_ERROR ? error_of(f) : 0;
    return value_of(f, dl, data, len);
}

static int result8(locus_future *f, int timeout_ms, void *v)
{
    const void *p;
    size_t n;
    int rc = locus_result(f, timeout_ms, &p, &n);
    if (rc)
        return rc;
    if (n != 8)
        return lc_seterr(LOCUS_EINVAL, "client", "%s: value has %zu bytes, "
                         "not an 8-byte number", f->keystr, n);
    memcpy(v, p, 8);
    return 0;
}

int locus_result_i64(locus_future *f, int timeout_ms, int64_t *v)
{
    if (!v)
        return lc_seterr(LOCUS_EINVAL, "client", "locus_result_i64: NULL v");
    return result8(f, timeout_ms, v);
}

int locus_result_f64(locus_future *f, int timeout_ms, double *v)
{
    if (!v)
        return lc_seterr(LOCUS_EINVAL, "client", "locus_result_f64: NULL v");
    return result8(f, timeout_ms, v);
}

int locus_gather(locus_future *const *fs, size_t n, int timeout_ms,
                 locus_value *out)
{
    if ((n && (!fs || !out)))
        return lc_seterr(LOCUS_EINVAL, "client", "locus_gather: NULL "
                         "argument");
    for (size_t i = 0; i < n; i++)
        if (!fs[i] || atomic_load(&fs[i]->refs) <= 0)
            return lc_seterr(LOCUS_EINVAL, "client", "locus_gather: future "
                             "%zu is NULL or released", i);
    if (n == 0)
        return 0;
    uint64_t dl = lc_deadline_ms(deadline_of(fs[0]->c, timeout_ms));
    int first = 0;
    char msg[1200] = "";
    for (size_t i = 0; i < n; i++) {
        locus_future *f = fs[i];
        out[i].data = NULL;
        out[i].len = 0;
        int rc = wait_finished(f, dl);
        if (rc)
            rc = lc_seterr(LOCUS_ETIMEDOUT, "client", "%s not finished in "
                           "time", f->keystr);
        else
            rc = value_of(f, dl, &out[i].data, &out[i].len);
        out[i].status = rc;
        if (rc && !first) {
            first = rc;
            snprintf(msg, sizeof(msg), "future %zu: %s", i,
                     locus_last_error());
        }
    }
    if (first)
        return lc_seterr(first, "client", "%s", msg);
    return 0;
}

int locus_wait(locus_future *const *fs, size_t n, int timeout_ms)
{
    if (n && !fs)
        return lc_seterr(LOCUS_EINVAL, "client", "locus_wait: NULL futures");
    for (size_t i = 0; i < n; i++)
        if (!fs[i])
            return lc_seterr(LOCUS_EINVAL, "client", "locus_wait: future %zu "
                             "is NULL", i);
    if (n == 0)
        return 0;
    uint64_t dl = lc_deadline_ms(deadline_of(fs[0]->c, timeout_ms));
    for (size_t i = 0; i < n; i++)
        if (wait_finished(fs[i], dl))
            return lc_seterr(LOCUS_ETIMEDOUT, "client", "locus_wait: %s not "
                             "finished in time", fs[i]->keystr);
    return 0;
}

int locus_as_completed(locus_future *const *fs, size_t n, unsigned char *seen,
                       int timeout_ms, size_t *index)
{
    if (!fs || !seen || !index || n == 0)
        return lc_seterr(LOCUS_EINVAL, "client", "locus_as_completed: NULL "
                         "argument or no futures");
    for (size_t i = 0; i < n; i++)
        if (!fs[i])
            return lc_seterr(LOCUS_EINVAL, "client", "locus_as_completed: "
                             "future %zu is NULL", i);
    locus_client *c = fs[0]->c;
    uint64_t dl = lc_deadline_ms(deadline_of(c, timeout_ms));
    pthread_mutex_lock(&c->mu);
    for (;;) {
        int any = 0;
        for (size_t i = 0; i < n; i++) {
            if (seen[i])
                continue;
            any = 1;
            if (finished(fs[i])) {
                seen[i] = 1;
                *index = i;
                pthread_mutex_unlock(&c->mu);
                return 0;
            }
        }
        if (!any) {
            pthread_mutex_unlock(&c->mu);
            return lc_seterr(LOCUS_ENOENT, "client", "locus_as_completed: "
                             "every future was returned already");
        }
        if (cv_wait(c, dl) == ETIMEDOUT) {
            pthread_mutex_unlock(&c->mu);
            return lc_seterr(LOCUS_ETIMEDOUT, "client", "locus_as_completed: "
                             "none finished in time");
        }
    }
}

/* ---- futures ------------------------------------------------------------------------ */

int locus_cancel(locus_future *f)
{
    if (!f || atomic_load(&f->refs) <= 0)
        return lc_seterr(LOCUS_EINVAL, "client", "locus_cancel: NULL or "
                         "released future");
    locus_client *c = f->c;
    pthread_mutex_lock(&c->mu);
    if (atomic_load(&f->state) == F_PENDING) {
        wire_rec_begin(&c->pending, REC_CANCEL);
        wire_put_u64(&c->pending, f->key);
        wire_rec_end(&c->pending);
        f->status = LOCUS_ECANCELED;
        free(f->errmsg);
        f->errmsg = strdup("canceled by the client");
        atomic_store(&f->state, F_ERROR);
        pthread_cond_broadcast(&c->cv);
        wake(c);
    }
    pthread_mutex_unlock(&c->mu);
    return 0;
}

locus_future *locus_future_ref(locus_future *f)
{
    if (f)
        atomic_fetch_add(&f->refs, 1);
    return f;
}

void locus_release(locus_future *f)
{
    if (!f)
        return;
    if (atomic_fetch_sub(&f->refs, 1) != 1)
        return;
    locus_client *c = f->c;
    pthread_mutex_lock(&c->mu);
    lc_map_del(&c->futures, f->key);
    drop_puts(c, f);
    /* a fetch in flight keeps the future alive until it ends */
    while (f->fetching)
        pthread_cond_wait(&c->cv, &c->mu);
    if (c->state != C_CLOSED) {
        wire_rec_begin(&c->pending, REC_RELEASE);
        wire_put_u64(&c->pending, f->key);
        wire_rec_end(&c->pending);
        wake(c);
    }
    pthread_mutex_unlock(&c->mu);
    free(f->data);
    free(f->errmsg);
    free(f);
}

int locus_future_status(const locus_future *f)
{
    if (!f)
        return LOCUS_EINVAL;
    int st = atomic_load(&f->state);
    if (st == F_PENDING)
        return LOCUS_EAGAIN;
    return st == F_DONE ? 0 : (f->status ? f->status : LOCUS_ETASK);
}

const char *locus_future_error(const locus_future *f)
{
    if (!f || atomic_load(&f->state) != F_ERROR || !f->errmsg)
        return "";
    return f->errmsg;
}

const char *locus_future_key(const locus_future *f)
{
    return f ? f->keystr : "";
}

int locus_who_has(locus_future *f, int *worker_ids, size_t max, size_t *n)
{
    if (!f || !n || (max && !worker_ids))
        return lc_seterr(LOCUS_EINVAL, "client", "locus_who_has: NULL "
                         "argument");
    int st = atomic_load(&f->state);
    if (st == F_PENDING)
        return lc_seterr(LOCUS_EAGAIN, "client", "%s is not finished yet",
                         f->keystr);
    if (st == F_ERROR) {
        *n = 0;
        return error_of(f);
    }
    *n = 1;
    if (max)
        worker_ids[0] = f->worker;
    return 0;
}

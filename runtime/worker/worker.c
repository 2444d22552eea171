/*
 * Worker.  The progress thread owns the endpoints: it reads COMPUTE records,
 * resolves the function (built-ins, then the required libraries), pins
 * local inputs, fetches remote ones (GET, then inline bytes or fi_read),
 * queues the task for the task threads, and sends DONE records in batches.
 * Task threads only run functions; they never touch the fabric.
 * Heartbeats come from the progress thread, which task code never blocks.
 */
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
#include "base/map.h"
#include "net/join.h"
#include "net/lnet.h"
#include "proto/auth.h"
#include "proto/records.h"
#include "proto/schedfile.h"
#include "proto/wire.h"
#include "topo/topo.h"

#define SEND_TIMEOUT_MS 5000

typedef struct wobj {
    uint64_t key;
    void *data; /* in the arena */
    size_t len;
    int pins;
    int freed;  /* FREE arrived while pinned */
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

typedef struct fnent {
    char *name;
    locus_task_fn fn;
    struct fnent *next;
} fnent;

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
    lc_map objs;     /* key -> wobj */
    lc_map tasks;    /* key -> task, from COMPUTE until DONE is sent */
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
    fnent *fns[256];
    /* task queue: progress thread -> task threads */
    pthread_mutex_t qmu;
    pthread_cond_t qcv;
    struct locus_task *qhead, *qtail;
    int qlen;
    int stopping;
    /* done queue: task threads -> progress thread */
    pthread_mutex_t dmu;
    struct locus_task *dhead, *dtail;
    pthread_t *threads;
    int nstarted;
    atomic_int running;
    uint64_t tasks_done, bytes_held;
    int sched_failures;
} worker;

int worker_id_of(const struct worker *w)
{
    return w->id;
}

int worker_node_of(const struct worker *w)
{
    return w->node;
}

/* ---- peers and sending ---------------------------------------------------- */

static wpeer *wpeer_get(worker *w, int id)
{
    return id > 0 && id < w->cappeers ? w->peers[id] : NULL;
}

static wire_wr *out_to_peer(worker *w, wpeer *p)
{
    return lnet_out(&w->net, p->sess);
}

static wire_wr *to_sched(worker *w)
{
    return lnet_out(&w->net, w->join.sess);
}

static void on_peer(worker *w, wire_rd *r)
{
    rec_peer rp;
    if (rec_get_peer(r, &rp) != 0)
        return;
    int id = (int)rp.id;
    if (id >= w->cappeers) {
        int ncap = w->cappeers ? w->cappeers : 64;
        while (ncap <= id)
            ncap *= 2;
        wpeer **np = realloc(w->peers, (size_t)ncap * sizeof(*np));
        if (!np)
            return;
        w->peers = np;
        for (int i = w->cappeers; i < ncap; i++)
            w->peers[i] = NULL;
        w->cappeers = ncap;
    }
    if (w->peers[id])
        return;
    wpeer *p = calloc(1, sizeof(*p));
    if (!p)
        return;
    p->id = id;
    p->role = rp.role;
    p->pid = (int)rp.pid;
    snprintf(p->host, sizeof(p->host), "%s", rp.host);
    uint8_t ktx[AUTH_KEY_LEN], krx[AUTH_KEY_LEN];
    uint64_t psid;
    if (lnet_route_to(&w->net, rp.host, rp.net, rp.shm, &p->route) != 0) {
        lc_log(LC_LOG_WARN, "worker", "cannot reach peer %d on %s: %s", id,
               rp.host, locus_last_error());
        free(p);
        return;
    }
    lnet_keys_pair(w->sf.key, w->join.id, w->join.sid, rp.id, rp.sid, ktx,
                   krx, &psid);
    p->sess = lnet_sess_open(&w->net, rp.id, psid, ktx, krx, p->route);
    if (!p->sess) {
        lnet_unroute(&w->net, p->route);
        free(p);
        return;
    }
    p->sess->user = p;
    w->peers[id] = p;
}

typedef struct fetch fetch;
static void fetch_failed(worker *w, fetch *f, int status, const char *msg);

static void on_peer_gone(worker *w, wire_rd *r)
{
    int id = (int)wire_get_u32(r);
    wpeer *p = wpeer_get(w, id);
    if (!wire_rd_ok(r) || !p)
        return;
    /* the address stays in the AV; its session goes, and so do our cached
       mappings of its segments */
    char prefix[64];
    const char *jh = strchr(w->sf.job_id, '-');
    snprintf(prefix, sizeof(prefix), "/locus-%.16s-%d-",
             jh ? jh + 1 : w->sf.job_id, p->pid);
    arena_map_forget(prefix);
    /* fetches from it will never be answered */
    fetch *gone[64];
    int ngone;
    do {
        ngone = 0;
        size_t it = 0;
        uint64_t k;
        void *v;
        while (ngone < 64 && lc_map_next(&w->fetches, &it, &k, &v))
            if (((fetch *)v)->holder == id)
                gone[ngone++] = v;
        for (int i = 0; i < ngone; i++)
            fetch_failed(w, gone[i], LOCUS_ELOST, "its holder died");
    } while (ngone == 64);
    lnet_sess_close(&w->net, p->sess);
    lnet_unroute(&w->net, p->route);
    free(p);
    w->peers[id] = NULL;
}

/* ---- functions ------------------------------------------------------------- */

static unsigned strhash(const char *s)
{
    unsigned h = 5381;
    while (*s)
        h = h * 33 + (unsigned char)*s++;
    return h & 255;
}

static locus_task_fn resolve(worker *w, const char *name)
{
    locus_task_fn f = worker_builtin(name);
    if (f)
        return f;
    unsigned h = strhash(name);
    for (fnent *e = w->fns[h]; e; e = e->next)
        if (!strcmp(e->name, name))
            return e->fn;
    for (int i = 0; i < w->nlibs; i++) {
        void *sym = dlsym(w->libs[i], name);
        if (sym) {
            fnent *e = malloc(sizeof(*e));
            if (e) {
                e->name = strdup(name);
                memcpy(&e->fn, &sym, sizeof(sym));
                e->next = w->fns[h];
                w->fns[h] = e;
                if (!e->name) {
                    w->fns[h] = e->next;
                    free(e);
                }
            }
            locus_task_fn fn;
            memcpy(&fn, &sym, sizeof(sym));
            return fn;
        }
    }
    return NULL;
}

static int load_lib(worker *w, const char *path, char *msg, size_t len)
{
    for (int i = 0; i < w->nlibs; i++)
        if (!strcmp(w->libpaths[i], path))
            return 0;
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *e = dlerror();
        snprintf(msg, len, "dlopen: %s", e ? e : "unknown error");
        return LOCUS_ELIB;
    }
    void **nl = realloc(w->libs, (size_t)(w->nlibs + 1) * sizeof(void *));
    char **np = nl ? realloc(w->libpaths, (size_t)(w->nlibs + 1) *
                                              sizeof(char *))
                   : NULL;
    if (nl)
        w->libs = nl;
    if (np)
        w->libpaths = np;
    if (!nl || !np) {
        dlclose(h);
        snprintf(msg, len, "out of memory");
        return LOCUS_ENOMEM;
    }
    w->libs[w->nlibs] = h;
    w->libpaths[w->nlibs] = strdup(path);
    w->nlibs++;
    lc_log(LC_LOG_INFO, "worker", "loaded task library %s", path);
    return 0;
}

static void on_load_lib(worker *w, wire_rd *r)
{
    char path[1024], msg[1024] = "";
    uint64_t req = wire_get_u64(r);
    wire_get_str(r, path, sizeof(path));
    if (!wire_rd_ok(r))
        return;
    int rc = load_lib(w, path, msg, sizeof(msg));
    if (rc)
        lc_log(LC_LOG_WARN, "worker", "task library %s: %s", path, msg);
    if (req == 0)
        return; /* replayed at join: nobody waits */
    wire_wr *o = to_sched(w);
    wire_rec_begin(o, REC_LIB_LOADED);
    wire_put_u64(o, req);
    wire_put_i32(o, rc);
    wire_put_str(o, msg);
    wire_rec_end(o);
}

/* ---- tasks -------------------------------------------------------------------- */

/* A buffer for a fetched copy.  Large ones ask for transparent huge pages:
   a fresh 256 MiB buffer otherwise costs 65536 page faults while the RMA
   read fills it. */
static void *copy_buffer(size_t n)
{
    if (n < (4u << 20))
        return malloc(n ? n : 1);
    void *p = NULL;
    size_t len = (n + (2u << 20) - 1) & ~(size_t)((2u << 20) - 1);
    if (posix_memalign(&p, 2u << 20, len) != 0)
        return NULL;
    madvise(p, len, MADV_HUGEPAGE);
    return p;
}

static void replica_put(replica *r)
{
    if (r && --r->refs == 0) {
        free(r->data);
        free(r);
    }
}

static void obj_free(worker *w, wobj *o);

static void task_destroy(worker *w, struct locus_task *t)
{
    for (uint32_t i = 0; i < t->nargs; i++) {
        wobj *o = t->args[i].pin;
        if (o && --o->pins == 0 && o->freed)
            obj_free(w, o);
        replica_put(t->args[i].copy);
        arena_map_release(t->args[i].map);
    }
    free(t->args);
    free(t->payload);
    if (t->result)
        arena_free(w->arena, t->result);
    free(t->errmsg);
    free(t);
}

void *worker_alloc(struct worker *w, size_t len)
{
    return arena_alloc(w->arena, len);
}

void worker_free(struct worker *w, void *p)
{
    arena_free(w->arena, p);
}

static void enqueue(worker *w, struct locus_task *t)
{
    pthread_mutex_lock(&w->qmu);
    t->next = NULL;
    if (w->qtail)
        w->qtail->next = t;
    else
        w->qhead = t;
    w->qtail = t;
    w->qlen++;
    pthread_cond_signal(&w->qcv);
    pthread_mutex_unlock(&w->qmu);
}

static void push_done(worker *w, struct locus_task *t)
{
    pthread_mutex_lock(&w->dmu);
    int was_empty = w->dhead == NULL;
    t->next = NULL;
    if (w->dtail)
        w->dtail->next = t;
    else
        w->dhead = t;
    w->dtail = t;
    pthread_mutex_unlock(&w->dmu);
    if (was_empty)
        lnet_wake(&w->net);
}

static void fail_now(worker *w, struct locus_task *t, int status,
                     const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void fail_now(worker *w, struct locus_task *t, int status,
                     const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    t->status = status;
    free(t->errmsg);
    t->errmsg = strdup(msg);
    push_done(w, t);
}

static void send_get_req(worker *w, wpeer *h, fetch *f)
{
    /* map the holder's segment in place when it is on this host
       ($LOCUS_NO_MAP forces the RMA path, for tests and benchmarks) */
    rec_put_get(out_to_peer(w, h), f->req, f->key,
                !h->no_map && !getenv("LOCUS_NO_MAP") &&
                    !strcmp(h->host, lc_hostname()));
}

static void input_arrived(worker *w, struct locus_task *t);

/* One input cannot come: the task fails once every fetch has ended (the
   others still point at it). */
static void input_failed(worker *w, struct locus_task *t, int status,
                         const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void input_failed(worker *w, struct locus_task *t, int status,
                         const char *fmt, ...)
{
    if (t->status == 0) {
        char msg[1024];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        t->status = status;
        free(t->errmsg);
        t->errmsg = strdup(msg);
    }
    input_arrived(w, t);
}

static void send_get(worker *w, struct locus_task *t, uint32_t i,
                     uint64_t key, int holder)
{
    fetch *f = lc_map_get(&w->inflight, key);
    if (!f) {
        wpeer *h = wpeer_get(w, holder);
        if (!h) {
            input_failed(w, t, LOCUS_ELOST, "input %u is on worker %d, "
                         "which is not connected", i, holder);
            return;
        }
        f = calloc(1, sizeof(*f));
        if (f) {
            f->key = key;
            f->req = ++w->next_req;
            f->holder = holder;
        }
        if (!f || lc_map_put(&w->fetches, f->req, f) != 0) {
            free(f);
            input_failed(w, t, LOCUS_ENOMEM, "out of memory fetching input "
                         "%u", i);
            return;
        }
        if (lc_map_put(&w->inflight, key, f) != 0) {
            lc_map_del(&w->fetches, f->req);
            free(f);
            input_failed(w, t, LOCUS_ENOMEM, "out of memory fetching input "
                         "%u", i);
            return;
        }
        send_get_req(w, h, f);
    }
    if (f->nw == f->capw) {
        int ncap = f->capw ? f->capw * 2 : 4;
        waiter *nw = realloc(f->w, (size_t)ncap * sizeof(*nw));
        if (!nw) {
            input_failed(w, t, LOCUS_ENOMEM, "out of memory fetching input "
                         "%u", i);
            return;
        }
        f->w = nw;
        f->capw = ncap;
    }
    f->w[f->nw].t = t;
    f->w[f->nw].arg = i;
    f->nw++;
}

static void on_compute(worker *w, wire_rd *r)
{
    struct locus_task *t = calloc(1, sizeof(*t));
    if (!t)
        return;
    t->w = w;
    t->payload = malloc(r->len ? r->len : 1);
    if (!t->payload) {
        free(t);
        return;
    }
    memcpy(t->payload, r->p, r->len);
    wire_rd rd;
    wire_rd_init(&rd, t->payload, r->len);
    t->key = wire_get_u64(&rd);
    wire_get_str(&rd, t->fn_name, sizeof(t->fn_name));
    t->nargs = wire_get_u32(&rd);
    if (!wire_rd_ok(&rd) || t->nargs > wire_rd_left(&rd)) {
        lc_log(LC_LOG_WARN, "worker", "malformed COMPUTE dropped");
        free(t->payload);
        free(t);
        return;
    }
    t->args = calloc(t->nargs ? t->nargs : 1, sizeof(targ));
    if (!t->args || lc_map_put(&w->tasks, t->key, t) != 0) {
        free(t->args);
        free(t->payload);
        free(t);
        return;
    }
    /* inputs held elsewhere: any number, fetched with several in flight */
    struct remote_in {
        uint32_t i;
        uint64_t key;
        int holder;
    } *remote = NULL;
    uint32_t nremote = 0, capremote = 0;
    for (uint32_t i = 0; i < t->nargs; i++) {
        uint8_t kind = wire_get_u8(&rd);
        if (kind == ARG_BYTES) {
            t->args[i].p = wire_get_bytes(&rd, &t->args[i].len);
        } else if (kind == ARG_FUTURE) {
            uint64_t k = wire_get_u64(&rd);
            int holder = (int)wire_get_u32(&rd);
            (void)wire_get_u64(&rd);
            wobj *o = lc_map_get(&w->objs, k);
            if (o && !o->freed) {
                o->pins++;
                t->args[i].pin = o;
                t->args[i].p = o->data;
                t->args[i].len = o->len;
            } else if (holder == w->id) {
                free(remote);
                fail_now(w, t, LOCUS_ELOST, "input %u (key %llx) should be "
                         "here but is not (freed?)", i, (unsigned long long)k);
                return;
            } else {
                if (nremote == capremote) {
                    capremote = capremote ? capremote * 2 : 8;
                    struct remote_in *nr =
                        realloc(remote, capremote * sizeof(*nr));
                    if (!nr) {
                        free(remote);
                        fail_now(w, t, LOCUS_ENOMEM, "out of memory for "
                                 "%u inputs", t->nargs);
                        return;
                    }
                    remote = nr;
                }
                remote[nremote].i = i;
                remote[nremote].key = k;
                remote[nremote].holder = holder;
                nremote++;
            }
        } else {
            rd.bad = 1;
        }
    }
    if (!wire_rd_ok(&rd)) {
        free(remote);
        fail_now(w, t, LOCUS_EPROTO, "malformed task arguments");
        return;
    }
    t->fn = resolve(w, t->fn_name);
    if (!t->fn) {
        char libs[512] = "";
        size_t off = 0;
        for (int i = 0; i < w->nlibs && off < sizeof(libs) - 2; i++)
            off += (size_t)snprintf(libs + off, sizeof(libs) - off, "%s%s",
                                    i ? ", " : "", w->libpaths[i]);
        free(remote);
        fail_now(w, t, LOCUS_ENOSYM, "function '%s' not found on worker %d "
                 "in the task libraries [%s] (call locus_require first?)",
                 t->fn_name, w->id, libs);
        return;
    }
    if (nremote == 0) {
        w->tasks_local++;
        enqueue(w, t);
        return;
    }
    w->tasks_remote++;
    t->nmissing = nremote;
    for (uint32_t k = 0; k < nremote; k++)
        send_get(w, t, remote[k].i, remote[k].key, remote[k].holder);
    free(remote);
}

static void input_arrived(worker *w, struct locus_task *t)
{
    if (--t->nmissing > 0)
        return;
    if (t->status == 0)
        enqueue(w, t);
    else
        push_done(w, t);
}

static void fetch_end(worker *w, fetch *f)
{
    lc_map_del(&w->fetches, f->req);
    lc_map_del(&w->inflight, f->key);
    replica_put(f->copy);
    free(f->w);
    free(f);
}

static void fetch_failed(worker *w, fetch *f, int status, const char *msg)
{
    for (int k = 0; k < f->nw; k++) {
        struct locus_task *t = f->w[k].t;
        if (t->status == 0) {
            t->status = status;
            char m[1024];
            snprintf(m, sizeof(m), "fetching input %u from worker %d: %s",
                     f->w[k].arg, f->holder, msg);
            free(t->errmsg);
            t->errmsg = strdup(m);
        }
        input_arrived(w, t);
    }
    fetch_end(w, f);
}

/* The copy (or mapping) is ready: every waiting task gets it. */
static void fetch_done(worker *w, fetch *f, const void *base, size_t len)
{
    for (int k = 0; k < f->nw; k++) {
        targ *a = &f->w[k].t->args[f->w[k].arg];
        a->p = base;
        a->len = len;
        a->copy = f->copy;
        f->copy->refs++;
        input_arrived(w, f->w[k].t);
    }
    fetch_end(w, f);
}

static void on_data(worker *w, int ep, wire_rd *r)
{
    rec_data d;
    int bad = rec_get_data(r, &d) != 0;
    fetch *f = lc_map_get(&w->fetches, d.req);
    if (!f)
        return;
    if (bad) {
        fetch_failed(w, f, LOCUS_EPROTO, "malformed DATA record");
        return;
    }
    uint64_t nbytes = d.nbytes;
    int mode = d.mode;
    if (d.status != 0) {
        char msg[512];
        snprintf(msg, sizeof(msg), "%.*s", (int)d.nbytes_inline,
                 d.bytes ? (const char *)d.bytes : "");
        fetch_failed(w, f, d.status, msg);
        return;
    }
    if (mode == DATA_SHM) {
        const char *name = d.segment;
        uint64_t seg_len = d.seg_len, off = d.offset;
        uint8_t dedicated = d.dedicated;
        /* every waiting task holds its own reference to the mapping */
        arena_map *first = NULL;
        for (int k = 0; k < f->nw; k++) {
            arena_map *m;
            const void *b;
            if (arena_map_open(name, seg_len, dedicated, &m, &b) != 0) {
                if (first) {
                    /* cannot happen after a first success; be safe */
                    fetch_failed(w, f, LOCUS_ESYS, locus_last_error());
                    return;
                }
                /* not mappable here (other /dev/shm?): ask for RMA */
                wpeer *h = wpeer_get(w, f->holder);
                lc_log(LC_LOG_INFO, "worker", "cannot map %s (%s): using "
                       "RMA with worker %d", name, locus_last_error(),
                       f->holder);
                if (!h) {
                    fetch_failed(w, f, LOCUS_ELOST, "holder gone");
                    return;
                }
                h->no_map = 1;
                send_get_req(w, h, f);
                return;
            }
            first = first ? first : m;
            targ *a = &f->w[k].t->args[f->w[k].arg];
            a->map = m;
            a->p = (const uint8_t *)b + off;
            a->len = nbytes;
        }
        w->bytes_mapped += nbytes;
        for (int k = 0; k < f->nw; k++)
            input_arrived(w, f->w[k].t);
        fetch_end(w, f);
        return;
    }
    f->copy = calloc(1, sizeof(replica));
    if (f->copy) {
        f->copy->refs = 1;
        f->copy->len = nbytes;
        f->copy->data = copy_buffer(nbytes);
    }
    if (!f->copy || !f->copy->data) {
        fetch_failed(w, f, LOCUS_ENOMEM, "out of memory for a copy");
        return;
    }
    if (mode == DATA_INLINE) {
        size_t n = d.nbytes_inline;
        if (n)
            memcpy(f->copy->data, d.bytes, n);
        w->bytes_inline += n;
        fetch_done(w, f, f->copy->data, n);
        return;
    }
    xport_rkey rk = d.rk;
    wpeer *h = wpeer_get(w, f->holder);
    if (!h || h->route.ep != ep) {
        fetch_failed(w, f, LOCUS_EPROTO, "bad RMA descriptor");
        return;
    }
    /* the request id rides in the context pointer */
    int rc = xport_read(w->net.ep[ep], h->route.addr, f->copy->data, nbytes,
                        NULL, &rk, 0, (void *)(uintptr_t)d.req);
    if (rc != 0)
        fetch_failed(w, f, rc, locus_last_error());
}

static void on_read_event(worker *w, xport_event *ev)
{
    uint64_t req = (uint64_t)(uintptr_t)ev->ctx;
    fetch *f = lc_map_get(&w->fetches, req);
    if (!f)
        return;
    if (ev->kind == XPORT_EV_READ_ERROR) {
        fetch_failed(w, f, ev->status, locus_strerror(ev->status));
        return;
    }
    w->bytes_rma += f->copy->len;
    fetch_done(w, f, f->copy->data, f->copy->len);
}

/* A peer asks for an object this worker holds. */
static void on_get(worker *w, wpeer *p, wire_rd *r)
{
    uint64_t req, key;
    int may_map;
    if (rec_get_get(r, &req, &key, &may_map) != 0)
        return;
    wobj *o = lc_map_get(&w->objs, key);
    wire_wr *out = out_to_peer(w, p);
    if (!o || o->freed) {
        char m[160];
        snprintf(m, sizeof(m), "object %llx is not on worker %d (freed or "
                 "never computed here)", (unsigned long long)key, w->id);
        rec_put_data_error(out, req, LOCUS_ENOENT, m);
        return;
    }
    rec_data d;
    memset(&d, 0, sizeof(d));
    d.req = req;
    d.nbytes = o->len;
    arena_loc loc;
    if (may_map && arena_locate(w->arena, o->data, &loc) == 0) {
        d.mode = DATA_SHM;
        snprintf(d.segment, sizeof(d.segment), "%s", loc.name);
        d.seg_len = loc.seg_len;
        d.offset = loc.offset;
        d.dedicated = (uint8_t)loc.dedicated;
    } else if (o->len + 64 <= w->net.msg_size / 2) {
        d.mode = DATA_INLINE;
        d.bytes = o->data;
        d.nbytes_inline = o->len;
    } else {
        int ep = p->route.ep;
        int rc = arena_rkey(w->arena, ep, w->net.ep[ep], o->data, o->len,
                            &d.rk);
        if (rc != 0) {
            rec_put_data_error(out, req, rc, locus_last_error());
            return;
        }
        d.mode = DATA_RMA;
    }
    rec_put_data(out, &d);
}

static void obj_free(worker *w, wobj *o)
{
    if (!o->freed)
        w->bytes_held -= o->len;
    if (o->pins) {
        o->freed = 1;
        return;
    }
    arena_free(w->arena, o->data);
    free(o);
}

static void on_free(worker *w, wire_rd *r)
{
    uint64_t key = wire_get_u64(r);
    if (!wire_rd_ok(r))
        return;
    wobj *o = lc_map_del(&w->objs, key);
    if (o)
        obj_free(w, o);
}

static void on_cancel(worker *w, wire_rd *r)
{
    uint64_t key = wire_get_u64(r);
    struct locus_task *t = wire_rd_ok(r) ? lc_map_get(&w->tasks, key) : NULL;
    if (t)
        atomic_store(&t->canceled, 1);
}

/* Finished tasks: keep results, report in one batch. */
static void drain_done(worker *w)
{
    pthread_mutex_lock(&w->dmu);
    struct locus_task *t = w->dhead;
    w->dhead = w->dtail = NULL;
    pthread_mutex_unlock(&w->dmu);
    while (t) {
        struct locus_task *next = t->next;
        lc_map_del(&w->tasks, t->key);
        w->tasks_done++;
        wire_wr *o = to_sched(w);
        wire_rec_begin(o, REC_DONE);
        wire_put_u64(o, t->key);
        if (t->status == 0 && atomic_load(&t->canceled))
            t->status = LOCUS_ECANCELED;
        wire_put_i32(o, t->status);
        if (t->status == 0) {
            wobj *ob = calloc(1, sizeof(*ob));
            if (ob) {
                ob->key = t->key;
                ob->data = t->result ? t->result
                                     : arena_alloc(w->arena, 0);
                ob->len = t->result ? t->rlen : 0;
                t->result = NULL;
            }
            if (!ob || !ob->data || lc_map_put(&w->objs, ob->key, ob) != 0) {
                /* report the failure instead of a result we cannot keep */
                if (ob && ob->data)
                    arena_free(w->arena, ob->data);
                free(ob);
                o->len = o->rec_start; /* drop the half-written record */
                wire_rec_begin(o, REC_DONE);
                wire_put_u64(o, t->key);
                wire_put_i32(o, LOCUS_ENOMEM);
                wire_put_u64(o, 0);
                wire_put_u64(o, t->dur);
                wire_put_u8(o, 0);
                wire_put_str(o, "worker out of memory storing the result");
            } else {
                w->bytes_held += ob->len;
                wire_put_u64(o, ob->len);
                wire_put_u64(o, t->dur);
                int inl = ob->len <= WIRE_INLINE_MAX;
                wire_put_u8(o, (uint8_t)inl);
                wire_put_bytes(o, ob->data, inl ? ob->len : 0);
            }
        } else {
            wire_put_u64(o, 0);
            wire_put_u64(o, t->dur);
            wire_put_u8(o, 0);
            wire_put_str(o, t->errmsg ? t->errmsg
                                      : locus_strerror(t->status));
        }
        wire_rec_end(o);
        task_destroy(w, t);
        t = next;
    }
}

static void *task_thread(void *arg)
{
    struct locus_task *self = arg; /* carries the worker and index only */
    worker *w = self->w;
    int idx = self->thread;
    free(self);
    if (topo_bind_thread(w->topo, w->node, idx) != 0)
        lc_log(LC_LOG_INFO, "numa", "thread %d not bound: %s", idx,
               locus_last_error());
    for (;;) {
        pthread_mutex_lock(&w->qmu);
        while (!w->qhead && !w->stopping)
            pthread_cond_wait(&w->qcv, &w->qmu);
        if (w->stopping && !w->qhead) {
            pthread_mutex_unlock(&w->qmu);
            break;
        }
        struct locus_task *t = w->qhead;
        w->qhead = t->next;
        if (!w->qhead)
            w->qtail = NULL;
        w->qlen--;
        pthread_mutex_unlock(&w->qmu);

        t->thread = idx;
        if (atomic_load(&t->canceled)) {
            t->status = LOCUS_ECANCELED;
        } else {
            atomic_fetch_add(&w->running, 1);
            t->t0 = lc_now_ns();
            lc_clearerr();
            int rc = t->fn(t);
            t->dur = lc_now_ns() - t->t0;
            atomic_fetch_sub(&w->running, 1);
            if (rc != 0 && t->status == 0)
                t->status = rc < 0 ? rc : LOCUS_ETASK;
            if (t->status != 0 && !t->errmsg) {
                /* a task API call that failed left its message here */
                char m[1200];
                const char *why = locus_last_error();
                if (*why)
                    snprintf(m, sizeof(m), "%s returned %d: %s", t->fn_name,
                             rc, why);
                else
                    snprintf(m, sizeof(m), "%s returned %d (%s)", t->fn_name,
                             rc, locus_strerror(t->status));
                t->errmsg = strdup(m);
            }
        }
        push_done(w, t);
    }
    return NULL;
}

/* ---- joining the scheduler ------------------------------------------------- */

static int start_threads(worker *w)
{
    w->threads = calloc((size_t)w->nthreads, sizeof(pthread_t));
    if (!w->threads)
        return lc_seterr(LOCUS_ENOMEM, "worker", "no memory for threads");
    for (int i = 0; i < w->nthreads; i++) {
        struct locus_task *arg = calloc(1, sizeof(*arg));
        if (!arg)
            return lc_seterr(LOCUS_ENOMEM, "worker", "no memory");
        arg->w = w;
        arg->thread = i;
        int e = pthread_create(&w->threads[i], NULL, task_thread, arg);
        if (e) {
            free(arg);
            return lc_seterr(LOCUS_ESYS, "worker", "pthread_create: %s",
                             strerror(e));
        }
        w->nstarted++;
    }
    return 0;
}

static void stop_threads(worker *w)
{
    pthread_mutex_lock(&w->qmu);
    w->stopping = 1;
    pthread_cond_broadcast(&w->qcv);
    pthread_mutex_unlock(&w->qmu);
    for (int i = 0; i < w->nstarted; i++)
        pthread_join(w->threads[i], NULL);
    free(w->threads);
    w->threads = NULL;
}

/* A message of a pair session: the data plane. */
static void on_peer_message(worker *w, lnet_in *in)
{
    wpeer *p = in->sess->user;
    wire_rd r;
    int type, rc;
    while ((rc = wire_next(&in->rd, &type, &r)) == 1) {
        if (type == REC_GET)
            on_get(w, p, &r);
        else if (type == REC_DATA)
            on_data(w, in->ep, &r);
        else
            lc_log(LC_LOG_WARN, "worker", "unexpected %s from peer %d",
                   wire_rec_name(type), p->id);
    }
    if (rc < 0)
        lc_log(LC_LOG_WARN, "worker", "rest of message from peer %d "
               "dropped: %s", p->id, locus_last_error());
}

/* A message of the scheduler's session. */
static int on_sched_message(worker *w, lnet_in *in, int *quit)
{
    wire_rd r;
    int type, rc;
    while ((rc = wire_next(&in->rd, &type, &r)) == 1) {
        if (w->join.state != LJ_JOINED && type != REC_WELCOME)
            continue;
        switch (type) {
        case REC_WELCOME:
            if (ljoin_on_welcome(&w->join, &r) != 0)
                return LOCUS_EPROTO;
            w->id = (int)w->join.id;
            w->heartbeat_ms = w->join.heartbeat_ms;
            lc_log(LC_LOG_INFO, "worker", "joined as worker %d (node %d, "
                   "cpuset %s, %d threads)", w->id, w->node, w->cpuset,
                   w->nthreads);
            break;
        case REC_COMPUTE:
            on_compute(w, &r);
            break;
        case REC_FREE:
            on_free(w, &r);
            break;
        case REC_CANCEL:
            on_cancel(w, &r);
            break;
        case REC_LOAD_LIB:
            on_load_lib(w, &r);
            break;
        case REC_PEER:
            on_peer(w, &r);
            break;
        case REC_PEER_GONE:
            on_peer_gone(w, &r);
            break;
        case REC_GOODBYE:
            *quit = 2;
            return 0;
        case REC_SHUTDOWN: {
            char why[256];
            wire_get_str(&r, why, sizeof(why));
            lc_log(LC_LOG_INFO, "worker", "shutdown: %s", why);
            *quit = 1;
            return 0;
        }
        default:
            lc_log(LC_LOG_WARN, "worker", "unexpected %s from the scheduler",
                   wire_rec_name(type));
        }
    }
    if (rc < 0)
        lc_log(LC_LOG_WARN, "worker", "rest of message dropped: %s",
               locus_last_error());
    return 0;
}

/* One turn of the progress loop: handle what arrived.  0, or a fatal
   error (refused, scheduler gone). */
static int handle_inputs(worker *w, lnet_in *in, int n, int *quit)
{
    int rc = 0;
    for (int i = 0; i < n; i++) {
        if (rc == 0) {
            if (in[i].kind == LNET_IN_HANDSHAKE) {
                rc = ljoin_on_handshake(&w->join, &w->net, &w->sf, &in[i]);
            } else if (in[i].kind == LNET_IN_MSG) {
                if (in[i].sess == w->join.sess)
                    rc = on_sched_message(w, &in[i], quit);
                else
                    on_peer_message(w, &in[i]);
            } else if (in[i].kind == LNET_IN_READ) {
                on_read_event(w, &in[i].ev);
            } else if (in[i].kind == LNET_IN_BROKEN) {
                if (in[i].sess == w->join.sess)
                    rc = lc_seterr(LOCUS_ECLOSED, "worker", "the scheduler "
                                   "is gone: it acknowledges nothing");
                /* a peer: the scheduler says PEER_GONE when it is gone */
            }
        }
        lnet_done(&w->net, &in[i]);
    }
    return rc;
}

int worker_run(const struct worker_opts *o, volatile sig_atomic_t *stop)
{
    int rc = 0;
    worker *w = calloc(1, sizeof(*w));
    if (!w)
        return lc_seterr(LOCUS_ENOMEM, "worker", "no memory");
    w->o = o;
    w->id = -1;
    lc_map_init(&w->objs);
    lc_map_init(&w->tasks);
    lc_map_init(&w->fetches);
    lc_map_init(&w->inflight);
    pthread_mutex_init(&w->qmu, NULL);
    pthread_cond_init(&w->qcv, NULL);
    pthread_mutex_init(&w->dmu, NULL);
    w->net.wake_fd = -1;
    int quit = 0;

    /* bind first: memory touched before binding lands on the wrong node */
    LC_CHECK_RC(topo_load(o->topology, &w->topo), out, rc);
    w->node = o->numa_node >= 0 ? o->numa_node : 0;
    LC_CHECK(w->node < topo_numa_count(w->topo), out, rc, LOCUS_EINVAL,
             "worker", "NUMA node %d requested, the topology has %d", w->node,
             topo_numa_count(w->topo));
    LC_CHECK_RC(topo_bind_process(w->topo, w->node), out, rc);
    topo_numa_cpuset(w->topo, w->node, w->cpuset, sizeof(w->cpuset));
    w->nthreads = o->nthreads > 0 ? o->nthreads
                                  : topo_numa_ncores(w->topo, w->node);
    if (w->nthreads < 1)
        w->nthreads = 1;

    LC_CHECK_RC(auth_init(), out, rc);
    LC_CHECK_RC(schedfile_read(o->sched_file, &w->sf), out, rc);
    {
        /* bound already: the arena's pages land on our node */
        const char *jh = strchr(w->sf.job_id, '-');
        snprintf(w->arena_prefix, sizeof(w->arena_prefix), "/locus-%.16s-%d",
                 jh ? jh + 1 : w->sf.job_id, (int)getpid());
        struct arena_opts ao = {w->arena_prefix, o->memory_limit};
        LC_CHECK_RC(arena_create(&ao, &w->arena), out, rc);
    }
    LC_CHECK_RC(lnet_open(&w->net, o->provider ? o->provider : w->sf.provider,
                          o->bind, NULL, o->no_shm),
                out, rc);
    LC_CHECK_RC(lnet_route_to(&w->net, w->sf.host, w->sf.net_addr,
                              w->sf.shm_addr, &w->sched),
                out, rc);

    ljoin_init(&w->join, &w->net, &w->sf, w->sched, ROLE_WORKER, w->node,
               w->cpuset, w->nthreads);
    uint64_t join_deadline = lc_deadline_ms(o->timeout_ms > 0 ? o->timeout_ms
                                                              : 30000);
    uint64_t last_hb = 0;
    lnet_in in[64];
    while (!*stop && !quit) {
        int n = lnet_poll(&w->net, in, 64);
        LC_CHECK_RC(handle_inputs(w, in, n, &quit), out, rc);
        int joined = w->join.state == LJ_JOINED;
        if (joined && !w->threads)
            LC_CHECK_RC(start_threads(w), out, rc);
        if (!joined && lc_expired(join_deadline)) {
            rc = lc_seterr(LOCUS_ETIMEDOUT, "worker", "no answer from the "
                           "scheduler at %s within the deadline",
                           w->sf.net_addr);
            goto out;
        }
        ljoin_tick(&w->join, &w->net, &w->sf);
        if (joined)
            drain_done(w);
        uint64_t now = lc_now_ns();
        if (joined &&
            now - last_hb > (uint64_t)w->heartbeat_ms * 1000000ull) {
            wire_wr *hb = to_sched(w);
            wire_rec_begin(hb, REC_HEARTBEAT);
            wire_put_u32(hb, (uint32_t)atomic_load(&w->running));
            wire_put_u32(hb, (uint32_t)w->qlen);
            wire_put_u64(hb, w->tasks_done);
            wire_put_u64(hb, w->bytes_held);
            wire_put_u64(hb, arena_reserved(w->arena));
            wire_put_u64(hb, w->bytes_mapped);
            wire_put_u64(hb, w->bytes_rma);
            wire_put_u64(hb, w->bytes_inline);
            wire_put_u64(hb, w->tasks_local);
            wire_put_u64(hb, w->tasks_remote);
            wire_rec_end(hb);
            last_hb = now;
        }
        int backlog = lnet_flush(&w->net);
        if (n == 0)
            lnet_wait(&w->net, 50,
                      backlog                ? 1
                      : w->heartbeat_ms > 0 ? w->heartbeat_ms
                                            : 200);
    }
    if (w->join.state == LJ_JOINED && !quit) {
        /* goodbye: the scheduler processes everything before it, then
           confirms; we wait for that, a bounded time */
        wire_wr *bye = to_sched(w);
        wire_rec_begin(bye, REC_BYE);
        wire_rec_end(bye);
        uint64_t until = lc_deadline_ms(5000);
        while (!quit && !lc_expired(until)) {
            lnet_flush(&w->net);
            int n = lnet_poll(&w->net, in, 64);
            if (handle_inputs(w, in, n, &quit) != 0)
                break;
            if (n == 0)
                lnet_wait(&w->net, 0, 10);
        }
        if (quit != 2)
            lc_log(LC_LOG_WARN, "worker", "the scheduler did not confirm "
                   "our goodbye within 5 s");
        /* its acknowledgement of the GOODBYE */
        lnet_flush(&w->net);
    }
out:
    if (rc)
        lc_log(LC_LOG_ERROR, "worker", "%s", locus_last_error());
    stop_threads(w);
    /* tasks still queued or done are dropped with the process */
    for (struct locus_task *t = w->qhead; t;) {
        struct locus_task *n = t->next;
        task_destroy(w, t);
        t = n;
    }
    w->qhead = NULL;
    for (struct locus_task *t = w->dhead; t;) {
        struct locus_task *n = t->next;
        lc_map_del(&w->tasks, t->key);
        task_destroy(w, t);
        t = n;
    }
    {
        size_t it = 0;
        uint64_t k;
        void *v;
        while (lc_map_next(&w->fetches, &it, &k, &v)) {
            fetch *f = v;
            replica_put(f->copy);
            free(f->w);
            free(f);
        }
        it = 0;
        while (lc_map_next(&w->tasks, &it, &k, &v))
            task_destroy(w, v); /* waiting for inputs */
        it = 0;
        while (lc_map_next(&w->objs, &it, &k, &v)) {
            wobj *ob = v;
            ob->pins = 0;
            obj_free(w, ob);
        }
    }
    lc_map_free(&w->objs);
    lc_map_free(&w->tasks);
    lc_map_free(&w->fetches);
    lc_map_free(&w->inflight);
    for (int i = 0; i < w->cappeers; i++)
        free(w->peers[i]); /* their sessions go with the lnet */
    free(w->peers);
    for (int h = 0; h < 256; h++)
        for (fnent *e = w->fns[h]; e;) {
            fnent *n = e->next;
            free(e->name);
            free(e);
            e = n;
        }
    for (int i = 0; i < w->nlibs; i++) {
        /* libraries stay mapped: task threads are joined, but a library's
           destructors may still be referenced by atexit handlers */
        free(w->libpaths[i]);
    }
    free(w->libs);
    free(w->libpaths);
    lnet_close(&w->net);
    arena_destroy(w->arena);
    arena_map_clear();
    if (w->topo)
        topo_destroy(w->topo);
    pthread_mutex_destroy(&w->qmu);
    pthread_cond_destroy(&w->qcv);
    pthread_mutex_destroy(&w->dmu);
    free(w);
    return rc;
}

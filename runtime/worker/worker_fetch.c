/* SPDX-License-Identifier: BSD-3-Clause */
/* The data plane: inputs fetched from their holders (mapped on this host,
 * RMA across hosts, inline when small), and objects served to peers. */
#include "worker/worker_int.h"

#include "net/dataplane.h"

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

void worker_replica_put(replica *r)
{
    if (r && --r->refs == 0) {
        free(r->data);
        free(r);
    }
}

static void send_get_req(worker *w, wpeer *h, fetch *f)
{
    /* map the holder's segment in place when it is on this host
       ($LOCUS_NO_MAP forces the RMA path, for tests and benchmarks) */
    rec_put_get(out_to_peer(w, h), f->req, f->key,
                !h->no_map && !getenv("LOCUS_NO_MAP") &&
                    !strcmp(h->host, lc_hostname()));
}

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
    worker_input_arrived(w, t);
}

void worker_send_get(worker *w, struct locus_task *t, uint32_t i, uint64_t key,
                     int holder)
{
    fetch *f = lc_map_get(&w->inflight, key);
    if (!f) {
        wpeer *h = wpeer_get(w, holder);
        if (!h) {
            input_failed(w, t, LOCUS_ELOST,
                         "input %u is on worker %d, "
                         "which is not connected",
                         i, holder);
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
            input_failed(w, t, LOCUS_ENOMEM,
                         "out of memory fetching input "
                         "%u",
                         i);
            return;
        }
        if (lc_map_put(&w->inflight, key, f) != 0) {
            lc_map_del(&w->fetches, f->req);
            free(f);
            input_failed(w, t, LOCUS_ENOMEM,
                         "out of memory fetching input "
                         "%u",
                         i);
            return;
        }
        send_get_req(w, h, f);
    }
    if (f->nw == f->capw) {
        int ncap = f->capw ? f->capw * 2 : 4;
        waiter *nw = realloc(f->w, (size_t)ncap * sizeof(*nw));
        if (!nw) {
            input_failed(w, t, LOCUS_ENOMEM,
                         "out of memory fetching input "
                         "%u",
                         i);
            return;
        }
        f->w = nw;
        f->capw = ncap;
    }
    f->w[f->nw].t = t;
    f->w[f->nw].arg = i;
    f->nw++;
}

static void fetch_end(worker *w, fetch *f)
{
    lc_map_del(&w->fetches, f->req);
    lc_map_del(&w->inflight, f->key);
    worker_replica_put(f->copy);
    free(f->w);
    free(f);
}

void worker_fetch_failed(worker *w, fetch *f, int status, const char *msg)
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
        worker_input_arrived(w, t);
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
        worker_input_arrived(w, f->w[k].t);
    }
    fetch_end(w, f);
}

void worker_on_data(worker *w, int ep, wire_rd *r)
{
    rec_data d;
    int bad = rec_get_data(r, &d) != 0;
    fetch *f = lc_map_get(&w->fetches, d.req);
    if (!f)
        return;
    if (bad) {
        worker_fetch_failed(w, f, LOCUS_EPROTO, "malformed DATA record");
        return;
    }
    uint64_t nbytes = d.nbytes;
    int mode = d.mode;
    if (d.status != 0) {
        char msg[512];
        snprintf(msg, sizeof(msg), "%.*s", (int)d.nbytes_inline,
                 d.bytes ? (const char *)d.bytes : "");
        worker_fetch_failed(w, f, d.status, msg);
        return;
    }
    if (mode == DATA_SHM) {
        const char *name = d.segment;
        /* every waiting task holds its own reference to the mapping */
        arena_map *first = NULL;
        for (int k = 0; k < f->nw; k++) {
            arena_map *m;
            const void *b;
            if (dp_map(&d, &m, &b) != 0) {
                if (first) {
                    /* cannot happen after a first success; be safe */
                    worker_fetch_failed(w, f, LOCUS_ESYS, locus_last_error());
                    return;
                }
                /* not mappable here (other /dev/shm?): ask for RMA */
                wpeer *h = wpeer_get(w, f->holder);
                lc_log(LC_LOG_INFO, "worker",
                       "cannot map %s (%s): using "
                       "RMA with worker %d",
                       name, locus_last_error(), f->holder);
                if (!h) {
                    worker_fetch_failed(w, f, LOCUS_ELOST, "holder gone");
                    return;
                }
                h->no_map = 1;
                send_get_req(w, h, f);
                return;
            }
            first = first ? first : m;
            targ *a = &f->w[k].t->args[f->w[k].arg];
            a->map = m;
            a->p = b;
            a->len = nbytes;
        }
        w->bytes_mapped += nbytes;
        for (int k = 0; k < f->nw; k++)
            worker_input_arrived(w, f->w[k].t);
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
        worker_fetch_failed(w, f, LOCUS_ENOMEM, "out of memory for a copy");
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
    wpeer *h = wpeer_get(w, f->holder);
    if (!h || h->route.ep != ep) {
        worker_fetch_failed(w, f, LOCUS_EPROTO, "bad RMA descriptor");
        return;
    }
    /* the request id rides in the context pointer */
    int rc =
        dp_read(&w->net, h->route, &d, f->copy->data, (void *)(uintptr_t)d.req);
    if (rc != 0)
        worker_fetch_failed(w, f, rc, locus_last_error());
}

void worker_on_read_event(worker *w, xport_event *ev)
{
    uint64_t req = (uint64_t)(uintptr_t)ev->ctx;
    fetch *f = lc_map_get(&w->fetches, req);
    if (!f)
        return;
    if (ev->kind == XPORT_EV_READ_ERROR) {
        worker_fetch_failed(w, f, ev->status, locus_strerror(ev->status));
        return;
    }
    w->bytes_rma += f->copy->len;
    fetch_done(w, f, f->copy->data, f->copy->len);
}

/* A peer asks for an object this worker holds. */
void worker_on_get(worker *w, wpeer *p, wire_rd *r)
{
    uint64_t req, key;
    int may_map;
    if (rec_get_get(r, &req, &key, &may_map) != 0)
        return;
    wobj *o = lc_kt_get(&w->objs, key);
    wire_wr *out = out_to_peer(w, p);
    if (!o || o->freed) {
        char m[160];
        snprintf(m, sizeof(m),
                 "object %llx is not on worker %d (freed or "
                 "never computed here)",
                 (unsigned long long)key, w->id);
        rec_put_data_error(out, req, LOCUS_ENOENT, m);
        return;
    }
    rec_data d;
    d.req = req;
    /* inline when it fits easily in a message */
    size_t inline_max = w->net.msg_size / 2 > 64 ? w->net.msg_size / 2 - 64 : 0;
    int rc = dp_describe(w->arena, &w->net, p->route.ep, o->data, o->len,
                         may_map, inline_max, &d);
    if (rc != 0) {
        rec_put_data_error(out, req, rc, locus_last_error());
        return;
    }
    rec_put_data(out, &d);
}

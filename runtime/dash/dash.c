/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The sink: what the scheduler's thread calls.  One mutex, held for a few
 * stores each time; the readers copy under it and format outside it.
 */
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "dash/dash_int.h"

const double dash_bucket_le[DASH_NBUCKETS] = {
    1e-6, 3e-6, 1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2,
    3e-2, 0.1,  0.3,  1,    3,    10,   30,   100};

int dash_open(const struct dash_opts *o, dash **out)
{
    int rc = 0;
    dash *d = NULL;
    *out = NULL;
    LC_CHECK(o && o->size >= sizeof(size_t), out, rc, LOCUS_EINVAL, "dash",
             "dash_open: no options or bad size");
    if (!o->http && !(o->trace && *o->trace))
        return 0;
    d = calloc(1, sizeof(*d));
    LC_CHECK(d, out, rc, LOCUS_ENOMEM, "dash", "dashboard: no memory");
    /* options from an older caller: the fields it did not know stay 0 */
    memcpy(&d->o, o, o->size < sizeof(d->o) ? o->size : sizeof(d->o));
    d->o.size = sizeof(d->o);
    d->t0_ns = lc_now_ns();
    pthread_mutex_init(&d->mu, NULL);
    memset(d->fnhash, 0xff, sizeof(d->fnhash));
    snprintf(d->fns[DASH_MAXFN].name, DASH_FN_LEN, "(other)");
    d->ring = calloc(DASH_RING, sizeof(dash_rec));
    LC_CHECK(d->ring, out, rc, LOCUS_ENOMEM, "dash",
             "dashboard: no memory "
             "for the task stream");
    if (d->o.trace && *d->o.trace)
        LC_CHECK_RC(dash_trace_start(d), out, rc);
    if (d->o.http)
        LC_CHECK_RC(dash_http_start(d), out, rc);
    *out = d;
    return 0;
out:
    dash_close(d);
    return rc;
}

void dash_close(dash *d)
{
    if (!d)
        return;
    dash_http_stop(d);
    dash_trace_stop(d);
    pthread_mutex_destroy(&d->mu);
    free(d->ring);
    free(d->wk);
    free(d);
}

const char *dash_url(const dash *d)
{
    return d ? d->url : "";
}

/* ---- feeding
 * ------------------------------------------------------------------- */

static uint32_t fn_hash(const char *s)
{
    uint32_t h = 2166136261u;
    for (int i = 0; s[i] && i < DASH_FN_LEN - 1; i++)
        h = (h ^ (uint8_t)s[i]) * 16777619u;
    return h;
}

/* Index of fn in d->fns, adding it while there is room.  Under mu. */
static int fn_index(dash *d, const char *fn)
{
    if (!fn)
        fn = "?";
    uint32_t h = fn_hash(fn) & (DASH_FN_HASH - 1);
    for (;;) {
        int i = d->fnhash[h];
        if (i < 0)
            break;
        if (!strncmp(d->fns[i].name, fn, DASH_FN_LEN - 1))
            return i;
        h = (h + 1) & (DASH_FN_HASH - 1);
    }
    if (d->nfn == DASH_MAXFN)
        return DASH_MAXFN;
    int i = d->nfn++;
    snprintf(d->fns[i].name, DASH_FN_LEN, "%s", fn);
    d->fnhash[h] = (int16_t)i;
    return i;
}

static int bucket(uint64_t ns)
{
    double s = (double)ns * 1e-9;
    int b = 0;
    while (b < DASH_NBUCKETS && s > dash_bucket_le[b])
        b++;
    return b;
}

void dash_task_event(dash *d, const struct dash_task_ev *e)
{
    if (!d)
        return;
    int bars = e->duration_ns > 0 && e->worker > 0;
    int b = bars ? bucket(e->duration_ns) : 0;
    pthread_mutex_lock(&d->mu);
    int i = fn_index(d, e->fn);
    dash_fn *f = &d->fns[i];
    if (e->from != e->to) {
        if (e->from != DASH_T_NONE && e->from < DASH_NSTATES &&
            f->n[e->from] > 0)
            f->n[e->from]--;
        if (e->to != DASH_T_NONE && e->to < DASH_NSTATES)
            f->n[e->to]++;
        if (e->from == DASH_T_NONE && e->to == DASH_T_WAITING)
            f->submitted++;
    }
    if (bars) {
        f->hist[b]++;
        f->dur_sum_s += (double)e->duration_ns * 1e-9;
        f->dur_count++;
        f->bytes_stayed += e->bytes_stayed;
        f->bytes_same_host += e->bytes_same_host;
        f->bytes_other_host += e->bytes_other_host;
        dash_rec *r = &d->ring[d->nrec & (DASH_RING - 1)];
        r->start_ns = e->start_ns;
        r->duration_ns = e->duration_ns;
        r->bytes_stayed = e->bytes_stayed;
        r->bytes_same_host = e->bytes_same_host;
        r->bytes_other_host = e->bytes_other_host;
        r->worker = e->worker;
        r->thread = e->thread;
        r->src_worker = e->src_worker > 0 ? e->src_worker : -1;
        r->status = e->status;
        r->fn = (uint16_t)i;
        d->nrec++;
        if (e->worker < d->capwk)
            d->wk[e->worker].bars++;
    }
    pthread_mutex_unlock(&d->mu);
}

void dash_worker_update(dash *d, const struct dash_worker *w)
{
    if (!d || w->id < 0 || w->id >= DASH_MAXWORKERS)
        return;
    pthread_mutex_lock(&d->mu);
    if (w->id >= d->capwk) {
        /* a new worker id: rare, so growing here is fine */
        int ncap = d->capwk ? d->capwk : 64;
        while (ncap <= w->id)
            ncap *= 2;
        dash_wk *nw = realloc(d->wk, (size_t)ncap * sizeof(*nw));
        if (!nw) {
            pthread_mutex_unlock(&d->mu);
            return;
        }
        memset(nw + d->capwk, 0, (size_t)(ncap - d->capwk) * sizeof(*nw));
        d->wk = nw;
        d->capwk = ncap;
    }
    dash_wk *k = &d->wk[w->id];
    if (!k->used)
        k->bars = 0;
    k->used = 1;
    k->id = w->id;
    k->pid = w->pid;
    k->numa = w->numa;
    k->nthreads = w->nthreads;
    snprintf(k->host, sizeof(k->host), "%s", w->host ? w->host : "");
    snprintf(k->cpuset, sizeof(k->cpuset), "%s", w->cpuset ? w->cpuset : "");
    k->running = w->running;
    k->queued = w->queued;
    k->sched_queued = w->sched_queued;
    k->tasks_done = w->tasks_done;
    k->bytes_held = w->bytes_held;
    k->arena_reserved = w->arena_reserved;
    k->bytes_mapped = w->bytes_mapped;
    k->bytes_rma = w->bytes_rma;
    k->bytes_inline = w->bytes_inline;
    k->tasks_local = w->tasks_local;
    k->tasks_remote = w->tasks_remote;
    k->last_heartbeat_ns = w->last_heartbeat_ns;
    pthread_mutex_unlock(&d->mu);
}

void dash_worker_gone(dash *d, int id)
{
    if (!d)
        return;
    pthread_mutex_lock(&d->mu);
    if (id >= 0 && id < d->capwk)
        d->wk[id].used = 0;
    pthread_mutex_unlock(&d->mu);
}

void dash_counter_add(dash *d, enum dash_counter c, uint64_t n)
{
    if (!d || (unsigned)c >= DASH_NCOUNTERS)
        return;
    atomic_fetch_add_explicit(&d->counters[c], n, memory_order_relaxed);
}

void dash_counter_set(dash *d, enum dash_counter c, uint64_t v)
{
    if (!d || (unsigned)c >= DASH_NCOUNTERS)
        return;
    atomic_store_explicit(&d->counters[c], v, memory_order_relaxed);
}

void dash_gauge_set(dash *d, enum dash_gauge g, int64_t v)
{
    if (!d || (unsigned)g >= DASH_NGAUGES)
        return;
    atomic_store_explicit(&d->gauges[g], v, memory_order_relaxed);
}

/* ---- reading
 * ----------------------------------------------------------------------- */

int dash_snapshot(dash *d, dash_snap *s)
{
    memset(s, 0, sizeof(*s));
    s->fns = malloc((DASH_MAXFN + 1) * sizeof(dash_fn));
    pthread_mutex_lock(&d->mu);
    int nwk = 0;
    for (int i = 0; i < d->capwk; i++)
        nwk += d->wk[i].used;
    s->wk = malloc((size_t)(nwk ? nwk : 1) * sizeof(dash_wk));
    if (!s->fns || !s->wk) {
        pthread_mutex_unlock(&d->mu);
        dash_snap_free(s);
        return LOCUS_ENOMEM;
    }
    s->nfn = d->nfn;
    memcpy(s->fns, d->fns, (size_t)d->nfn * sizeof(dash_fn));
    s->fns[d->nfn] = d->fns[DASH_MAXFN];
    for (int i = 0; i < d->capwk; i++)
        if (d->wk[i].used)
            s->wk[s->nwk++] = d->wk[i];
    for (int i = 0; i < DASH_NCOUNTERS; i++)
        s->counters[i] =
            atomic_load_explicit(&d->counters[i], memory_order_relaxed);
    for (int i = 0; i < DASH_NGAUGES; i++)
        s->gauges[i] =
            atomic_load_explicit(&d->gauges[i], memory_order_relaxed);
    memcpy(s->http_requests, d->http_requests, sizeof(s->http_requests));
    s->nrec = d->nrec;
    s->trace_lost = d->trace_lost;
    s->now_ns = lc_now_ns();
    pthread_mutex_unlock(&d->mu);
    s->now_s = (double)(s->now_ns - d->t0_ns) * 1e-9;
    return 0;
}

void dash_snap_free(dash_snap *s)
{
    free(s->fns);
    free(s->wk);
    memset(s, 0, sizeof(*s));
}

size_t dash_records(dash *d, uint64_t since, size_t max, dash_rec *out,
                    uint64_t *first, uint64_t *next)
{
    pthread_mutex_lock(&d->mu);
    uint64_t end = d->nrec;
    uint64_t lo = end > DASH_RING ? end - DASH_RING : 0;
    if (since > lo)
        lo = since;
    if (lo > end)
        lo = end;
    if (end - lo > max)
        lo = end - max;
    for (uint64_t i = lo; i < end; i++)
        out[i - lo] = d->ring[i & (DASH_RING - 1)];
    pthread_mutex_unlock(&d->mu);
    *first = lo;
    *next = end;
    return (size_t)(end - lo);
}

/* ---- text
 * ------------------------------------------------------------------------------
 */

static int dbuf_grow(dbuf *b, size_t need)
{
    if (b->err)
        return -1;
    if (b->len + need + 1 <= b->cap)
        return 0;
    size_t ncap = b->cap ? b->cap : 4096;
    while (ncap < b->len + need + 1)
        ncap *= 2;
    char *np = realloc(b->p, ncap);
    if (!np) {
        b->err = 1;
        return -1;
    }
    b->p = np;
    b->cap = ncap;
    return 0;
}

void dbuf_printf(dbuf *b, const char *fmt, ...)
{
    va_list ap;
    char small[256];
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0 || dbuf_grow(b, (size_t)n) != 0)
        return;
    if ((size_t)n < sizeof(small)) {
        memcpy(b->p + b->len, small, (size_t)n + 1);
    } else {
        va_start(ap, fmt);
        vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    b->len += (size_t)n;
}

void dbuf_puts(dbuf *b, const char *s)
{
    size_t n = strlen(s);
    if (dbuf_grow(b, n) != 0)
        return;
    memcpy(b->p + b->len, s, n + 1);
    b->len += n;
}

void dbuf_json_str(dbuf *b, const char *s)
{
    if (dbuf_grow(b, 6 * strlen(s) + 2) != 0)
        return;
    char *o = b->p + b->len;
    *o++ = '"';
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') {
            *o++ = '\\';
            *o++ = (char)*p;
        } else if (*p < 0x20 || *p >= 0x7f || *p == '<' || *p == '>' ||
                   *p == '&') {
            /* control characters; bytes >= 0x7f as Latin-1 (valid JSON
               whatever a peer sent); markup (the page never inserts strings
               as HTML: a second fence) */
            o += sprintf(o, "\\u%04x", *p);
        } else {
            *o++ = (char)*p;
        }
    }
    *o++ = '"';
    *o = 0;
    b->len = (size_t)(o - b->p);
}

void dbuf_label(dbuf *b, const char *s)
{
    if (dbuf_grow(b, 2 * strlen(s) + 2) != 0)
        return;
    char *o = b->p + b->len;
    *o++ = '"';
    for (const char *p = s; *p; p++) {
        if (*p == '"' || *p == '\\') {
            *o++ = '\\';
            *o++ = *p;
        } else if (*p == '\n') {
            *o++ = '\\';
            *o++ = 'n';
        } else if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f) {
            *o++ = '?'; /* labels must be UTF-8: keep them ASCII */
        } else {
            *o++ = *p;
        }
    }
    *o++ = '"';
    *o = 0;
    b->len = (size_t)(o - b->p);
}

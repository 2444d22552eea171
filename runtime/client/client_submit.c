/* SPDX-License-Identifier: BSD-3-Clause */
/* Submitting: arguments checked at the API edge, records for the
 * scheduler, big arguments kept in the client's arena. */
#include "client/client_int.h"

/* The caller's options over the defaults in *o (any size from the first
   version's, which ends at flags, to this one's). */
static int submit_opts(struct locus_submit_opts *o,
                       const struct locus_submit_opts *opts)
{
    return lc_opts_copy(o, opts, LC_OPTS_END(struct locus_submit_opts, flags),
                        sizeof(*o), "submit opts", "LOCUS_SUBMIT_OPTS_INIT");
}

/* max_args: arguments one task may take (a map's inputs are not that) */
static int check_args(const char *fn, const locus_arg *args, size_t nargs,
                      size_t max_args, const struct locus_submit_opts *opts,
                      locus_client *c)
{
    if (!fn || !*fn || strlen(fn) > 255)
        return lc_seterr(LOCUS_EINVAL, "client",
                         "function name is empty or "
                         "longer than 255 characters");
    if (nargs && !args)
        return lc_seterr(LOCUS_EINVAL, "client",
                         "%s: %zu arguments but args "
                         "is NULL",
                         fn, nargs);
    if (nargs > max_args)
        return lc_seterr(LOCUS_EINVAL, "client",
                         "%s: %zu arguments (at most "
                         "%zu)",
                         fn, nargs, max_args);
    if (opts) {
        if (opts->flags)
            return lc_seterr(LOCUS_EINVAL, "client",
                             "unknown submit flag "
                             "bits 0x%x",
                             opts->flags);
        if (opts->nworkers && !opts->workers)
            return lc_seterr(LOCUS_EINVAL, "client",
                             "opts.nworkers is %zu "
                             "but opts.workers is NULL",
                             opts->nworkers);
    }
    for (size_t i = 0; i < nargs; i++) {
        const locus_arg *a = &args[i];
        switch (a->kind) {
        case LOCUS_ARG_BYTES:
            if (a->len && !a->data)
                return lc_seterr(LOCUS_EINVAL, "client",
                                 "%s: argument %zu "
                                 "has %zu bytes at NULL",
                                 fn, i, a->len);
            break;
        case LOCUS_ARG_I64:
        case LOCUS_ARG_F64:
            break;
        case LOCUS_ARG_FUTURE:
            /* a released future cannot be told from here: it is freed
               (locus_release says so) */
            if (!a->future || a->future->c != c)
                return lc_seterr(LOCUS_EINVAL, "client",
                                 "%s: argument %zu is "
                                 "NULL or a future of another client",
                                 fn, i);
            break;
        default:
            return lc_seterr(LOCUS_EINVAL, "client",
                             "%s: argument %zu has "
                             "unknown kind %d",
                             fn, i, a->kind);
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

/* ---- direct submission (leases; runtime/sched/sched_direct.c) ----------
 *
 * A task whose arguments are all inline bytes (no future: nothing to be
 * near; no big argument) and that may run anywhere goes straight to a
 * worker we hold a lease on, round robin over the leases with a free slot:
 * COMPUTE_DIRECT on our pair session with it, SUBMIT_DIRECT to the
 * scheduler, which keeps the graph and everything that follows from it.
 * The first eligible task without a free slot asks for leases (once per
 * new worker); until they come, tasks go the scheduler's way.
 */

/* What a call wrote into workers' direct buffers, to take it back. */
struct dmark {
    int id;
    size_t len;
    uint32_t nrec;
};
typedef struct dmarks {
    struct dmark *m;
    size_t n, cap;
} dmarks;

static int direct_ok(const locus_arg *args, size_t nargs, size_t nworkers)
{
    if (nworkers)
        return 0;
    for (size_t i = 0; i < nargs; i++)
        if (args[i].kind == LOCUS_ARG_FUTURE ||
            (args[i].kind == LOCUS_ARG_BYTES && args[i].len > PUT_MIN))
            return 0;
    return 1;
}

/* under mu: a leased worker with a free slot, or NULL (leases asked) */
static cpeer *lease_pick(locus_client *c, dmarks *dm)
{
    if (c->no_direct || c->state != C_JOINED)
        return NULL;
    int n = c->cappeers;
    for (int k = 0; k < n; k++) {
        int id = (c->lease_next + k) % n;
        cpeer *p = cpeer_get(c, id);
        if (!p || !p->sess || p->out >= p->slots)
            continue;
        for (size_t i = 0; dm && i < dm->n; i++)
            if (dm->m[i].id == id)
                goto marked;
        if (dm) {
            if (dm->n == dm->cap) {
                size_t ncap = dm->cap ? dm->cap * 2 : 8;
                struct dmark *nm = realloc(dm->m, ncap * sizeof(*nm));
                if (!nm)
                    return NULL;
                dm->m = nm;
                dm->cap = ncap;
            }
            dm->m[dm->n++] = (struct dmark){id, p->direct.len, p->direct.nrec};
        }
    marked:
        c->lease_next = id + 1;
        return p;
    }
    if (!c->lease_asked) {
        wire_rec_begin(&c->pending, REC_LEASE_REQ);
        wire_put_u64(&c->pending, ++c->next_req);
        wire_rec_end(&c->pending);
        c->lease_asked = 1;
    }
    return NULL;
}

void client_direct_done(locus_client *c, struct locus_future *f)
{
    cpeer *p = f->direct ? cpeer_get(c, f->direct) : NULL;
    if (p && p->out)
        p->out--;
    f->direct = 0;
}

void client_lease_end(locus_client *c, cpeer *p)
{
    (void)c;
    p->slots = 0;
    p->out = 0;
    wire_wr_reset(&p->direct); /* their SUBMIT_DIRECTs find another worker */
    wire_wr_reset(&p->rel);
}

/* under mu: p's COMPUTE_DIRECT for f */
static void put_direct(locus_client *c, cpeer *p, struct locus_future *f,
                       const char *fn, const locus_arg *args, size_t nargs)
{
    wire_wr *o = &p->direct;
    wire_rec_begin(o, REC_COMPUTE_DIRECT);
    wire_put_u64(o, f->key);
    wire_put_str(o, fn);
    wire_put_u32(o, (uint32_t)nargs);
    for (size_t i = 0; i < nargs; i++) {
        const locus_arg *a = &args[i];
        wire_put_u8(o, ARG_BYTES);
        if (a->kind == LOCUS_ARG_I64)
            wire_put_bytes(o, &a->v.i64, 8);
        else if (a->kind == LOCUS_ARG_F64)
            wire_put_bytes(o, &a->v.f64, 8);
        else
            wire_put_bytes(o, a->data, a->len);
    }
    wire_rec_end(o);
    if (!p->dirty) {
        if (c->nddirty == c->capddirty) {
            int ncap = c->capddirty ? c->capddirty * 2 : 16;
            int *nd = realloc(c->ddirty, (size_t)ncap * sizeof(*nd));
            if (!nd) {
                o->err = 1; /* the caller takes the call back */
                return;
            }
            c->ddirty = nd;
            c->capddirty = ncap;
        }
        c->ddirty[c->nddirty++] = p->id;
        p->dirty = 1;
    }
    p->out++;
    f->direct = p->id;
}

/* "task-<client>-<seq>" into buf (40 bytes): what snprintf would write,
   at a tenth of its cost, once per task of a map */
static void key_name(char *buf, int id, uint64_t seq)
{
    char tmp[24];
    int n = 0;
    memcpy(buf, "task-", 5);
    char *o = buf + 5;
    uint64_t v = (uint64_t)(id < 0 ? 0 : id);
    do
        tmp[n++] = (char)('0' + v % 10);
    while ((v /= 10) && n < 24);
    while (n)
        *o++ = tmp[--n];
    *o++ = '-';
    do
        tmp[n++] = (char)('0' + seq % 10);
    while ((seq /= 10) && n < 24);
    while (n)
        *o++ = tmp[--n];
    *o = 0;
}

/* under mu: make a future and write its SUBMIT record (and, on a lease,
   its COMPUTE_DIRECT) */
static struct locus_future *submit_locked(locus_client *c, const char *fn,
                                          const locus_arg *args, size_t nargs,
                                          const int *workers, size_t nworkers,
                                          int retries, dmarks *dm, uint64_t now)
{
    struct locus_future *f = calloc(1, sizeof(*f));
    if (!f)
        return NULL;
    f->c = c;
    f->key = ((uint64_t)c->id << 40) | ++c->seq;
    atomic_init(&f->refs, 1);
    atomic_init(&f->state, F_PENDING);
    f->worker = -1;
    key_name(f->keystr, c->id, c->seq);
    if (lc_kt_put(&c->futures, f->key, f) != 0) {
        free(f);
        return NULL;
    }
    cpeer *lease = direct_ok(args, nargs, nworkers) ? lease_pick(c, dm) : NULL;
    wire_wr *o = &c->pending;
    if (lease) {
        put_direct(c, lease, f, fn, args, nargs);
        o = &c->books;
        f->booked = 1;
        f->book_off = o->len;
        f->book_gen = c->books_gen;
        f->book_ns = now;
        if (!o->len)
            c->books_ns = f->book_ns;
        wire_rec_begin(o, REC_SUBMIT_DIRECT);
        wire_put_u32(o, (uint32_t)lease->id);
    } else {
        wire_rec_begin(o, REC_SUBMIT);
    }
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
                lc_kt_del(&c->futures, f->key);
                client_drop_puts(c, f);
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
    int rc = client_check_open(c);
    size_t done = 0;
    /* other threads' records may precede ours in the pending buffer */
    size_t start_len = c->pending.len, start_blen = c->books.len;
    uint32_t start_nrec = c->pending.nrec, start_lazy = c->pending_lazy;
    uint32_t start_bnrec = c->books.nrec;
    dmarks dm = {0};
    uint64_t now = lc_now_ns(); /* one reading for the call's books */
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
        out[done] = submit_locked(c, fn, a, na, ws, nw, retries, &dm, now);
        cpeer *dp = out[done] && out[done]->direct
                        ? cpeer_get(c, out[done]->direct)
                        : NULL;
        if (!out[done] || c->pending.err || c->books.err ||
            (dp && dp->direct.err))
            rc = lc_seterr(
                LOCUS_ENOMEM, "client", "task %zu of %zu: %s", done, ntasks,
                *locus_last_error() ? locus_last_error() : "out of memory");
    }
    if (rc) {
        /* nothing was sent yet: take every record of this call back */
        for (size_t i = 0; i < done; i++) {
            if (out[i]) {
                client_direct_done(c, out[i]);
                lc_kt_del(&c->futures, out[i]->key);
                client_drop_puts(c, out[i]);
                free(out[i]);
            }
            out[i] = NULL;
        }
        c->pending.len = start_len; /* the thread swaps only under mu */
        c->pending.nrec = start_nrec;
        c->pending_lazy = start_lazy;
        c->pending.err = 0;
        c->books.len = start_blen;
        c->books.nrec = start_bnrec;
        c->books.err = 0;
        for (size_t i = 0; i < dm.n; i++) {
            cpeer *p = cpeer_get(c, dm.m[i].id);
            if (p) {
                p->direct.len = dm.m[i].len;
                p->direct.nrec = dm.m[i].nrec;
                p->direct.err = 0;
            }
        }
    }
    pthread_mutex_unlock(&c->mu);
    free(dm.m);
    if (!rc)
        client_kick(c); /* sent from here when nobody drives */
    return rc;
}

int locus_submit(locus_client *c, const char *fn, const locus_arg *args,
                 size_t nargs, const struct locus_submit_opts *opts,
                 locus_future **out)
{
    lc_clearerr();
    if (!c || !out)
        return lc_seterr(LOCUS_EINVAL, "client",
                         "locus_submit: NULL client "
                         "or out");
    *out = NULL;
    struct locus_submit_opts o = LOCUS_SUBMIT_OPTS_INIT;
    int rc = submit_opts(&o, opts);
    if (rc)
        return rc;
    opts = &o;
    rc = check_args(fn, args, nargs, 65535, opts, c);
    if (rc)
        return rc;
    return submit_many(c, fn, args, nargs, 1, 0, opts, NULL, out);
}

int locus_map(locus_client *c, const char *fn, const locus_arg *inputs,
              size_t n, const struct locus_submit_opts *opts,
              locus_future **out)
{
    lc_clearerr();
    if (!c || !out || (n && !inputs))
        return lc_seterr(LOCUS_EINVAL, "client", "locus_map: NULL argument");
    struct locus_submit_opts o = LOCUS_SUBMIT_OPTS_INIT;
    int rc = submit_opts(&o, opts);
    if (rc)
        return rc;
    opts = &o;
    rc = check_args(fn, inputs, n, SIZE_MAX, opts, c);
    if (rc)
        return rc;
    return submit_many(c, fn, inputs, 1, n, 1, opts, NULL, out);
}

/* Ids of every worker connected now, in the scheduler's order: counted,
   then allocated (a worker that joins between the two asks is waited
   for by asking again).  *ids is malloc'd; LOCUS_ENOWORKERS if none. */
static int connected_workers(locus_client *c, const char *who, int **ids,
                             size_t *n)
{
    *ids = NULL;
    *n = 0;
    size_t cap = 0, got = 0;
    int rc = locus_workers(c, NULL, 0, &got);
    locus_worker_info *wi = NULL;
    for (int tries = 0; !rc && got > cap; tries++) {
        if (tries == 8) {
            rc = lc_seterr(LOCUS_EAGAIN, "client",
                           "%s: workers keep joining; try again", who);
            break;
        }
        cap = got + 4;
        locus_worker_info *nwi = realloc(wi, cap * sizeof(*wi));
        if (!nwi) {
            rc = lc_seterr(LOCUS_ENOMEM, "client", "no memory");
            break;
        }
        wi = nwi;
        rc = locus_workers(c, wi, cap, &got);
    }
    if (!rc && got == 0)
        rc = lc_seterr(LOCUS_ENOWORKERS, "client", "%s: no worker is connected",
                       who);
    int *out = rc ? NULL : malloc(got * sizeof(*out));
    if (!rc && !out)
        rc = lc_seterr(LOCUS_ENOMEM, "client", "no memory");
    for (size_t i = 0; !rc && i < got; i++)
        out[i] = wi[i].id;
    free(wi);
    if (!rc) {
        *ids = out;
        *n = got;
    }
    return rc;
}

int locus_scatter(locus_client *c, const locus_arg *values, size_t n,
                  const struct locus_submit_opts *opts, locus_future **out)
{
    lc_clearerr();
    if (!c || !out || (n && !values))
        return lc_seterr(LOCUS_EINVAL, "client",
                         "locus_scatter: NULL "
                         "argument");
    struct locus_submit_opts o = LOCUS_SUBMIT_OPTS_INIT;
    int rc = submit_opts(&o, opts);
    if (rc)
        return rc;
    opts = &o;
    rc = check_args("locus.identity", values, n, SIZE_MAX, opts, c);
    if (rc)
        return rc;
    for (size_t i = 0; i < n; i++)
        if (values[i].kind == LOCUS_ARG_FUTURE)
            return lc_seterr(LOCUS_EINVAL, "client",
                             "locus_scatter: value "
                             "%zu is a future; scatter takes client data",
                             i);
    /* spread round-robin over the allowed workers, or all workers */
    int *ids = NULL;
    size_t nids = 0;
    if (opts && opts->nworkers) {
        ids = malloc(opts->nworkers * sizeof(int));
        if (ids)
            memcpy(ids, opts->workers, opts->nworkers * sizeof(int));
        nids = opts->nworkers;
    } else {
        rc = connected_workers(c, "locus_scatter", &ids, &nids);
        if (rc)
            return rc;
    }
    int *per = ids ? calloc(n ? n : 1, sizeof(int)) : NULL;
    if (!per) {
        free(ids);
        return lc_seterr(LOCUS_ENOMEM, "client", "no memory");
    }
    for (size_t i = 0; i < n; i++)
        per[i] = ids[i % nids];
    struct locus_submit_opts so = LOCUS_SUBMIT_OPTS_INIT;
    rc = submit_many(c, "locus.identity", values, 1, n, 1, &so, per, out);
    for (size_t i = 0; !rc && i < n; i++)
        if (values[i].kind == LOCUS_ARG_I64 || values[i].kind == LOCUS_ARG_F64)
            out[i]->vkind = values[i].kind;
    free(per);
    free(ids);
    return rc;
}

int locus_run_on_all(locus_client *c, const char *fn, const locus_arg *args,
                     size_t nargs, locus_future ***out, int **worker_ids,
                     size_t *n)
{
    lc_clearerr();
    if (!c || !out || !n)
        return lc_seterr(LOCUS_EINVAL, "client",
                         "locus_run_on_all: NULL "
                         "argument");
    *out = NULL;
    *n = 0;
    if (worker_ids)
        *worker_ids = NULL;
    int rc = check_args(fn, args, nargs, 65535, NULL, c);
    if (rc)
        return rc;
    int *ids = NULL;
    size_t nw = 0;
    rc = connected_workers(c, "locus_run_on_all", &ids, &nw);
    if (rc)
        return rc;
    locus_future **fs = calloc(nw, sizeof(*fs));
    if (!fs) {
        free(ids);
        return lc_seterr(LOCUS_ENOMEM, "client", "no memory");
    }
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

/* ---- waiting
 * ----------------------------------------------------------------------- */

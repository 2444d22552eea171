/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * locus_array: the client side of chunked arrays.
 *
 * An array is metadata (dtype, shape, chunk sizes per axis) plus one node
 * per chunk.  A node is a task not yet submitted: a function name and
 * arguments, some of which are other nodes; a leaf node wraps a future the
 * user gave.  Operations only make nodes (nothing is sent), sharing the
 * nodes of their inputs.  compute/persist/store walk the nodes, submit
 * those without a future (children first, so a task's inputs are futures),
 * and wait.  Submitted futures are kept in their nodes (computing twice
 * runs nothing twice); once a node's result exists its children are
 * dropped, which releases intermediate results on the workers unless
 * another array still holds them.  A failed node forgets its future, so a
 * later compute tries again.
 *
 * Placement is the scheduler's: a task goes where most of its input bytes
 * are.  Only leaves of HDF5 loads are pinned (to spread chunks over
 * workers); reductions combine partials in a tree whose groups follow the
 * expected location of the chunks.
 *
 * Nodes' reference counts are atomic; everything else in the graph that
 * changes after construction (futures, pruned arguments) changes under
 * arr_mu, which is never held while waiting.
 */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "array/array_int.h"
#include "array/array_tasks.h"
#include "array/ndbuf.h"
#include "base/base.h"

#define FANIN 8

enum { AK_NONE, AK_BYTES, AK_I64, AK_F64, AK_NODE, AK_FUTURE };

typedef struct anode anode;

typedef struct aarg {
    int kind;
    void *bytes;
    size_t len;
    int64_t i64;
    double f64;
    anode *node;
    locus_future *fut;
} aarg;

struct anode {
    atomic_int refs;
    locus_client *c;
    char *fn; /* NULL: a leaf whose future was given */
    aarg *args;
    uint32_t nargs, cap;
    int oom;
    int worker; /* restriction, -1 none */
    int hint;   /* worker expected to hold the result, -1 unknown */
    locus_future *fut;
    uint64_t mark;
    int dtype, ndim;
    int64_t shape[LOCUS_NDIM_MAX];
};

struct locus_array {
    locus_client *c;
    int dtype, ndim;
    int64_t shape[LOCUS_NDIM_MAX];
    int64_t *csz[LOCUS_NDIM_MAX];  /* chunk sizes along each axis */
    int64_t *coff[LOCUS_NDIM_MAX]; /* their offsets (ncsz + 1 entries) */
    size_t ncsz[LOCUS_NDIM_MAX];
    size_t nchunks;
    anode **nodes; /* C order over the chunk grid */
    array_stats stats;
};

static pthread_mutex_t arr_mu = PTHREAD_MUTEX_INITIALIZER;
static uint64_t mark_gen;

/* ---- nodes --------------------------------------------------------------- */

static anode *node_new(locus_client *c, const char *fn, int dtype, int ndim,
                       const int64_t *shape)
{
    anode *n = calloc(1, sizeof(*n));
    if (!n)
        return NULL;
    atomic_init(&n->refs, 1);
    n->c = c;
    n->worker = n->hint = -1;
    n->dtype = dtype;
    n->ndim = ndim;
    for (int i = 0; i < ndim; i++)
        n->shape[i] = shape[i];
    if (fn && !(n->fn = strdup(fn))) {
        free(n);
        return NULL;
    }
    return n;
}

static anode *node_ref(anode *n)
{
    atomic_fetch_add(&n->refs, 1);
    return n;
}

static void arg_clear(aarg *a);

static void node_unref(anode *n)
{
    if (!n || atomic_fetch_sub(&n->refs, 1) != 1)
        return;
    for (uint32_t i = 0; i < n->nargs; i++)
        arg_clear(&n->args[i]);
    free(n->args);
    locus_release(n->fut);
    free(n->fn);
    free(n);
}

static void arg_clear(aarg *a)
{
    if (a->kind == AK_NODE)
        node_unref(a->node);
    else if (a->kind == AK_FUTURE)
        locus_release(a->fut);
    free(a->bytes);
    memset(a, 0, sizeof(*a));
}

static aarg *arg_push(anode *n)
{
    if (n->nargs == n->cap) {
        uint32_t nc = n->cap ? 2 * n->cap : 4;
        aarg *na = realloc(n->args, nc * sizeof(*na));
        if (!na) {
            n->oom = 1;
            return NULL;
        }
        n->args = na;
        n->cap = nc;
    }
    aarg *a = &n->args[n->nargs++];
    memset(a, 0, sizeof(*a));
    return a;
}

static void arg_bytes(anode *n, const void *p, size_t len)
{
    aarg *a = arg_push(n);
    if (!a)
        return;
    a->kind = AK_BYTES;
    a->bytes = malloc(len ? len : 1);
    if (!a->bytes) {
        n->oom = 1;
        a->kind = AK_NONE;
        return;
    }
    if (len)
        memcpy(a->bytes, p, len);
    a->len = len;
}

static void arg_str(anode *n, const char *s)
{
    arg_bytes(n, s, strlen(s) + 1);
}

static void arg_i64(anode *n, int64_t v)
{
    aarg *a = arg_push(n);
    if (a) {
        a->kind = AK_I64;
        a->i64 = v;
    }
}

static void arg_f64(anode *n, double v)
{
    aarg *a = arg_push(n);
    if (a) {
        a->kind = AK_F64;
        a->f64 = v;
    }
}

static void arg_node(anode *n, anode *child)
{
    aarg *a = arg_push(n);
    if (a) {
        a->kind = AK_NODE;
        a->node = node_ref(child);
    }
}

static void arg_future(anode *n, locus_future *f)
{
    aarg *a = arg_push(n);
    if (a) {
        a->kind = AK_FUTURE;
        a->fut = locus_future_ref(f);
    }
}

/* a node made with arg_* calls: NULL (and freed) if any of them failed */
static anode *node_done(anode *n)
{
    if (n && n->oom) {
        node_unref(n);
        return NULL;
    }
    return n;
}

static size_t node_bytes(const anode *n)
{
    return locus_ndbuf_size(n->dtype, n->ndim, n->shape);
}

/* under arr_mu: submit n and every node it needs that has no future */
static int submit_node(anode *n)
{
    if (n->fut)
        return 0;
    if (!n->fn)
        return lc_seterr(LOCUS_ESTATE, "array",
                         "chunk has no task and no "
                         "future");
    locus_arg stack[16], *args = stack;
    int rc = 0;
    for (uint32_t i = 0; i < n->nargs && !rc; i++)
        if (n->args[i].kind == AK_NODE)
            rc = submit_node(n->args[i].node);
    if (rc)
        return rc;
    if (n->nargs > 16 && !(args = malloc(n->nargs * sizeof(*args))))
        return lc_seterr(LOCUS_ENOMEM, "array", "no memory");
    for (uint32_t i = 0; i < n->nargs; i++) {
        aarg *a = &n->args[i];
        switch (a->kind) {
        case AK_BYTES:
            args[i] = locus_arg_bytes(a->bytes, a->len);
            break;
        case AK_I64:
            args[i] = locus_arg_i64(a->i64);
            break;
        case AK_F64:
            args[i] = locus_arg_f64(a->f64);
            break;
        case AK_NODE:
            args[i] = locus_arg_future(a->node->fut);
            break;
        case AK_FUTURE:
            args[i] = locus_arg_future(a->fut);
            break;
        default:
            rc = lc_seterr(LOCUS_ESTATE, "array",
                           "%s: argument %u was "
                           "dropped before the task ran",
                           n->fn, i);
        }
    }
    if (!rc) {
        struct locus_submit_opts o = LOCUS_SUBMIT_OPTS_INIT;
        if (n->worker >= 0) {
            o.workers = &n->worker;
            o.nworkers = 1;
        }
        rc = locus_submit(n->c, n->fn, args, n->nargs, &o, &n->fut);
    }
    if (args != stack)
        free(args);
    return rc;
}

/* under arr_mu, after a wait: a done node drops its children; a failed one
 * forgets its future (and so do its failed inputs) so that it runs again
 * next time.  A pending one is kept: see wait_failed. */
static void prune(anode *n)
{
    if (!n->fut || !n->fn)
        return;
    int st = locus_future_status(n->fut);
    if (st == LOCUS_EAGAIN)
        return;
    if (st != 0) {
        locus_release(n->fut);
        n->fut = NULL;
        for (uint32_t i = 0; i < n->nargs; i++)
            if (n->args[i].kind == AK_NODE)
                prune(n->args[i].node);
        return;
    }
    for (uint32_t i = 0; i < n->nargs; i++)
        if (n->args[i].kind == AK_NODE)
            arg_clear(&n->args[i]);
}

/* under arr_mu: references to the unfinished futures below n */
static void collect_pending(anode *n, locus_future ***v, size_t *len,
                            size_t *cap)
{
    if (n->mark == mark_gen)
        return;
    n->mark = mark_gen;
    if (n->fut && locus_future_status(n->fut) == LOCUS_EAGAIN) {
        if (*len == *cap) {
            size_t nc = *cap ? 2 * *cap : 16;
            locus_future **nv = realloc(*v, nc * sizeof(*nv));
            if (!nv)
                return;
            *v = nv;
            *cap = nc;
        }
        (*v)[(*len)++] = locus_future_ref(n->fut);
    }
    for (uint32_t i = 0; i < n->nargs; i++)
        if (n->args[i].kind == AK_NODE)
            collect_pending(n->args[i].node, v, len, cap);
}

/* A chunk failed: its other tasks fail soon after (their inputs failed) or
 * finish.  Wait for them (within the call's time), so that prune forgets
 * every failed future and a retry runs them again instead of meeting a
 * failure still on its way. */
static void wait_failed(anode *n, int timeout_ms)
{
    locus_future **v = NULL;
    size_t len = 0, cap = 0;
    pthread_mutex_lock(&arr_mu);
    mark_gen++;
    collect_pending(n, &v, &len, &cap);
    pthread_mutex_unlock(&arr_mu);
    if (len)
        locus_wait(v, len, timeout_ms);
    for (size_t i = 0; i < len; i++)
        locus_release(v[i]);
    free(v);
}

/* under arr_mu: count tasks and where their inputs were */
static void walk_stats(anode *n, array_stats *st)
{
    if (n->mark == mark_gen)
        return;
    n->mark = mark_gen;
    if (!n->fut || locus_future_status(n->fut) != 0)
        return;
    if (n->fn)
        st->tasks++;
    int w = -1;
    size_t nw;
    locus_who_has(n->fut, &w, 1, &nw);
    for (uint32_t i = 0; i < n->nargs; i++) {
        anode *ch = n->args[i].kind == AK_NODE ? n->args[i].node : NULL;
        if (!ch)
            continue;
        walk_stats(ch, st);
        int cw = -1;
        if (!ch->fut || locus_who_has(ch->fut, &cw, 1, &nw) != 0)
            continue;
        if (cw == w) {
            st->local_inputs++;
        } else {
            st->remote_inputs++;
            st->remote_bytes += node_bytes(ch);
        }
    }
}

/* ---- arrays and chunk grids ---------------------------------------------- */

/* Sizes of chunks of at most chunk along an extent (one chunk when chunk
 * <= 0 or the extent is 0). */
static int grid_uniform(int64_t extent, int64_t chunk, int64_t **sizes,
                        size_t *n)
{
    if (chunk <= 0 || chunk >= extent)
        chunk = extent > 0 ? extent : 0;
    size_t k = chunk ? (size_t)((extent + chunk - 1) / chunk) : 1;
    int64_t *s = malloc(k * sizeof(*s));
    if (!s)
        return lc_seterr(LOCUS_ENOMEM, "array", "no memory");
    for (size_t i = 0; i < k; i++)
        s[i] = chunk ? (extent - (int64_t)i * chunk < chunk
                            ? extent - (int64_t)i * chunk
                            : chunk)
                     : 0;
    *sizes = s;
    *n = k;
    return 0;
}

static void array_free_meta(locus_array *a)
{
    for (int i = 0; i < LOCUS_NDIM_MAX; i++) {
        free(a->csz[i]);
        free(a->coff[i]);
    }
    free(a->nodes);
    free(a);
}

/* An array with no nodes yet; takes ownership of sizes[i] (freed on
 * failure too). */
static int array_make(locus_client *c, int dtype, int ndim,
                      const int64_t *shape, int64_t **sizes,
                      const size_t *nsizes, locus_array **out)
{
    locus_array *a = calloc(1, sizeof(*a));
    if (!a) {
        for (int i = 0; i < ndim; i++)
            free(sizes[i]);
        return lc_seterr(LOCUS_ENOMEM, "array", "no memory");
    }
    a->c = c;
    a->dtype = dtype;
    a->ndim = ndim;
    a->nchunks = 1;
    int ok = 1;
    for (int i = 0; i < ndim; i++) {
        a->shape[i] = shape[i];
        a->csz[i] = sizes[i];
        a->ncsz[i] = nsizes[i];
        a->coff[i] = malloc((nsizes[i] + 1) * sizeof(int64_t));
        if (!a->coff[i]) {
            ok = 0;
            continue;
        }
        a->coff[i][0] = 0;
        for (size_t k = 0; k < nsizes[i]; k++)
            a->coff[i][k + 1] = a->coff[i][k] + sizes[i][k];
        a->nchunks *= nsizes[i];
    }
    if (ok)
        a->nodes = calloc(a->nchunks, sizeof(*a->nodes));
    if (!ok || !a->nodes) {
        array_free_meta(a);
        return lc_seterr(LOCUS_ENOMEM, "array", "no memory");
    }
    *out = a;
    return 0;
}

/* C-order coordinates of chunk idx */
static void grid_coords(const locus_array *a, size_t idx, size_t *co)
{
    for (int i = a->ndim - 1; i >= 0; i--) {
        co[i] = idx % a->ncsz[i];
        idx /= a->ncsz[i];
    }
}

static size_t grid_index(const locus_array *a, const size_t *co)
{
    size_t idx = 0;
    for (int i = 0; i < a->ndim; i++)
        idx = idx * a->ncsz[i] + co[i];
    return idx;
}

static void chunk_geom(const locus_array *a, const size_t *co, int64_t *off,
                       int64_t *shape)
{
    for (int i = 0; i < a->ndim; i++) {
        if (off)
            off[i] = a->coff[i][co[i]];
        shape[i] = a->csz[i][co[i]];
    }
}

/* the uniform grid of chunks[] over shape (chunks NULL: axis 0 in nparts) */
static int grid_of(int ndim, const int64_t *shape, const int64_t *chunks,
                   size_t nparts, int64_t **sizes, size_t *nsizes)
{
    for (int i = 0; i < ndim; i++) {
        int64_t ch = chunks ? chunks[i] : 0;
        if (!chunks && i == 0 && nparts > 1)
            ch = (shape[0] + (int64_t)nparts - 1) / (int64_t)nparts;
        int rc = grid_uniform(shape[i], ch, &sizes[i], &nsizes[i]);
        if (rc) {
            for (int k = 0; k < i; k++)
                free(sizes[k]);
            return rc;
        }
    }
    return 0;
}

void locus_array_free(locus_array *a)
{
    if (!a)
        return;
    for (size_t i = 0; a->nodes && i < a->nchunks; i++)
        node_unref(a->nodes[i]);
    array_free_meta(a);
}

static int check_shape(int ndim, const int64_t *shape, const char *what)
{
    if (ndim < 0 || ndim > LOCUS_NDIM_MAX || (ndim && !shape))
        return lc_seterr(LOCUS_EINVAL, "array",
                         "%s: ndim %d (0..%d) or NULL "
                         "shape",
                         what, ndim, LOCUS_NDIM_MAX);
    for (int i = 0; i < ndim; i++)
        if (shape[i] < 0)
            return lc_seterr(LOCUS_EINVAL, "array",
                             "%s: negative extent "
                             "%lld on axis %d",
                             what, (long long)shape[i], i);
    size_t n;
    if (ndbuf_count(ndim, shape, &n) != 0 ||
        !locus_ndbuf_size(LOCUS_INT8, ndim, shape))
        return lc_seterr(LOCUS_EINVAL, "array", "%s: shape too large", what);
    return 0;
}

/* ---- workers ------------------------------------------------------------- */

typedef struct wslot {
    locus_worker_info wi;
    int host, node, pos; /* host index, node index in host, pos in node */
} wslot;

static int cmp_where(const void *x, const void *y)
{
    const locus_worker_info *a = &((const wslot *)x)->wi;
    const locus_worker_info *b = &((const wslot *)y)->wi;
    int c = strcmp(a->host, b->host);
    if (c)
        return c;
    if (a->numa_node != b->numa_node)
        return a->numa_node < b->numa_node ? -1 : 1;
    return a->id < b->id ? -1 : a->id > b->id;
}

/* round-robin: the first worker of each node of each host, then the
   second ones... with hosts alternating fastest */
static int cmp_turn(const void *x, const void *y)
{
    const wslot *a = x, *b = y;
    if (a->pos != b->pos)
        return a->pos < b->pos ? -1 : 1;
    if (a->node != b->node)
        return a->node < b->node ? -1 : 1;
    if (a->host != b->host)
        return a->host < b->host ? -1 : 1;
    return 0;
}

int array_worker_order(locus_client *c, int **ids, size_t *n)
{
    size_t nw = 0, got = 0;
    int rc = locus_workers(c, NULL, 0, &nw);
    if (rc)
        return rc;
    wslot *ws = nw ? calloc(nw, sizeof(*ws)) : NULL;
    locus_worker_info *wi = nw ? calloc(nw, sizeof(*wi)) : NULL;
    if (nw && (!ws || !wi)) {
        free(ws);
        free(wi);
        return lc_seterr(LOCUS_ENOMEM, "array", "no memory");
    }
    if (nw)
        rc = locus_workers(c, wi, nw, &got);
    if (!rc && got < nw)
        nw = got;
    if (!rc && nw == 0)
        rc = lc_seterr(LOCUS_ENOWORKERS, "array", "no worker is connected");
    int *out = rc ? NULL : malloc(nw * sizeof(*out));
    if (!rc && !out)
        rc = lc_seterr(LOCUS_ENOMEM, "array", "no memory");
    if (!rc) {
        for (size_t i = 0; i < nw; i++)
            ws[i].wi = wi[i];
        qsort(ws, nw, sizeof(*ws), cmp_where);
        for (size_t i = 0; i < nw; i++) {
            if (i == 0) {
                ws[i].host = ws[i].node = ws[i].pos = 0;
            } else if (strcmp(ws[i].wi.host, ws[i - 1].wi.host)) {
                ws[i].host = ws[i - 1].host + 1;
                ws[i].node = ws[i].pos = 0;
            } else if (ws[i].wi.numa_node != ws[i - 1].wi.numa_node) {
                ws[i].host = ws[i - 1].host;
                ws[i].node = ws[i - 1].node + 1;
                ws[i].pos = 0;
            } else {
                ws[i].host = ws[i - 1].host;
                ws[i].node = ws[i - 1].node;
                ws[i].pos = ws[i - 1].pos + 1;
            }
        }
        qsort(ws, nw, sizeof(*ws), cmp_turn);
        for (size_t i = 0; i < nw; i++)
            out[i] = ws[i].wi.id;
        *ids = out;
        *n = nw;
    }
    free(ws);
    free(wi);
    return rc;
}

/* ---- constructors -------------------------------------------------------- */

static int check_client(locus_client *c, locus_array **out, const char *what)
{
    if (!c || !out)
        return lc_seterr(LOCUS_EINVAL, "array", "%s: NULL client or out", what);
    *out = NULL;
    return 0;
}

int locus_array_arange(locus_client *c, int64_t n, int64_t chunk,
                       locus_array **out)
{
    int rc = check_client(c, out, "locus_array_arange");
    if (rc)
        return rc;
    if (n < 0)
        return lc_seterr(LOCUS_EINVAL, "array",
                         "locus_array_arange: n is "
                         "%lld",
                         (long long)n);
    int64_t *sizes[1] = {NULL};
    size_t ns[1] = {0};
    locus_array *a = NULL;
    if ((rc = grid_uniform(n, chunk, &sizes[0], &ns[0])) ||
        (rc = array_make(c, LOCUS_INT64, 1, &n, sizes, ns, &a)))
        return rc;
    for (size_t i = 0; i < a->nchunks; i++) {
        anode *nd =
            node_new(c, "locus.array.arange", LOCUS_INT64, 1, &a->csz[0][i]);
        if (nd) {
            arg_i64(nd, a->coff[0][i]);
            arg_i64(nd, a->csz[0][i]);
        }
        if (!(a->nodes[i] = node_done(nd))) {
            locus_array_free(a);
            return lc_seterr(LOCUS_ENOMEM, "array", "no memory");
        }
    }
    *out = a;
    return 0;
}

int locus_array_random_normal(locus_client *c, uint64_t seed, double loc,
                              double scale, int ndim, const int64_t *shape,
                              const int64_t *chunks, locus_array **out)
{
    int rc = check_client(c, out, "locus_array_random_normal");
    if (!rc)
        rc = check_shape(ndim, shape, "locus_array_random_normal");
    if (rc)
        return rc;
    size_t nparts = 1;
    if (!chunks && locus_workers(c, NULL, 0, &nparts) != 0)
        nparts = 1;
    int64_t *sizes[LOCUS_NDIM_MAX];
    size_t ns[LOCUS_NDIM_MAX];
    locus_array *a;
    if ((rc = grid_of(ndim, shape, chunks, nparts, sizes, ns)) ||
        (rc = array_make(c, LOCUS_FLOAT64, ndim, shape, sizes, ns, &a)))
        return rc;
    for (size_t i = 0; i < a->nchunks; i++) {
        size_t co[LOCUS_NDIM_MAX];
        int64_t off[LOCUS_NDIM_MAX], cs[LOCUS_NDIM_MAX];
        grid_coords(a, i, co);
        chunk_geom(a, co, off, cs);
        anode *nd =
            node_new(c, "locus.array.random_normal", LOCUS_FLOAT64, ndim, cs);
        if (nd) {
            arg_i64(nd, (int64_t)seed);
            arg_f64(nd, loc);
            arg_f64(nd, scale);
            arg_bytes(nd, shape, (size_t)ndim * 8);
            arg_bytes(nd, off, (size_t)ndim * 8);
            arg_bytes(nd, cs, (size_t)ndim * 8);
        }
        if (!(a->nodes[i] = node_done(nd))) {
            locus_array_free(a);
            return lc_seterr(LOCUS_ENOMEM, "array", "no memory");
        }
    }
    *out = a;
    return 0;
}

static int check_h5_names(const char *file, const char *dataset, unsigned flags,
                          unsigned allowed, const char *what)
{
    if (!file || !*file || strlen(file) >= 4096 || !dataset || !*dataset ||
        strlen(dataset) >= 4096)
        return lc_seterr(LOCUS_EINVAL, "h5",
                         "%s: file and dataset must be "
                         "non-empty strings shorter than 4096 bytes",
                         what);
    if (flags & ~allowed)
        return lc_seterr(LOCUS_EINVAL, "h5",
                         "%s: unknown or unusable flag "
                         "bits 0x%x",
                         what, flags & ~allowed);
    return 0;
}

/* a load node of the hyperslab [off, off + cs) of file:dataset */
static anode *load_node(locus_client *c, const char *file, const char *dataset,
                        int dtype, int ndim, const int64_t *off,
                        const int64_t *cs, int whole, unsigned flags,
                        int worker)
{
    anode *nd = node_new(c, "locus.h5.load", dtype, ndim, cs);
    if (!nd)
        return NULL;
    int64_t sel[3 * LOCUS_NDIM_MAX];
    for (int i = 0; i < ndim; i++) {
        sel[i] = off[i];
        sel[ndim + i] = cs[i];
        sel[2 * ndim + i] = 1;
    }
    arg_str(nd, file);
    arg_str(nd, dataset);
    arg_bytes(nd, sel, whole ? 0 : (size_t)ndim * 3 * 8);
    arg_i64(nd, (int64_t)flags);
    nd->worker = nd->hint = worker;
    return node_done(nd);
}

int locus_array_from_hdf5(locus_client *c, const char *file,
                          const char *dataset, const int64_t *chunks,
                          unsigned flags, locus_array **out)
{
    int rc = check_client(c, out, "locus_array_from_hdf5");
    if (!rc)
        rc = check_h5_names(file, dataset, flags, LOCUS_H5_NO_LOCKING,
                            "locus_array_from_hdf5");
    if (rc)
        return rc;
    locus_h5_info info;
    rc = locus_h5_info_get(c, file, dataset, flags, -1, &info);
    if (rc)
        return rc;
    int *ids = NULL;
    size_t nw = 0;
    if ((rc = array_worker_order(c, &ids, &nw)))
        return rc;
    int64_t *sizes[LOCUS_NDIM_MAX];
    size_t ns[LOCUS_NDIM_MAX];
    locus_array *a = NULL;
    if ((rc = grid_of(info.ndim, info.shape, chunks, nw, sizes, ns)) ||
        (rc =
             array_make(c, info.dtype, info.ndim, info.shape, sizes, ns, &a))) {
        free(ids);
        return rc;
    }
    for (size_t i = 0; i < a->nchunks; i++) {
        size_t co[LOCUS_NDIM_MAX];
        int64_t off[LOCUS_NDIM_MAX], cs[LOCUS_NDIM_MAX];
        grid_coords(a, i, co);
        chunk_geom(a, co, off, cs);
        /* contiguous blocks of chunks per worker */
        int w = ids[i * nw / a->nchunks];
        if (!(a->nodes[i] = load_node(c, file, dataset, a->dtype, a->ndim, off,
                                      cs, a->nchunks == 1, flags, w))) {
            free(ids);
            locus_array_free(a);
            return lc_seterr(LOCUS_ENOMEM, "array", "no memory");
        }
    }
    free(ids);
    *out = a;
    return 0;
}

/* one array of one chunk per node (taking the nodes' references and
 * setting nodes[i] to NULL), concatenated along axis */
static int concat_nodes(locus_client *c, anode **nodes, size_t n, int axis,
                        locus_array **out)
{
    int rc = 0;
    locus_array **parts = calloc(n, sizeof(*parts));
    if (!parts) {
        for (size_t i = 0; i < n; i++) {
            node_unref(nodes[i]);
            nodes[i] = NULL;
        }
        return lc_seterr(LOCUS_ENOMEM, "array", "no memory");
    }
    for (size_t i = 0; i < n; i++) {
        anode *nd = nodes[i];
        nodes[i] = NULL;
        if (rc) {
            node_unref(nd);
            continue;
        }
        int64_t *sizes[LOCUS_NDIM_MAX];
        size_t ns[LOCUS_NDIM_MAX];
        for (int k = 0; k < nd->ndim; k++) {
            sizes[k] = malloc(sizeof(int64_t));
            ns[k] = 1;
            if (sizes[k])
                sizes[k][0] = nd->shape[k];
            else
                rc = lc_seterr(LOCUS_ENOMEM, "array", "no memory");
        }
        if (rc) {
            for (int k = 0; k < nd->ndim; k++)
                free(sizes[k]);
            node_unref(nd);
            continue;
        }
        rc =
            array_make(c, nd->dtype, nd->ndim, nd->shape, sizes, ns, &parts[i]);
        if (rc)
            node_unref(nd);
        else
            parts[i]->nodes[0] = nd;
    }
    if (!rc) {
        if (n == 1) {
            *out = parts[0];
            parts[0] = NULL;
        } else {
            rc = locus_array_concatenate(parts, n, axis, out);
        }
    }
    for (size_t i = 0; i < n; i++)
        locus_array_free(parts[i]);
    free(parts);
    return rc;
}

/* wait for futures of int64 info records; decode [dtype, ndim, shape] */
static int wait_infos(locus_future **fs, size_t n, int timeout_ms, int *dtype,
                      int *ndim, int64_t (*shape)[LOCUS_NDIM_MAX],
                      const char *const *names)
{
    for (size_t i = 0; i < n; i++) {
        const void *p;
        size_t len;
        int rc = locus_result(fs[i], timeout_ms, &p, &len);
        if (rc)
            return rc;
        int64_t v[2 + 2 * LOCUS_NDIM_MAX];
        if (len < 16 || len > sizeof(v) || len % 8)
            return lc_seterr(LOCUS_EPROTO, "array",
                             "malformed info of %zu "
                             "bytes for %s",
                             len, names ? names[i] : "chunk");
        memcpy(v, p, len);
        dtype[i] = (int)v[0];
        ndim[i] = (int)v[1];
        if (!ndbuf_dtype_ok(dtype[i]) || ndim[i] < 0 ||
            ndim[i] > LOCUS_NDIM_MAX || len < (size_t)(2 + ndim[i]) * 8)
            return lc_seterr(LOCUS_EPROTO, "array", "malformed info for %s",
                             names ? names[i] : "chunk");
        for (int k = 0; k < ndim[i]; k++)
            shape[i][k] = v[2 + k];
    }
    return 0;
}

int locus_array_from_files(locus_client *c, const char *const *files, size_t n,
                           const char *dataset, int axis, unsigned flags,
                           locus_array **out)
{
    int rc = check_client(c, out, "locus_array_from_files");
    if (rc)
        return rc;
    if (!files || n == 0)
        return lc_seterr(LOCUS_EINVAL, "array",
                         "locus_array_from_files: no "
                         "file");
    for (size_t i = 0; i < n; i++)
        if ((rc = check_h5_names(files[i], dataset, flags, LOCUS_H5_NO_LOCKING,
                                 "locus_array_from_files")))
            return rc;
    int *ids = NULL;
    size_t nw = 0;
    if ((rc = array_worker_order(c, &ids, &nw)))
        return rc;
    locus_future **fs = calloc(n, sizeof(*fs));
    anode **nodes = calloc(n, sizeof(*nodes));
    int *dt = calloc(n, sizeof(int)), *nd = calloc(n, sizeof(int));
    int64_t(*shape)[LOCUS_NDIM_MAX] = calloc(n, sizeof(*shape));
    if (!fs || !nodes || !dt || !nd || !shape) {
        rc = lc_seterr(LOCUS_ENOMEM, "array", "no memory");
        goto done;
    }
    for (size_t i = 0; i < n && !rc; i++) {
        locus_arg args[3] = {locus_arg_str(files[i]), locus_arg_str(dataset),
                             locus_arg_i64((int64_t)flags)};
        struct locus_submit_opts o = LOCUS_SUBMIT_OPTS_INIT;
        o.workers = &ids[i % nw];
        o.nworkers = 1;
        rc = locus_submit(c, "locus.h5.info", args, 3, &o, &fs[i]);
    }
    if (!rc)
        rc = wait_infos(fs, n, -1, dt, nd, shape, (const char *const *)files);
    if (rc)
        goto done;
    int64_t zero[LOCUS_NDIM_MAX] = {0};
    for (size_t i = 0; i < n; i++)
        if (!(nodes[i] = load_node(c, files[i], dataset, dt[i], nd[i], zero,
                                   shape[i], 1, flags, ids[i % nw]))) {
            rc = lc_seterr(LOCUS_ENOMEM, "array", "no memory");
            goto done;
        }
    rc = concat_nodes(c, nodes, n, axis, out);
done:
    for (size_t i = 0; fs && i < n; i++)
        locus_release(fs[i]);
    for (size_t i = 0; rc && nodes && i < n; i++)
        node_unref(nodes[i]);
    free(fs);
    free(nodes);
    free(dt);
    free(nd);
    free(shape);
    free(ids);
    return rc;
}

int locus_array_from_futures(locus_client *c, locus_future *const *fs, size_t n,
                             int axis, int timeout_ms, locus_array **out)
{
    int rc = check_client(c, out, "locus_array_from_futures");
    if (rc)
        return rc;
    if (!fs || n == 0)
        return lc_seterr(LOCUS_EINVAL, "array",
                         "locus_array_from_futures: "
                         "no future");
    for (size_t i = 0; i < n; i++)
        if (!fs[i])
            return lc_seterr(LOCUS_EINVAL, "array",
                             "locus_array_from_"
                             "futures: future %zu is NULL",
                             i);
    locus_future **inf = calloc(n, sizeof(*inf));
    anode **nodes = calloc(n, sizeof(*nodes));
    int *dt = calloc(n, sizeof(int)), *nd = calloc(n, sizeof(int));
    int64_t(*shape)[LOCUS_NDIM_MAX] = calloc(n, sizeof(*shape));
    if (!inf || !nodes || !dt || !nd || !shape) {
        rc = lc_seterr(LOCUS_ENOMEM, "array", "no memory");
        goto done;
    }
    /* the function goes to the data: only the shapes come back */
    for (size_t i = 0; i < n && !rc; i++) {
        locus_arg a = locus_arg_future(fs[i]);
        rc = locus_submit(c, "locus.array.info", &a, 1, NULL, &inf[i]);
    }
    if (!rc)
        rc = wait_infos(inf, n, timeout_ms, dt, nd, shape, NULL);
    if (rc)
        goto done;
    for (size_t i = 0; i < n; i++) {
        if (!(nodes[i] = node_new(c, NULL, dt[i], nd[i], shape[i]))) {
            rc = lc_seterr(LOCUS_ENOMEM, "array", "no memory");
            goto done;
        }
        nodes[i]->fut = locus_future_ref(fs[i]);
        size_t k;
        locus_who_has(fs[i], &nodes[i]->hint, 1, &k);
    }
    rc = concat_nodes(c, nodes, n, axis, out);
done:
    for (size_t i = 0; inf && i < n; i++)
        locus_release(inf[i]);
    for (size_t i = 0; rc && nodes && i < n; i++)
        node_unref(nodes[i]);
    free(inf);
    free(nodes);
    free(dt);
    free(nd);
    free(shape);
    return rc;
}

/* ---- rechunk, concatenate ------------------------------------------------ */

static int same_sizes(const int64_t *a, size_t na, const int64_t *b, size_t nb)
{
    return na == nb && !memcmp(a, b, na * sizeof(*a));
}

/* a regridded to sizes[] (copied): output chunks equal to an input chunk
 * reuse its node, others are assembled from the pieces that cover them */
static int rechunk_to(locus_array *a, int64_t *const *sizes,
                      const size_t *nsizes, locus_array **out)
{
    int64_t *own[LOCUS_NDIM_MAX];
    for (int i = 0; i < a->ndim; i++) {
        own[i] = malloc((nsizes[i] ? nsizes[i] : 1) * sizeof(int64_t));
        if (!own[i]) {
            for (int k = 0; k < i; k++)
                free(own[k]);
            return lc_seterr(LOCUS_ENOMEM, "array", "no memory");
        }
        memcpy(own[i], sizes[i], nsizes[i] * sizeof(int64_t));
    }
    locus_array *b;
    int rc = array_make(a->c, a->dtype, a->ndim, a->shape, own, nsizes, &b);
    if (rc)
        return rc;
    for (size_t oi = 0; oi < b->nchunks; oi++) {
        size_t co[LOCUS_NDIM_MAX];
        int64_t lo[LOCUS_NDIM_MAX], cs[LOCUS_NDIM_MAX];
        grid_coords(b, oi, co);
        chunk_geom(b, co, lo, cs);
        /* input chunk range [first, last] per axis overlapping the output */
        size_t first[LOCUS_NDIM_MAX], last[LOCUS_NDIM_MAX];
        size_t npieces = 1;
        int exact = 1;
        for (int d = 0; d < a->ndim; d++) {
            size_t k = 0;
            while (k + 1 < a->ncsz[d] && a->coff[d][k + 1] <= lo[d])
                k++;
            first[d] = k;
            while (k + 1 < a->ncsz[d] && a->coff[d][k + 1] < lo[d] + cs[d])
                k++;
            last[d] = k;
            npieces *= last[d] - first[d] + 1;
            exact = exact && first[d] == last[d] && a->coff[d][k] == lo[d] &&
                    a->csz[d][k] == cs[d];
        }
        if (exact) {
            b->nodes[oi] = node_ref(a->nodes[grid_index(a, first)]);
            continue;
        }
        anode *nd =
            node_new(a->c, "locus.array.assemble", a->dtype, a->ndim, cs);
        if (nd) {
            int64_t meta[2 + LOCUS_NDIM_MAX];
            meta[0] = a->dtype;
            meta[1] = a->ndim;
            memcpy(meta + 2, cs, (size_t)a->ndim * 8);
            arg_bytes(nd, meta, (size_t)(2 + a->ndim) * 8);
            int64_t bestsz = -1;
            size_t ic[LOCUS_NDIM_MAX];
            for (int d = 0; d < a->ndim; d++)
                ic[d] = first[d];
            for (size_t p = 0; p < npieces; p++) {
                int64_t reg[3 * LOCUS_NDIM_MAX], psz = 1;
                for (int d = 0; d < a->ndim; d++) {
                    int64_t ilo = a->coff[d][ic[d]];
                    int64_t ihi = ilo + a->csz[d][ic[d]];
                    int64_t s = lo[d] > ilo ? lo[d] : ilo;
                    int64_t e = lo[d] + cs[d] < ihi ? lo[d] + cs[d] : ihi;
                    reg[d] = s - ilo;
                    reg[a->ndim + d] = e > s ? e - s : 0;
                    reg[2 * a->ndim + d] = s - lo[d];
                    psz *= reg[a->ndim + d];
                }
                anode *src = a->nodes[grid_index(a, ic)];
                if (psz > bestsz) {
                    bestsz = psz;
                    nd->hint = src->hint;
                }
                arg_node(nd, src);
                arg_bytes(nd, reg, (size_t)a->ndim * 3 * 8);
                for (int d = a->ndim - 1; d >= 0; d--) {
                    if (++ic[d] <= last[d])
                        break;
                    ic[d] = first[d];
                }
            }
        }
        if (!(b->nodes[oi] = node_done(nd))) {
            locus_array_free(b);
            return lc_seterr(LOCUS_ENOMEM, "array", "no memory");
        }
    }
    *out = b;
    return 0;
}

int locus_array_rechunk(locus_array *a, const int64_t *chunks,
                        locus_array **out)
{
    if (!a || !out || (a->ndim && !chunks))
        return lc_seterr(LOCUS_EINVAL, "array",
                         "locus_array_rechunk: NULL "
                         "argument");
    *out = NULL;
    int64_t *sizes[LOCUS_NDIM_MAX];
    size_t ns[LOCUS_NDIM_MAX];
    int rc = grid_of(a->ndim, a->shape, chunks, 1, sizes, ns);
    if (rc)
        return rc;
    rc = rechunk_to(a, sizes, ns, out);
    for (int i = 0; i < a->ndim; i++)
        free(sizes[i]);
    return rc;
}

int locus_array_concatenate(locus_array *const *arrays, size_t n, int axis,
                            locus_array **out)
{
    if (!arrays || n == 0 || !out)
        return lc_seterr(LOCUS_EINVAL, "array",
                         "locus_array_concatenate: "
                         "NULL argument or no array");
    *out = NULL;
    for (size_t i = 0; i < n; i++)
        if (!arrays[i])
            return lc_seterr(LOCUS_EINVAL, "array",
                             "locus_array_concatenate: "
                             "array %zu is NULL",
                             i);
    const locus_array *a0 = arrays[0];
    int nd = a0->ndim;
    if (nd == 0)
        return lc_seterr(LOCUS_EINVAL, "array",
                         "locus_array_concatenate: "
                         "0-d arrays cannot be concatenated");
    if (axis < 0)
        axis += nd;
    if (axis < 0 || axis >= nd)
        return lc_seterr(LOCUS_EINVAL, "array",
                         "locus_array_concatenate: "
                         "axis out of range for %d-d arrays",
                         nd);
    int64_t total = 0;
    for (size_t i = 0; i < n; i++) {
        const locus_array *x = arrays[i];
        if (x->c != a0->c || x->dtype != a0->dtype || x->ndim != nd)
            return lc_seterr(LOCUS_EINVAL, "array",
                             "locus_array_concatenate: "
                             "array %zu is %s %d-d, array 0 is %s %d-d%s",
                             i, locus_dtype_name(x->dtype), x->ndim,
                             locus_dtype_name(a0->dtype), nd,
                             x->c != a0->c ? " (and of another client)" : "");
        for (int d = 0; d < nd; d++)
            if (d != axis && x->shape[d] != a0->shape[d]) {
                char s1[160], s2[160];
                ndbuf_shape_str(nd, x->shape, s1, sizeof(s1));
                ndbuf_shape_str(nd, a0->shape, s2, sizeof(s2));
                return lc_seterr(LOCUS_EINVAL, "array",
                                 "locus_array_"
                                 "concatenate: array %zu has shape %s, array "
                                 "0 %s: only axis %d may differ",
                                 i, s1, s2, axis);
            }
        total += x->shape[axis];
    }
    /* align the other axes on array 0's chunk boundaries */
    locus_array **al = calloc(n, sizeof(*al));
    int64_t *sizes[LOCUS_NDIM_MAX] = {NULL};
    size_t ns[LOCUS_NDIM_MAX];
    locus_array *b = NULL;
    int rc = 0;
    if (!al)
        return lc_seterr(LOCUS_ENOMEM, "array", "no memory");
    size_t nalong = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        locus_array *x = arrays[i];
        int same = 1;
        for (int d = 0; d < nd; d++)
            if (d != axis)
                same = same && same_sizes(x->csz[d], x->ncsz[d], a0->csz[d],
                                          a0->ncsz[d]);
        if (!same) {
            int64_t *tz[LOCUS_NDIM_MAX];
            size_t tn[LOCUS_NDIM_MAX];
            for (int d = 0; d < nd; d++) {
                tz[d] = d == axis ? x->csz[d] : a0->csz[d];
                tn[d] = d == axis ? x->ncsz[d] : a0->ncsz[d];
            }
            rc = rechunk_to(x, tz, tn, &al[i]);
        }
        nalong += x->ncsz[axis];
    }
    if (rc)
        goto done;
    /* the chunks along axis, leaving out empty ones unless all are */
    for (int d = 0; d < nd; d++) {
        size_t cnt = d == axis ? nalong : a0->ncsz[d];
        sizes[d] = malloc(cnt * sizeof(int64_t));
        if (!sizes[d]) {
            rc = lc_seterr(LOCUS_ENOMEM, "array", "no memory");
            goto done;
        }
        if (d != axis) {
            memcpy(sizes[d], a0->csz[d], cnt * sizeof(int64_t));
            ns[d] = cnt;
        }
    }
    ns[axis] = 0;
    for (size_t i = 0; i < n; i++) {
        const locus_array *x = al[i] ? al[i] : arrays[i];
        for (size_t k = 0; k < x->ncsz[axis]; k++)
            if (x->csz[axis][k] > 0 || (total == 0 && ns[axis] == 0))
                sizes[axis][ns[axis]++] = x->csz[axis][k];
    }
    int64_t shape[LOCUS_NDIM_MAX];
    memcpy(shape, a0->shape, sizeof(shape));
    shape[axis] = total;
    rc = array_make(a0->c, a0->dtype, nd, shape, sizes, ns, &b);
    memset(sizes, 0, sizeof(sizes));
    if (rc)
        goto done;
    size_t pos = 0; /* chunk index along axis in b */
    for (size_t i = 0; i < n; i++) {
        const locus_array *x = al[i] ? al[i] : arrays[i];
        for (size_t k = 0; k < x->ncsz[axis]; k++) {
            if (!(x->csz[axis][k] > 0 ||
                  (total == 0 && pos == 0 && k == 0 && i == 0)))
                continue;
            for (size_t j = 0; j < x->nchunks; j++) {
                size_t co[LOCUS_NDIM_MAX];
                grid_coords(x, j, co);
                if (co[axis] != k)
                    continue;
                co[axis] = pos;
                b->nodes[grid_index(b, co)] = node_ref(x->nodes[j]);
            }
            pos++;
        }
    }
    *out = b;
done:
    for (int d = 0; d < nd; d++)
        free(sizes[d]);
    for (size_t i = 0; i < n; i++)
        locus_array_free(al[i]);
    free(al);
    return rc;
}

/* ---- slicing ------------------------------------------------------------- */

static int64_t floordiv(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

static int64_t ceildiv(int64_t a, int64_t b)
{
    return -floordiv(-a, b);
}

/* Python's slice.indices(len) and len(range(...)) */
static void slice_norm(locus_slice s, int64_t len, int64_t *start,
                       int64_t *count)
{
    int64_t step = s.step;
    int64_t lower = step > 0 ? 0 : -1, upper = step > 0 ? len : len - 1;
    int64_t b, e;
    if (s.start == LOCUS_NONE) {
        b = step > 0 ? lower : upper;
    } else {
        b = s.start < 0 ? s.start + len : s.start;
        b = b < lower ? lower : b > upper ? upper : b;
    }
    if (s.stop == LOCUS_NONE) {
        e = step > 0 ? upper : lower;
    } else {
        e = s.stop < 0 ? s.stop + len : s.stop;
        e = e < lower ? lower : e > upper ? upper : e;
    }
    *start = b;
    if (step > 0)
        *count = e > b ? (e - b + step - 1) / step : 0;
    else
        *count = b > e ? (b - e + (-step) - 1) / (-step) : 0;
}

/* per output chunk along one axis: input chunk, local start, count */
typedef struct spiece {
    size_t in;
    int64_t lstart, count;
} spiece;

int locus_array_slice(locus_array *a, const locus_slice *s, size_t n,
                      locus_array **out)
{
    if (!a || !out || (n && !s))
        return lc_seterr(LOCUS_EINVAL, "array",
                         "locus_array_slice: NULL "
                         "argument");
    *out = NULL;
    if (n > (size_t)a->ndim)
        return lc_seterr(LOCUS_EINVAL, "array",
                         "locus_array_slice: %zu "
                         "slices for a %d-d array",
                         n, a->ndim);
    int nd = a->ndim;
    int64_t start[LOCUS_NDIM_MAX], count[LOCUS_NDIM_MAX], step[LOCUS_NDIM_MAX];
    spiece *pc[LOCUS_NDIM_MAX] = {NULL};
    size_t np[LOCUS_NDIM_MAX];
    int64_t *sizes[LOCUS_NDIM_MAX] = {NULL};
    int rc = 0;
    locus_array *b = NULL;
    for (int d = 0; d < nd; d++) {
        locus_slice sl = (size_t)d < n ? s[d] : locus_slice_all();
        if (sl.step == 0 || sl.step == INT64_MIN)
            return lc_seterr(LOCUS_EINVAL, "array",
                             "locus_array_slice: "
                             "axis %d: step %lld",
                             d, (long long)sl.step);
        step[d] = sl.step;
        slice_norm(sl, a->shape[d], &start[d], &count[d]);
    }
    for (int d = 0; d < nd && !rc; d++) {
        pc[d] = malloc(a->ncsz[d] * sizeof(spiece));
        sizes[d] = malloc(a->ncsz[d] * sizeof(int64_t));
        if (!pc[d] || !sizes[d]) {
            rc = lc_seterr(LOCUS_ENOMEM, "array", "no memory");
            break;
        }
        np[d] = 0;
        if (count[d] == 0) {
            pc[d][0] = (spiece){0, 0, 0};
            sizes[d][0] = 0;
            np[d] = 1;
            continue;
        }
        size_t nc = a->ncsz[d];
        for (size_t q = 0; q < nc; q++) {
            /* ascending k visits chunks upwards for step > 0 */
            size_t j = step[d] > 0 ? q : nc - 1 - q;
            int64_t lo = a->coff[d][j], hi = lo + a->csz[d][j];
            int64_t k0, k1;
            if (step[d] > 0) {
                k0 = ceildiv(lo - start[d], step[d]);
                k1 = floordiv(hi - 1 - start[d], step[d]);
            } else {
                k0 = ceildiv(start[d] - (hi - 1), -step[d]);
                k1 = floordiv(start[d] - lo, -step[d]);
            }
            if (k0 < 0)
                k0 = 0;
            if (k1 > count[d] - 1)
                k1 = count[d] - 1;
            if (k0 > k1)
                continue;
            pc[d][np[d]] =
                (spiece){j, start[d] + k0 * step[d] - lo, k1 - k0 + 1};
            sizes[d][np[d]] = k1 - k0 + 1;
            np[d]++;
        }
    }
    if (rc)
        goto done;
    rc = array_make(a->c, a->dtype, nd, count, sizes, np, &b);
    memset(sizes, 0, sizeof(sizes));
    if (rc)
        goto done;
    for (size_t oi = 0; oi < b->nchunks; oi++) {
        size_t co[LOCUS_NDIM_MAX], ic[LOCUS_NDIM_MAX];
        int64_t sel[3 * LOCUS_NDIM_MAX], cs[LOCUS_NDIM_MAX];
        int whole = 1;
        grid_coords(b, oi, co);
        for (int d = 0; d < nd; d++) {
            const spiece *p = &pc[d][co[d]];
            ic[d] = p->in;
            sel[d] = p->lstart;
            sel[nd + d] = cs[d] = p->count;
            sel[2 * nd + d] = p->count == 0 ? 1 : step[d];
            whole = whole && p->lstart == 0 && p->count == a->csz[d][p->in] &&
                    (step[d] == 1 || p->count == 1);
            if (p->count == 1)
                sel[2 * nd + d] = 1;
        }
        anode *src = a->nodes[grid_index(a, ic)];
        if (whole) {
            b->nodes[oi] = node_ref(src);
            continue;
        }
        anode *nn = node_new(a->c, "locus.array.slice", a->dtype, nd, cs);
        if (nn) {
            nn->hint = src->hint;
            arg_node(nn, src);
            arg_bytes(nn, sel, (size_t)nd * 3 * 8);
        }
        if (!(b->nodes[oi] = node_done(nn))) {
            rc = lc_seterr(LOCUS_ENOMEM, "array", "no memory");
            goto done;
        }
    }
    *out = b;
    b = NULL;
done:
    locus_array_free(b);
    for (int d = 0; d < nd; d++) {
        free(pc[d]);
        free(sizes[d]);
    }
    return rc;
}

/* ---- map, reduce --------------------------------------------------------- */

int locus_array_map(locus_array *a, const char *fn, const locus_arg *args,
                    size_t nargs, int dtype, locus_array **out)
{
    if (!a || !out || !fn || !*fn || strlen(fn) > 255 || (nargs && !args))
        return lc_seterr(LOCUS_EINVAL, "array",
                         "locus_array_map: NULL "
                         "argument or bad function name");
    *out = NULL;
    if (dtype == 0)
        dtype = a->dtype;
    if (!ndbuf_dtype_ok(dtype))
        return lc_seterr(LOCUS_EINVAL, "array",
                         "locus_array_map: unknown "
                         "dtype %d",
                         dtype);
    for (size_t i = 0; i < nargs; i++) {
        int k = args[i].kind;
        if ((k != LOCUS_ARG_BYTES && k != LOCUS_ARG_I64 && k != LOCUS_ARG_F64 &&
             k != LOCUS_ARG_FUTURE) ||
            (k == LOCUS_ARG_FUTURE && !args[i].future) ||
            (k == LOCUS_ARG_BYTES && args[i].len && !args[i].data))
            return lc_seterr(LOCUS_EINVAL, "array",
                             "locus_array_map: "
                             "argument %zu is malformed",
                             i);
    }
    int64_t *sizes[LOCUS_NDIM_MAX];
    size_t ns[LOCUS_NDIM_MAX];
    for (int d = 0; d < a->ndim; d++) {
        sizes[d] = malloc(a->ncsz[d] * sizeof(int64_t));
        if (!sizes[d]) {
            for (int k = 0; k < d; k++)
                free(sizes[k]);
            return lc_seterr(LOCUS_ENOMEM, "array", "no memory");
        }
        memcpy(sizes[d], a->csz[d], a->ncsz[d] * sizeof(int64_t));
        ns[d] = a->ncsz[d];
    }
    locus_array *b;
    int rc = array_make(a->c, dtype, a->ndim, a->shape, sizes, ns, &b);
    if (rc)
        return rc;
    for (size_t i = 0; i < a->nchunks; i++) {
        anode *src = a->nodes[i];
        anode *nn = node_new(a->c, fn, dtype, src->ndim, src->shape);
        if (nn) {
            nn->hint = src->hint;
            arg_node(nn, src);
            for (size_t k = 0; k < nargs; k++) {
                const locus_arg *x = &args[k];
                if (x->kind == LOCUS_ARG_BYTES)
                    arg_bytes(nn, x->data, x->len);
                else if (x->kind == LOCUS_ARG_I64)
                    arg_i64(nn, x->v.i64);
                else if (x->kind == LOCUS_ARG_F64)
                    arg_f64(nn, x->v.f64);
                else
                    arg_future(nn, x->future);
            }
        }
        if (!(b->nodes[i] = node_done(nn))) {
            locus_array_free(b);
            return lc_seterr(LOCUS_ENOMEM, "array", "no memory");
        }
    }
    *out = b;
    return 0;
}

static int cmp_hint(const void *x, const void *y)
{
    const anode *a = *(anode *const *)x, *b = *(anode *const *)y;
    return a->hint < b->hint ? -1 : a->hint > b->hint;
}

/* combine nodes list[0..n) (references taken over) in a tree of fan-in
 * FANIN; the root divides by div (0: no division).  NULL on no memory. */
static anode *combine_tree(locus_client *c, anode **list, size_t n, int op,
                           double div)
{
    /* partials expected on one worker next to each other (a stable
       insertion sort: the lists are short) */
    for (size_t i = 1; i < n; i++) {
        anode *x = list[i];
        size_t j = i;
        while (j > 0 && cmp_hint(&list[j - 1], &x) > 0) {
            list[j] = list[j - 1];
            j--;
        }
        list[j] = x;
    }
    while (n > 1 || div != 0) {
        size_t ng = (n + FANIN - 1) / FANIN;
        int root = ng == 1;
        size_t o = 0;
        for (size_t g = 0; g < ng; g++) {
            size_t b = g * FANIN, e = b + FANIN < n ? b + FANIN : n;
            anode *first = list[b];
            anode *nn = NULL;
            if (e - b == 1 && !root) {
                list[o++] = first; /* carried up as is */
                continue;
            }
            nn = node_new(c, "locus.array.combine", first->dtype, first->ndim,
                          first->shape);
            if (nn) {
                nn->hint = first->hint;
                arg_i64(nn, op);
                arg_f64(nn, root ? div : 0.0);
                for (size_t k = b; k < e; k++)
                    arg_node(nn, list[k]);
            }
            for (size_t k = b; k < e; k++)
                node_unref(list[k]);
            list[o++] = node_done(nn);
            if (!list[o - 1]) {
                for (size_t k = 0; k < o - 1; k++)
                    node_unref(list[k]);
                for (size_t k = e; k < n; k++)
                    node_unref(list[k]);
                return NULL;
            }
        }
        n = o;
        if (root)
            break;
    }
    return list[0];
}

int locus_array_reduce(locus_array *a, int op, int axis, locus_array **out)
{
    if (!a || !out)
        return lc_seterr(LOCUS_EINVAL, "array",
                         "locus_array_reduce: NULL "
                         "argument");
    *out = NULL;
    if (op < LOCUS_SUM || op > LOCUS_MAX)
        return lc_seterr(LOCUS_EINVAL, "array",
                         "locus_array_reduce: unknown "
                         "op %d (LOCUS_SUM, _MEAN, _MIN, _MAX)",
                         op);
    if (axis < -1 || axis >= a->ndim || (a->ndim == 0 && axis != -1))
        return lc_seterr(LOCUS_EINVAL, "array",
                         "locus_array_reduce: axis %d "
                         "of a %d-d array (-1: all)",
                         axis, a->ndim);
    size_t total, along = 0;
    ndbuf_count(a->ndim, a->shape, &total);
    if (axis >= 0)
        along = (size_t)a->shape[axis];
    /* reducing nothing into something (an empty result needs no value) */
    int empty = total == 0;
    if (axis >= 0) {
        size_t rest = 1;
        for (int d = 0; d < a->ndim; d++)
            if (d != axis)
                rest *= (size_t)a->shape[d];
        empty = along == 0 && rest > 0;
    }
    if (empty && (op == LOCUS_MIN || op == LOCUS_MAX))
        return lc_seterr(LOCUS_EINVAL, "array",
                         "locus_array_reduce: %s of an "
                         "empty selection has no value",
                         op == LOCUS_MIN ? "min" : "max");
    int pop = op == LOCUS_MEAN  ? ARR_OP_SUMF
              : op == LOCUS_SUM ? ARR_OP_SUM
              : op == LOCUS_MIN ? ARR_OP_MIN
                                : ARR_OP_MAX;
    int cop = op == LOCUS_MIN   ? ARR_OP_MIN
              : op == LOCUS_MAX ? ARR_OP_MAX
                                : ARR_OP_SUM;
    int odt = array_reduce_dtype(pop, a->dtype);
    double div = 0.0;
    if (op == LOCUS_MEAN) {
        double cnt = axis < 0 ? (double)total : (double)along;
        div = cnt > 0 ? cnt : NAN; /* 0 / NaN: the mean of nothing is NaN */
    }
    /* output grid: a's without axis (or 0-d) */
    int ond = 0;
    int64_t oshape[LOCUS_NDIM_MAX] = {0}, *sizes[LOCUS_NDIM_MAX] = {NULL};
    size_t ns[LOCUS_NDIM_MAX] = {0};
    for (int d = 0; axis >= 0 && d < a->ndim; d++) {
        if (d == axis)
            continue;
        sizes[ond] = malloc(a->ncsz[d] * sizeof(int64_t));
        if (!sizes[ond]) {
            for (int k = 0; k < ond; k++)
                free(sizes[k]);
            return lc_seterr(LOCUS_ENOMEM, "array", "no memory");
        }
        memcpy(sizes[ond], a->csz[d], a->ncsz[d] * sizeof(int64_t));
        ns[ond] = a->ncsz[d];
        oshape[ond++] = a->shape[d];
    }
    locus_array *b;
    int rc = array_make(a->c, odt, ond, oshape, sizes, ns, &b);
    if (rc)
        return rc;
    size_t ngroup = axis >= 0 ? a->ncsz[axis] : a->nchunks;
    anode **list = calloc(ngroup, sizeof(*list));
    if (!list) {
        locus_array_free(b);
        return lc_seterr(LOCUS_ENOMEM, "array", "no memory");
    }
    for (size_t oi = 0; oi < b->nchunks; oi++) {
        size_t oco[LOCUS_NDIM_MAX], ico[LOCUS_NDIM_MAX];
        grid_coords(b, oi, oco);
        size_t m = 0;
        for (size_t j = 0; j < ngroup; j++) {
            size_t idx = j;
            if (axis >= 0) {
                for (int d = 0, k = 0; d < a->ndim; d++)
                    ico[d] = d == axis ? j : oco[k++];
                idx = grid_index(a, ico);
            }
            anode *src = a->nodes[idx];
            int64_t ps[LOCUS_NDIM_MAX];
            int pnd = 0;
            for (int d = 0; axis >= 0 && d < a->ndim; d++)
                if (d != axis)
                    ps[pnd++] = src->shape[d];
            anode *nn = node_new(a->c, "locus.array.reduce",
                                 array_reduce_dtype(pop, a->dtype), pnd, ps);
            if (nn) {
                nn->hint = src->hint;
                arg_node(nn, src);
                arg_i64(nn, pop);
                arg_i64(nn, axis);
            }
            if (!(list[m] = node_done(nn)))
                break;
            m++;
        }
        anode *root =
            m == ngroup ? combine_tree(a->c, list, m, cop, div) : NULL;
        if (m != ngroup)
            for (size_t k = 0; k < m; k++)
                node_unref(list[k]);
        if (!(b->nodes[oi] = root)) {
            free(list);
            locus_array_free(b);
            return lc_seterr(LOCUS_ENOMEM, "array", "no memory");
        }
    }
    free(list);
    *out = b;
    return 0;
}

/* ---- running ------------------------------------------------------------- */

/* submit every chunk's tasks; futs[i] gets a reference to chunk i's */
static int submit_all(locus_array *a, locus_future **futs)
{
    int rc = 0;
    pthread_mutex_lock(&arr_mu);
    for (size_t i = 0; i < a->nchunks && !rc; i++) {
        rc = submit_node(a->nodes[i]);
        if (!rc)
            futs[i] = locus_future_ref(a->nodes[i]->fut);
    }
    pthread_mutex_unlock(&arr_mu);
    return rc;
}

/* after waiting: record stats, drop what is no longer needed */
static void finish(locus_array *a, locus_future **futs, uint64_t client_bytes)
{
    pthread_mutex_lock(&arr_mu);
    memset(&a->stats, 0, sizeof(a->stats));
    mark_gen++;
    for (size_t i = 0; i < a->nchunks; i++)
        walk_stats(a->nodes[i], &a->stats);
    a->stats.client_bytes = client_bytes;
    for (size_t i = 0; i < a->nchunks; i++)
        prune(a->nodes[i]);
    pthread_mutex_unlock(&arr_mu);
    for (size_t i = 0; futs && i < a->nchunks; i++)
        locus_release(futs[i]);
    free(futs);
}

static int left_ms(int timeout_ms, uint64_t dl)
{
    if (timeout_ms < 0)
        return -1;
    int r = lc_remaining_ms(dl);
    return r < 0 ? 0 : r;
}

/* under arr_mu: the failed node nearest the leaves below n (its inputs all
 * succeeded): the cause, where dependents only say "input ... failed" */
static anode *root_cause(anode *n)
{
    for (uint32_t i = 0; i < n->nargs; i++) {
        anode *ch = n->args[i].kind == AK_NODE ? n->args[i].node : NULL;
        if (!ch || !ch->fut)
            continue;
        int st = locus_future_status(ch->fut);
        if (st != 0 && st != LOCUS_EAGAIN)
            return root_cause(ch);
    }
    return n;
}

static int chunk_error(locus_array *a, size_t i, int rc, int timeout_ms)
{
    char msg[1024];
    snprintf(msg, sizeof(msg), "%s", locus_last_error());
    if (rc == LOCUS_ETIMEDOUT)
        return lc_seterr(rc, "array", "chunk %zu of %zu: %s", i, a->nchunks,
                         msg);
    wait_failed(a->nodes[i], timeout_ms);
    pthread_mutex_lock(&arr_mu);
    anode *cause = root_cause(a->nodes[i]);
    if (cause != a->nodes[i] && cause->fut) {
        rc = locus_future_status(cause->fut);
        snprintf(msg, sizeof(msg), "%s: %s", cause->fn ? cause->fn : "input",
                 locus_future_error(cause->fut));
    }
    pthread_mutex_unlock(&arr_mu);
    return lc_seterr(rc, "array", "chunk %zu of %zu: %s", i, a->nchunks, msg);
}

int locus_array_persist(locus_array *a, int timeout_ms)
{
    if (!a)
        return lc_seterr(LOCUS_EINVAL, "array",
                         "locus_array_persist: NULL "
                         "array");
    uint64_t dl = lc_deadline_ms(timeout_ms);
    locus_future **futs = calloc(a->nchunks, sizeof(*futs));
    if (!futs)
        return lc_seterr(LOCUS_ENOMEM, "array", "no memory");
    int rc = submit_all(a, futs);
    for (size_t i = 0; i < a->nchunks && !rc; i++)
        if ((rc = locus_result(futs[i], left_ms(timeout_ms, dl), NULL, NULL)))
            rc = chunk_error(a, i, rc, left_ms(timeout_ms, dl));
    finish(a, futs, 0);
    return rc;
}

int locus_array_compute(locus_array *a, int timeout_ms, void **buf, size_t *len)
{
    if (!a || !buf || !len)
        return lc_seterr(LOCUS_EINVAL, "array",
                         "locus_array_compute: NULL "
                         "argument");
    *buf = NULL;
    *len = 0;
    uint64_t dl = lc_deadline_ms(timeout_ms);
    size_t size = locus_ndbuf_size(a->dtype, a->ndim, a->shape);
    locus_future **futs = calloc(a->nchunks, sizeof(*futs));
    void *res = size ? malloc(size) : NULL;
    if (!futs || !res) {
        free(futs);
        free(res);
        return lc_seterr(LOCUS_ENOMEM, "array",
                         "no memory for the %zu-byte "
                         "result",
                         size);
    }
    locus_ndview y;
    locus_ndbuf_init(res, size, a->dtype, a->ndim, a->shape, &y);
    uint64_t fetched = 0;
    int rc = submit_all(a, futs);
    for (size_t i = 0; i < a->nchunks && !rc; i++) {
        const void *p;
        size_t n;
        rc = locus_result(futs[i], left_ms(timeout_ms, dl), &p, &n);
        if (rc) {
            rc = chunk_error(a, i, rc, left_ms(timeout_ms, dl));
            break;
        }
        fetched += n;
        size_t co[LOCUS_NDIM_MAX];
        int64_t off[LOCUS_NDIM_MAX], cs[LOCUS_NDIM_MAX], one[LOCUS_NDIM_MAX],
            zero[LOCUS_NDIM_MAX] = {0};
        grid_coords(a, i, co);
        chunk_geom(a, co, off, cs);
        locus_ndview x;
        rc = locus_ndbuf_view(p, n, &x);
        int same = !rc && x.dtype == a->dtype && x.ndim == a->ndim;
        for (int d = 0; d < a->ndim; d++) {
            same = same && x.shape[d] == cs[d];
            one[d] = 1;
        }
        if (!same) {
            char s1[160], s2[160];
            ndbuf_shape_str(a->ndim, cs, s2, sizeof(s2));
            if (rc)
                snprintf(s1, sizeof(s1), "no ndbuf (%s)", locus_last_error());
            else
                ndbuf_shape_str(x.ndim, x.shape, s1, sizeof(s1));
            rc = lc_seterr(LOCUS_EPROTO, "array",
                           "chunk %zu: %s returned %s "
                           "%s, expected %s %s",
                           i, a->nodes[i]->fn ? a->nodes[i]->fn : "future",
                           rc ? "" : locus_dtype_name(x.dtype), s1,
                           locus_dtype_name(a->dtype), s2);
            break;
        }
        ndbuf_copy(&y, off, &x, zero, one, cs);
    }
    finish(a, futs, fetched);
    if (rc) {
        free(res);
        return rc;
    }
    *buf = res;
    *len = size;
    return 0;
}

int locus_array_compute_f64(locus_array *a, int timeout_ms, double *v)
{
    if (!a || !v)
        return lc_seterr(LOCUS_EINVAL, "array",
                         "locus_array_compute_f64: "
                         "NULL argument");
    size_t n;
    ndbuf_count(a->ndim, a->shape, &n);
    if (n != 1)
        return lc_seterr(LOCUS_EINVAL, "array",
                         "locus_array_compute_f64: "
                         "the array has %zu elements, not 1",
                         n);
    void *buf;
    size_t len;
    int rc = locus_array_compute(a, timeout_ms, &buf, &len);
    if (rc)
        return rc;
    locus_ndview x;
    locus_ndbuf_view(buf, len, &x);
    *v = locus_ndview_get_f64(&x, 0);
    free(buf);
    return 0;
}

int locus_array_store_hdf5(locus_array *a, const char *file,
                           const char *dataset, unsigned flags, int timeout_ms)
{
    if (!a)
        return lc_seterr(LOCUS_EINVAL, "array",
                         "locus_array_store_hdf5: "
                         "NULL array");
    int rc =
        check_h5_names(file, dataset, flags,
                       LOCUS_H5_NO_LOCKING | LOCUS_H5_TRUNCATE | LOCUS_H5_GZIP,
                       "locus_array_store_hdf5");
    if (rc)
        return rc;
    uint64_t dl = lc_deadline_ms(timeout_ms);
    locus_future **futs = calloc(a->nchunks, sizeof(*futs));
    locus_future **tok = calloc(a->nchunks + 1, sizeof(*tok));
    if (!futs || !tok) {
        free(futs);
        free(tok);
        return lc_seterr(LOCUS_ENOMEM, "array", "no memory");
    }
    rc = submit_all(a, futs);
    if (!rc) {
        int64_t ch[LOCUS_NDIM_MAX];
        for (int d = 0; d < a->ndim; d++)
            ch[d] = a->csz[d][0];
        locus_arg ca[6] = {locus_arg_str(file),
                           locus_arg_str(dataset),
                           locus_arg_i64(a->dtype),
                           locus_arg_bytes(a->shape, (size_t)a->ndim * 8),
                           locus_arg_bytes(ch, (flags & LOCUS_H5_GZIP)
                                                   ? (size_t)a->ndim * 8
                                                   : 0),
                           locus_arg_i64((int64_t)flags)};
        rc = locus_submit(a->c, "locus.h5.create", ca, 6, NULL, &tok[0]);
    }
    /* one chunk after another (HDF5 has no concurrent writers); each write
       runs on the chunk's worker: its token input is 0 bytes */
    for (size_t i = 0; i < a->nchunks && !rc; i++) {
        size_t co[LOCUS_NDIM_MAX];
        int64_t off[LOCUS_NDIM_MAX], cs[LOCUS_NDIM_MAX];
        grid_coords(a, i, co);
        chunk_geom(a, co, off, cs);
        locus_arg sa[6] = {locus_arg_future(futs[i]),
                           locus_arg_str(file),
                           locus_arg_str(dataset),
                           locus_arg_bytes(off, (size_t)a->ndim * 8),
                           locus_arg_i64(flags & LOCUS_H5_NO_LOCKING),
                           locus_arg_future(tok[i])};
        if (a->ndim == 0)
            sa[3] = locus_arg_bytes(NULL, 0);
        rc = locus_submit(a->c, "locus.h5.store", sa, 6, NULL, &tok[i + 1]);
    }
    /* report the first failure, not its echo down the chain */
    for (size_t i = 0; i <= a->nchunks && !rc; i++)
        if ((rc = locus_result(tok[i], left_ms(timeout_ms, dl), NULL, NULL))) {
            char msg[1024];
            snprintf(msg, sizeof(msg), "%s", locus_last_error());
            rc = lc_seterr(rc, "array", "storing %s '%s' of '%s': %s",
                           i ? "a chunk to" : "(creating)", dataset, file, msg);
        }
    /* the rest fail at once (their input failed): let them, before the
       release, so that no task is dropped while its inputs still run */
    size_t ntok = 0;
    while (ntok <= a->nchunks && tok[ntok])
        ntok++;
    if (rc && rc != LOCUS_ETIMEDOUT && ntok)
        locus_wait(tok, ntok, left_ms(timeout_ms, dl));
    for (size_t i = 0; i <= a->nchunks; i++)
        locus_release(tok[i]);
    free(tok);
    finish(a, futs, 0);
    return rc;
}

int locus_array_chunk_future(locus_array *a, size_t i, locus_future **out)
{
    if (!a || !out)
        return lc_seterr(LOCUS_EINVAL, "array",
                         "locus_array_chunk_future: "
                         "NULL argument");
    *out = NULL;
    if (i >= a->nchunks)
        return lc_seterr(LOCUS_ERANGE, "array",
                         "locus_array_chunk_future: "
                         "chunk %zu of %zu",
                         i, a->nchunks);
    pthread_mutex_lock(&arr_mu);
    int rc = submit_node(a->nodes[i]);
    if (!rc)
        *out = locus_future_ref(a->nodes[i]->fut);
    pthread_mutex_unlock(&arr_mu);
    return rc;
}

/* ---- metadata ------------------------------------------------------------ */

int locus_array_ndim(const locus_array *a)
{
    return a ? a->ndim : LOCUS_EINVAL;
}

int locus_array_dtype(const locus_array *a)
{
    return a ? a->dtype : LOCUS_EINVAL;
}

const int64_t *locus_array_shape(const locus_array *a)
{
    return a ? a->shape : NULL;
}

size_t locus_array_nchunks(const locus_array *a)
{
    return a ? a->nchunks : 0;
}

int locus_array_chunks(const locus_array *a, int axis, const int64_t **sizes,
                       size_t *n)
{
    if (!a || !sizes || !n || axis < 0 || axis >= a->ndim)
        return lc_seterr(LOCUS_EINVAL, "array",
                         "locus_array_chunks: NULL "
                         "argument or axis out of range");
    *sizes = a->csz[axis];
    *n = a->ncsz[axis];
    return 0;
}

int locus_array_describe(const locus_array *a, char *buf, size_t len)
{
    if (!a || (len && !buf))
        return lc_seterr(LOCUS_EINVAL, "array",
                         "locus_array_describe: NULL "
                         "argument");
    char shape[200], chunks[1024];
    ndbuf_shape_str(a->ndim, a->shape, shape, sizeof(shape));
    size_t o = (size_t)snprintf(chunks, sizeof(chunks), "(");
    for (int d = 0; d < a->ndim && o < sizeof(chunks); d++) {
        o += (size_t)snprintf(chunks + o, sizeof(chunks) - o, "%s(",
                              d ? ", " : "");
        for (size_t k = 0; k < a->ncsz[d] && o < sizeof(chunks); k++) {
            if (k == 8 && a->ncsz[d] > 10) {
                o += (size_t)snprintf(chunks + o, sizeof(chunks) - o,
                                      ", ... %zu more", a->ncsz[d] - 8);
                break;
            }
            o += (size_t)snprintf(chunks + o, sizeof(chunks) - o, "%s%lld",
                                  k ? ", " : "", (long long)a->csz[d][k]);
        }
        if (o < sizeof(chunks))
            o += (size_t)snprintf(chunks + o, sizeof(chunks) - o,
                                  a->ncsz[d] == 1 ? ",)" : ")");
    }
    if (o < sizeof(chunks))
        snprintf(chunks + o, sizeof(chunks) - o, a->ndim == 1 ? ",)" : ")");
    return snprintf(buf, len,
                    "locus_array<shape=%s, dtype=%s, chunks=%s, "
                    "nchunks=%zu>",
                    shape, locus_dtype_name(a->dtype), chunks, a->nchunks);
}

int array_last_stats(const locus_array *a, array_stats *out)
{
    if (!a || !out)
        return LOCUS_EINVAL;
    pthread_mutex_lock(&arr_mu);
    *out = a->stats;
    pthread_mutex_unlock(&arr_mu);
    return 0;
}

/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Array task graph: nodes (tasks not yet submitted) and their arguments,
 * submitting a node with what it needs, pruning after a wait, and the
 * stats of what ran where (see array_int.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "array/array_int.h"
#include "array/array_tasks.h"
#include "array/ndbuf.h"
#include "base/base.h"

pthread_mutex_t array_mu = PTHREAD_MUTEX_INITIALIZER;
uint64_t array_mark_gen;

anode *array_node_new(locus_client *c, const char *fn, int dtype, int ndim,
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

anode *array_node_ref(anode *n)
{
    atomic_fetch_add(&n->refs, 1);
    return n;
}

static void arg_clear(aarg *a);

void array_node_unref(anode *n)
{
    if (!n || atomic_fetch_sub(&n->refs, 1) != 1)
        return;
    for (uint32_t i = 0; i < n->nargs; i++)
        arg_clear(&n->args[i]);
    free(n->args);
    locus_release(n->fut);
    locus_release(n->chk);
    free(n->bad);
    free(n->fn);
    free(n);
}

static void arg_clear(aarg *a)
{
    if (a->kind == AK_NODE)
        array_node_unref(a->node);
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

void array_arg_bytes(anode *n, const void *p, size_t len)
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

void array_arg_str(anode *n, const char *s)
{
    array_arg_bytes(n, s, strlen(s) + 1);
}

void array_arg_i64(anode *n, int64_t v)
{
    aarg *a = arg_push(n);
    if (a) {
        a->kind = AK_I64;
        a->i64 = v;
    }
}

void array_arg_f64(anode *n, double v)
{
    aarg *a = arg_push(n);
    if (a) {
        a->kind = AK_F64;
        a->f64 = v;
    }
}

void array_arg_node(anode *n, anode *child)
{
    aarg *a = arg_push(n);
    if (a) {
        a->kind = AK_NODE;
        a->node = array_node_ref(child);
    }
}

void array_arg_future(anode *n, locus_future *f)
{
    aarg *a = arg_push(n);
    if (a) {
        a->kind = AK_FUTURE;
        a->fut = locus_future_ref(f);
    }
}

/* a node made with arg_* calls: NULL (and freed) if any of them failed */
anode *array_node_done(anode *n)
{
    if (n && n->oom) {
        array_node_unref(n);
        return NULL;
    }
    return n;
}

static size_t node_bytes(const anode *n)
{
    return locus_ndbuf_size(n->dtype, n->ndim, n->shape);
}

/* under array_mu: submit n and every node it needs that has no future */
int array_submit_node(anode *n)
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
            rc = array_submit_node(n->args[i].node);
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
    if (!rc && n->check && !n->chk) {
        /* next to the result (placement follows its bytes): only its
           header is read */
        locus_arg ca[3 + LOCUS_NDIM_MAX];
        ca[0] = locus_arg_future(n->fut);
        ca[1] = locus_arg_str(n->fn);
        ca[2] = locus_arg_i64(n->dtype);
        for (int d = 0; d < n->ndim; d++)
            ca[3 + d] = locus_arg_i64(n->shape[d]);
        rc = locus_submit(n->c, ARRAY_FN_CHECK, ca, 3 + (size_t)n->ndim, NULL,
                          &n->chk);
    }
    return rc;
}

/* under array_mu: references to the map checks below n not yet passed */
static void collect_checks(anode *n, locus_future ***v, anode ***who,
                           size_t *len, size_t *cap)
{
    if (n->mark == array_mark_gen)
        return;
    n->mark = array_mark_gen;
    if (n->chk || n->bad) {
        if (*len == *cap) {
            size_t nc = *cap ? 2 * *cap : 16;
            locus_future **nv = realloc(*v, nc * sizeof(*nv));
            if (nv)
                *v = nv;
            anode **nw = nv ? realloc(*who, nc * sizeof(*nw)) : NULL;
            if (nw)
                *who = nw;
            if (!nv || !nw)
                return;
            *cap = nc;
        }
        (*who)[*len] = array_node_ref(n);
        (*v)[(*len)++] = n->chk ? locus_future_ref(n->chk) : NULL;
    }
    for (uint32_t i = 0; i < n->nargs; i++)
        if (n->args[i].kind == AK_NODE)
            collect_checks(n->args[i].node, v, who, len, cap);
}

/* under array_mu: forget the futures of every node above a bad map result,
   so that nothing computed from it is reused and it is met again */
static int taint(anode *n)
{
    if (n->mark == array_mark_gen)
        return n->tainted;
    n->mark = array_mark_gen;
    int t = n->bad != NULL;
    for (uint32_t i = 0; i < n->nargs; i++)
        if (n->args[i].kind == AK_NODE && taint(n->args[i].node))
            t = 1;
    n->tainted = t;
    if (t && !n->bad && n->fut) {
        locus_release(n->fut);
        n->fut = NULL;
    }
    return t;
}

int array_check_maps(locus_array *a, int timeout_ms, uint64_t dl)
{
    locus_future **v = NULL;
    anode **who = NULL;
    size_t len = 0, cap = 0;
    pthread_mutex_lock(&array_mu);
    array_mark_gen++;
    for (size_t i = 0; i < a->nchunks; i++)
        collect_checks(a->nodes[i], &v, &who, &len, &cap);
    pthread_mutex_unlock(&array_mu);
    int rc = 0, bad = 0;
    char msg[LC_ERR_MAX] = "";
    for (size_t i = 0; i < len; i++) {
        int st = 0;
        if (v[i] && !rc)
            st = locus_result(v[i], timeout_ms < 0 ? -1 : lc_remaining_ms(dl),
                              NULL, NULL);
        pthread_mutex_lock(&array_mu);
        anode *n = who[i];
        if (st == 0 && v[i] && !rc && n->chk == v[i]) {
            locus_release(n->chk); /* passed: never checked again */
            n->chk = NULL;
            n->check = 0;
        } else if (st && st != LOCUS_ETIMEDOUT && n->chk == v[i]) {
            locus_release(n->chk);
            n->chk = NULL;
            free(n->bad);
            n->bad = strdup(locus_last_error());
        }
        if (st == LOCUS_ETIMEDOUT && !rc) {
            snprintf(msg, sizeof(msg), "%s", locus_last_error());
            rc = st;
        } else if (n->bad && !rc) {
            snprintf(msg, sizeof(msg), "%s", n->bad);
            rc = LOCUS_EINVAL;
            bad = 1;
        }
        pthread_mutex_unlock(&array_mu);
        locus_release(v[i]);
        array_node_unref(n);
    }
    free(v);
    free(who);
    if (bad) {
        pthread_mutex_lock(&array_mu);
        array_mark_gen++;
        for (size_t i = 0; i < a->nchunks; i++)
            taint(a->nodes[i]);
        pthread_mutex_unlock(&array_mu);
    }
    return rc ? lc_seterr(rc, "array", "%s", msg) : 0;
}

/* under array_mu, after a wait: a done node drops its children; a failed one
 * forgets its future (and so do its failed inputs) so that it runs again
 * next time.  A pending one is kept: see array_wait_failed. */
void array_prune(anode *n)
{
    if (!n->fut || !n->fn)
        return;
    int st = locus_future_status(n->fut);
    if (st == LOCUS_EAGAIN)
        return;
    if (st != 0) {
        locus_release(n->fut);
        n->fut = NULL;
        locus_release(n->chk);
        n->chk = NULL;
        for (uint32_t i = 0; i < n->nargs; i++)
            if (n->args[i].kind == AK_NODE)
                array_prune(n->args[i].node);
        return;
    }
    for (uint32_t i = 0; i < n->nargs; i++)
        if (n->args[i].kind == AK_NODE)
            arg_clear(&n->args[i]);
}

/* under array_mu: references to the unfinished futures below n */
static void collect_pending(anode *n, locus_future ***v, size_t *len,
                            size_t *cap)
{
    if (n->mark == array_mark_gen)
        return;
    n->mark = array_mark_gen;
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
 * array_finish.  Wait for them (within the call's time), so that array_prune
 * forgets every failed future and a retry runs them again instead of meeting a
 * failure still on its way. */
void array_wait_failed(anode *n, int timeout_ms)
{
    locus_future **v = NULL;
    size_t len = 0, cap = 0;
    pthread_mutex_lock(&array_mu);
    array_mark_gen++;
    collect_pending(n, &v, &len, &cap);
    pthread_mutex_unlock(&array_mu);
    if (len)
        locus_wait(v, len, timeout_ms);
    for (size_t i = 0; i < len; i++)
        locus_release(v[i]);
    free(v);
}

/* under array_mu: count tasks and where their inputs were */
void array_walk_stats(anode *n, array_stats *st)
{
    if (n->mark == array_mark_gen)
        return;
    n->mark = array_mark_gen;
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
        array_walk_stats(ch, st);
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

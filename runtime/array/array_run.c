/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Running an array's graph: persist (results stay on workers), compute
 * (fetched and assembled here), chunk futures; errors name the chunk and
 * the task that caused them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "array/array_int.h"
#include "array/ndbuf.h"
#include "base/base.h"

/* submit every chunk's tasks; futs[i] gets a reference to chunk i's */
int array_submit_all(locus_array *a, locus_future **futs)
{
    int rc = 0;
    pthread_mutex_lock(&array_mu);
    for (size_t i = 0; i < a->nchunks && !rc; i++) {
        rc = array_submit_node(a->nodes[i]);
        if (!rc)
            futs[i] = locus_future_ref(a->nodes[i]->fut);
    }
    pthread_mutex_unlock(&array_mu);
    return rc;
}

/* after waiting: record stats, drop what is no longer needed */
void array_finish(locus_array *a, locus_future **futs, uint64_t client_bytes)
{
    char keep[LC_ERR_MAX]; /* the walk's calls must not clear a failure */
    lc_err_save(keep);
    pthread_mutex_lock(&array_mu);
    memset(&a->stats, 0, sizeof(a->stats));
    array_mark_gen++;
    for (size_t i = 0; i < a->nchunks; i++)
        array_walk_stats(a->nodes[i], &a->stats);
    a->stats.client_bytes = client_bytes;
    for (size_t i = 0; i < a->nchunks; i++)
        array_prune(a->nodes[i]);
    pthread_mutex_unlock(&array_mu);
    for (size_t i = 0; futs && i < a->nchunks; i++)
        locus_release(futs[i]);
    free(futs);
    lc_err_restore(keep);
}

int array_left_ms(int timeout_ms, uint64_t dl)
{
    if (timeout_ms < 0)
        return -1;
    int r = lc_remaining_ms(dl);
    return r < 0 ? 0 : r;
}

/* under array_mu: the failed node nearest the leaves below n (its inputs all
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
    array_wait_failed(a->nodes[i], timeout_ms);
    pthread_mutex_lock(&array_mu);
    anode *cause = root_cause(a->nodes[i]);
    if (cause != a->nodes[i] && cause->fut) {
        rc = locus_future_status(cause->fut);
        snprintf(msg, sizeof(msg), "%s: %s", cause->fn ? cause->fn : "input",
                 locus_future_error(cause->fut));
    }
    pthread_mutex_unlock(&array_mu);
    return lc_seterr(rc, "array", "chunk %zu of %zu: %s", i, a->nchunks, msg);
}

int locus_array_persist(locus_array *a, int timeout_ms)
{
    lc_clearerr();
    if (!a)
        return lc_seterr(LOCUS_EINVAL, "array",
                         "locus_array_persist: NULL "
                         "array");
    uint64_t dl = lc_deadline_ms(timeout_ms);
    locus_future **futs = calloc(a->nchunks, sizeof(*futs));
    if (!futs)
        return lc_seterr(LOCUS_ENOMEM, "array", "no memory");
    int rc = array_submit_all(a, futs);
    for (size_t i = 0; i < a->nchunks && !rc; i++)
        if ((rc = locus_result(futs[i], array_left_ms(timeout_ms, dl), NULL,
                               NULL)))
            rc = chunk_error(a, i, rc, array_left_ms(timeout_ms, dl));
    if (!rc)
        rc = array_check_maps(a, timeout_ms, dl);
    array_finish(a, futs, 0);
    return rc;
}

int locus_array_compute(locus_array *a, int timeout_ms, void **buf, size_t *len)
{
    lc_clearerr();
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
    int rc = array_submit_all(a, futs);
    for (size_t i = 0; i < a->nchunks && !rc; i++) {
        const void *p;
        size_t n;
        rc = locus_result(futs[i], array_left_ms(timeout_ms, dl), &p, &n);
        if (rc) {
            rc = chunk_error(a, i, rc, array_left_ms(timeout_ms, dl));
            break;
        }
        fetched += n;
        size_t co[LOCUS_NDIM_MAX];
        int64_t off[LOCUS_NDIM_MAX], cs[LOCUS_NDIM_MAX], one[LOCUS_NDIM_MAX],
            zero[LOCUS_NDIM_MAX] = {0};
        array_grid_coords(a, i, co);
        array_chunk_geom(a, co, off, cs);
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
    if (!rc)
        rc = array_check_maps(a, timeout_ms, dl);
    array_finish(a, futs, fetched);
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
    lc_clearerr();
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

int locus_array_chunk_future(locus_array *a, size_t i, locus_future **out)
{
    lc_clearerr();
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
    pthread_mutex_lock(&array_mu);
    int rc = array_submit_node(a->nodes[i]);
    if (!rc)
        *out = locus_future_ref(a->nodes[i]->fut);
    pthread_mutex_unlock(&array_mu);
    return rc;
}

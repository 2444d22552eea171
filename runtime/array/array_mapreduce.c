/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Element-wise maps with a task function, and reductions: a partial per
 * chunk where it lives, combined in a tree of fan-in FANIN whose groups
 * follow the chunks' expected workers.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "array/array_int.h"
#include "array/array_tasks.h"
#include "array/ndbuf.h"
#include "base/base.h"

#define FANIN 8

int locus_array_map(locus_array *a, const char *fn, const locus_arg *args,
                    size_t nargs, int dtype, locus_array **out)
{
    lc_clearerr();
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
        anode *nn = array_node_new(a->c, fn, dtype, src->ndim, src->shape);
        if (nn) {
            nn->hint = src->hint;
            nn->check = 1;
            array_arg_node(nn, src);
            for (size_t k = 0; k < nargs; k++) {
                const locus_arg *x = &args[k];
                if (x->kind == LOCUS_ARG_BYTES)
                    array_arg_bytes(nn, x->data, x->len);
                else if (x->kind == LOCUS_ARG_I64)
                    array_arg_i64(nn, x->v.i64);
                else if (x->kind == LOCUS_ARG_F64)
                    array_arg_f64(nn, x->v.f64);
                else
                    array_arg_future(nn, x->future);
            }
        }
        if (!(b->nodes[i] = array_node_done(nn))) {
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
            nn = array_node_new(c, "locus.array.combine", first->dtype,
                                first->ndim, first->shape);
            if (nn) {
                nn->hint = first->hint;
                array_arg_i64(nn, op);
                array_arg_f64(nn, root ? div : 0.0);
                for (size_t k = b; k < e; k++)
                    array_arg_node(nn, list[k]);
            }
            for (size_t k = b; k < e; k++)
                array_node_unref(list[k]);
            list[o++] = array_node_done(nn);
            if (!list[o - 1]) {
                for (size_t k = 0; k < o - 1; k++)
                    array_node_unref(list[k]);
                for (size_t k = e; k < n; k++)
                    array_node_unref(list[k]);
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
    lc_clearerr();
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
        array_grid_coords(b, oi, oco);
        size_t m = 0;
        for (size_t j = 0; j < ngroup; j++) {
            size_t idx = j;
            if (axis >= 0) {
                for (int d = 0, k = 0; d < a->ndim; d++)
                    ico[d] = d == axis ? j : oco[k++];
                idx = array_grid_index(a, ico);
            }
            anode *src = a->nodes[idx];
            int64_t ps[LOCUS_NDIM_MAX];
            int pnd = 0;
            for (int d = 0; axis >= 0 && d < a->ndim; d++)
                if (d != axis)
                    ps[pnd++] = src->shape[d];
            anode *nn =
                array_node_new(a->c, "locus.array.reduce",
                               array_reduce_dtype(pop, a->dtype), pnd, ps);
            if (nn) {
                nn->hint = src->hint;
                array_arg_node(nn, src);
                array_arg_i64(nn, pop);
                array_arg_i64(nn, axis);
            }
            if (!(list[m] = array_node_done(nn)))
                break;
            m++;
        }
        anode *root =
            m == ngroup ? combine_tree(a->c, list, m, cop, div) : NULL;
        if (m != ngroup)
            for (size_t k = 0; k < m; k++)
                array_node_unref(list[k]);
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

/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Slicing with Python's semantics (negative indices and steps): a chunk
 * wholly selected is reused, others are sliced where they live.
 */
#include <stdlib.h>
#include <string.h>

#include "array/array_int.h"
#include "base/base.h"

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
    lc_clearerr();
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
        array_grid_coords(b, oi, co);
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
        anode *src = a->nodes[array_grid_index(a, ic)];
        if (whole) {
            b->nodes[oi] = array_node_ref(src);
            continue;
        }
        anode *nn = array_node_new(a->c, "locus.array.slice", a->dtype, nd, cs);
        if (nn) {
            nn->hint = src->hint;
            array_arg_node(nn, src);
            array_arg_bytes(nn, sel, (size_t)nd * 3 * 8);
        }
        if (!(b->nodes[oi] = array_node_done(nn))) {
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

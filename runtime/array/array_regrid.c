/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Rechunking and concatenation: output chunks equal to an input chunk
 * reuse its node, others are assembled on a worker from the pieces that
 * cover them.
 */
#include <stdlib.h>
#include <string.h>

#include "array/array_int.h"
#include "array/ndbuf.h"
#include "base/base.h"

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
        array_grid_coords(b, oi, co);
        array_chunk_geom(b, co, lo, cs);
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
            b->nodes[oi] = array_node_ref(a->nodes[array_grid_index(a, first)]);
            continue;
        }
        anode *nd =
            array_node_new(a->c, "locus.array.assemble", a->dtype, a->ndim, cs);
        if (nd) {
            int64_t meta[2 + LOCUS_NDIM_MAX];
            meta[0] = a->dtype;
            meta[1] = a->ndim;
            memcpy(meta + 2, cs, (size_t)a->ndim * 8);
            array_arg_bytes(nd, meta, (size_t)(2 + a->ndim) * 8);
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
                anode *src = a->nodes[array_grid_index(a, ic)];
                if (psz > bestsz) {
                    bestsz = psz;
                    nd->hint = src->hint;
                }
                array_arg_node(nd, src);
                array_arg_bytes(nd, reg, (size_t)a->ndim * 3 * 8);
                for (int d = a->ndim - 1; d >= 0; d--) {
                    if (++ic[d] <= last[d])
                        break;
                    ic[d] = first[d];
                }
            }
        }
        if (!(b->nodes[oi] = array_node_done(nd))) {
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
    lc_clearerr();
    if (!a || !out || (a->ndim && !chunks))
        return lc_seterr(LOCUS_EINVAL, "array",
                         "locus_array_rechunk: NULL "
                         "argument");
    *out = NULL;
    int64_t *sizes[LOCUS_NDIM_MAX];
    size_t ns[LOCUS_NDIM_MAX];
    int rc = array_grid_of(a->ndim, a->shape, chunks, 1, sizes, ns);
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
    lc_clearerr();
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
                array_grid_coords(x, j, co);
                if (co[axis] != k)
                    continue;
                co[axis] = pos;
                b->nodes[array_grid_index(b, co)] = array_node_ref(x->nodes[j]);
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

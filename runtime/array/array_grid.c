/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Arrays and their chunk grids: making an array, chunk coordinates and
 * geometry, freeing, and the metadata calls of include/locus/array.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "array/array_int.h"
#include "array/ndbuf.h"
#include "base/base.h"

/* Sizes of chunks of at most chunk along an extent (one chunk when chunk
 * <= 0 or the extent is 0). */
int array_grid_uniform(int64_t extent, int64_t chunk, int64_t **sizes,
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
int array_make(locus_client *c, int dtype, int ndim, const int64_t *shape,
               int64_t **sizes, const size_t *nsizes, locus_array **out)
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
void array_grid_coords(const locus_array *a, size_t idx, size_t *co)
{
    for (int i = a->ndim - 1; i >= 0; i--) {
        co[i] = idx % a->ncsz[i];
        idx /= a->ncsz[i];
    }
}

size_t array_grid_index(const locus_array *a, const size_t *co)
{
    size_t idx = 0;
    for (int i = 0; i < a->ndim; i++)
        idx = idx * a->ncsz[i] + co[i];
    return idx;
}

void array_chunk_geom(const locus_array *a, const size_t *co, int64_t *off,
                      int64_t *shape)
{
    for (int i = 0; i < a->ndim; i++) {
        if (off)
            off[i] = a->coff[i][co[i]];
        shape[i] = a->csz[i][co[i]];
    }
}

/* the uniform grid of chunks[] over shape (chunks NULL: axis 0 in nparts) */
int array_grid_of(int ndim, const int64_t *shape, const int64_t *chunks,
                  size_t nparts, int64_t **sizes, size_t *nsizes)
{
    for (int i = 0; i < ndim; i++) {
        int64_t ch = chunks ? chunks[i] : 0;
        if (!chunks && i == 0 && nparts > 1)
            ch = (shape[0] + (int64_t)nparts - 1) / (int64_t)nparts;
        int rc = array_grid_uniform(shape[i], ch, &sizes[i], &nsizes[i]);
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
        array_node_unref(a->nodes[i]);
    array_free_meta(a);
}

int array_check_shape(int ndim, const int64_t *shape, const char *what)
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
    lc_clearerr();
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
    lc_clearerr();
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
    pthread_mutex_lock(&array_mu);
    *out = a->stats;
    pthread_mutex_unlock(&array_mu);
    return 0;
}

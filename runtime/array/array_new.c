/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Array constructors that need no file: arange, seeded random normal, and
 * arrays of task results (the shapes come back, the data stays).  HDF5
 * arrays are made in runtime/h5/h5array.c.
 */
#include <stdlib.h>
#include <string.h>

#include "array/array_int.h"
#include "array/ndbuf.h"
#include "base/base.h"

int array_check_client(locus_client *c, locus_array **out, const char *what)
{
    if (!c || !out)
        return lc_seterr(LOCUS_EINVAL, "array", "%s: NULL client or out", what);
    *out = NULL;
    return 0;
}

int locus_array_arange(locus_client *c, int64_t n, int64_t chunk,
                       locus_array **out)
{
    lc_clearerr();
    int rc = array_check_client(c, out, "locus_array_arange");
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
    if ((rc = array_grid_uniform(n, chunk, &sizes[0], &ns[0])) ||
        (rc = array_make(c, LOCUS_INT64, 1, &n, sizes, ns, &a)))
        return rc;
    for (size_t i = 0; i < a->nchunks; i++) {
        anode *nd = array_node_new(c, "locus.array.arange", LOCUS_INT64, 1,
                                   &a->csz[0][i]);
        if (nd) {
            array_arg_i64(nd, a->coff[0][i]);
            array_arg_i64(nd, a->csz[0][i]);
        }
        if (!(a->nodes[i] = array_node_done(nd))) {
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
    lc_clearerr();
    int rc = array_check_client(c, out, "locus_array_random_normal");
    if (!rc)
        rc = array_check_shape(ndim, shape, "locus_array_random_normal");
    if (rc)
        return rc;
    size_t nparts = 1;
    if (!chunks && locus_workers(c, NULL, 0, &nparts) != 0)
        nparts = 1;
    int64_t *sizes[LOCUS_NDIM_MAX];
    size_t ns[LOCUS_NDIM_MAX];
    locus_array *a;
    if ((rc = array_grid_of(ndim, shape, chunks, nparts, sizes, ns)) ||
        (rc = array_make(c, LOCUS_FLOAT64, ndim, shape, sizes, ns, &a)))
        return rc;
    for (size_t i = 0; i < a->nchunks; i++) {
        size_t co[LOCUS_NDIM_MAX];
        int64_t off[LOCUS_NDIM_MAX], cs[LOCUS_NDIM_MAX];
        array_grid_coords(a, i, co);
        array_chunk_geom(a, co, off, cs);
        anode *nd = array_node_new(c, "locus.array.random_normal",
                                   LOCUS_FLOAT64, ndim, cs);
        if (nd) {
            array_arg_i64(nd, (int64_t)seed);
            array_arg_f64(nd, loc);
            array_arg_f64(nd, scale);
            array_arg_bytes(nd, shape, (size_t)ndim * 8);
            array_arg_bytes(nd, off, (size_t)ndim * 8);
            array_arg_bytes(nd, cs, (size_t)ndim * 8);
        }
        if (!(a->nodes[i] = array_node_done(nd))) {
            locus_array_free(a);
            return lc_seterr(LOCUS_ENOMEM, "array", "no memory");
        }
    }
    *out = a;
    return 0;
}

/* one array of one chunk per node (taking the nodes' references and
 * setting nodes[i] to NULL), concatenated along axis */
int array_concat_nodes(locus_client *c, anode **nodes, size_t n, int axis,
                       locus_array **out)
{
    int rc = 0;
    locus_array **parts = calloc(n, sizeof(*parts));
    if (!parts) {
        for (size_t i = 0; i < n; i++) {
            array_node_unref(nodes[i]);
            nodes[i] = NULL;
        }
        return lc_seterr(LOCUS_ENOMEM, "array", "no memory");
    }
    for (size_t i = 0; i < n; i++) {
        anode *nd = nodes[i];
        nodes[i] = NULL;
        if (rc) {
            array_node_unref(nd);
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
            array_node_unref(nd);
            continue;
        }
        rc =
            array_make(c, nd->dtype, nd->ndim, nd->shape, sizes, ns, &parts[i]);
        if (rc)
            array_node_unref(nd);
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
int array_wait_infos(locus_future **fs, size_t n, int timeout_ms, int *dtype,
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

int locus_array_from_futures(locus_client *c, locus_future *const *fs, size_t n,
                             int axis, int timeout_ms, locus_array **out)
{
    lc_clearerr();
    int rc = array_check_client(c, out, "locus_array_from_futures");
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
        rc = array_wait_infos(inf, n, timeout_ms, dt, nd, shape, NULL);
    if (rc)
        goto done;
    for (size_t i = 0; i < n; i++) {
        if (!(nodes[i] = array_node_new(c, NULL, dt[i], nd[i], shape[i]))) {
            rc = lc_seterr(LOCUS_ENOMEM, "array", "no memory");
            goto done;
        }
        nodes[i]->fut = locus_future_ref(fs[i]);
        size_t k;
        locus_who_has(fs[i], &nodes[i]->hint, 1, &k);
    }
    rc = array_concat_nodes(c, nodes, n, axis, out);
done:
    for (size_t i = 0; inf && i < n; i++)
        locus_release(inf[i]);
    for (size_t i = 0; rc && nodes && i < n; i++)
        array_node_unref(nodes[i]);
    free(inf);
    free(nodes);
    free(dt);
    free(nd);
    free(shape);
    return rc;
}

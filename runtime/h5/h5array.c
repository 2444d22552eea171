/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * HDF5-backed arrays: from one dataset (chunks spread over the workers in
 * placement order), from one dataset in many files, and stored chunk by
 * chunk into a dataset.  The reads and writes are the "locus.h5.*"
 * built-ins on the workers (h5tasks.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "array/array_int.h"
#include "base/base.h"
#include "client/client_order.h"
#include "h5/h5client.h"

/* a load node of the hyperslab [off, off + cs) of file:dataset */
static anode *load_node(locus_client *c, const char *file, const char *dataset,
                        int dtype, int ndim, const int64_t *off,
                        const int64_t *cs, int whole, unsigned flags,
                        int worker)
{
    anode *nd = array_node_new(c, "locus.h5.load", dtype, ndim, cs);
    if (!nd)
        return NULL;
    int64_t sel[3 * LOCUS_NDIM_MAX];
    for (int i = 0; i < ndim; i++) {
        sel[i] = off[i];
        sel[ndim + i] = cs[i];
        sel[2 * ndim + i] = 1;
    }
    array_arg_str(nd, file);
    array_arg_str(nd, dataset);
    array_arg_bytes(nd, sel, whole ? 0 : (size_t)ndim * 3 * 8);
    array_arg_i64(nd, (int64_t)flags);
    nd->worker = nd->hint = worker;
    return array_node_done(nd);
}

int locus_array_from_hdf5(locus_client *c, const char *file,
                          const char *dataset, const int64_t *chunks,
                          unsigned flags, locus_array **out)
{
    lc_clearerr();
    int rc = array_check_client(c, out, "locus_array_from_hdf5");
    if (!rc)
        rc = h5_check_names(file, dataset, flags, LOCUS_H5_NO_LOCKING,
                            "locus_array_from_hdf5");
    if (rc)
        return rc;
    char abs[H5_PATH_MAX];
    if (!(file = h5_abs_path(file, abs, "locus_array_from_hdf5")))
        return LOCUS_EINVAL;
    locus_h5_info info;
    rc = locus_h5_info_get(c, file, dataset, flags, -1, &info);
    if (rc)
        return rc;
    int *ids = NULL;
    size_t nw = 0;
    if ((rc = client_worker_order(c, &ids, &nw)))
        return rc;
    int64_t *sizes[LOCUS_NDIM_MAX];
    size_t ns[LOCUS_NDIM_MAX];
    locus_array *a = NULL;
    if ((rc = array_grid_of(info.ndim, info.shape, chunks, nw, sizes, ns)) ||
        (rc =
             array_make(c, info.dtype, info.ndim, info.shape, sizes, ns, &a))) {
        free(ids);
        return rc;
    }
    for (size_t i = 0; i < a->nchunks; i++) {
        size_t co[LOCUS_NDIM_MAX];
        int64_t off[LOCUS_NDIM_MAX], cs[LOCUS_NDIM_MAX];
        array_grid_coords(a, i, co);
        array_chunk_geom(a, co, off, cs);
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

int locus_array_from_files(locus_client *c, const char *const *files, size_t n,
                           const char *dataset, int axis, unsigned flags,
                           locus_array **out)
{
    lc_clearerr();
    int rc = array_check_client(c, out, "locus_array_from_files");
    if (rc)
        return rc;
    if (!files || n == 0)
        return lc_seterr(LOCUS_EINVAL, "array",
                         "locus_array_from_files: no "
                         "file");
    for (size_t i = 0; i < n; i++)
        if ((rc = h5_check_names(files[i], dataset, flags, LOCUS_H5_NO_LOCKING,
                                 "locus_array_from_files")))
            return rc;
    /* the workers' view of each path: absolute */
    char **absf = calloc(n, sizeof(*absf));
    for (size_t i = 0; absf && i < n; i++) {
        char buf[H5_PATH_MAX];
        const char *f = h5_abs_path(files[i], buf, "locus_array_from_files");
        if (!f || !(absf[i] = strdup(f))) {
            rc = f ? lc_seterr(LOCUS_ENOMEM, "array", "no memory")
                   : LOCUS_EINVAL;
            break;
        }
    }
    if (!absf)
        rc = lc_seterr(LOCUS_ENOMEM, "array", "no memory");
    int *ids = NULL;
    size_t nw = 0;
    if (!rc)
        rc = client_worker_order(c, &ids, &nw);
    if (rc) {
        for (size_t i = 0; absf && i < n; i++)
            free(absf[i]);
        free(absf);
        return rc;
    }
    files = (const char *const *)absf;
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
        rc = array_wait_infos(fs, n, -1, dt, nd, shape,
                              (const char *const *)files);
    if (rc)
        goto done;
    int64_t zero[LOCUS_NDIM_MAX] = {0};
    for (size_t i = 0; i < n; i++)
        if (!(nodes[i] = load_node(c, files[i], dataset, dt[i], nd[i], zero,
                                   shape[i], 1, flags, ids[i % nw]))) {
            rc = lc_seterr(LOCUS_ENOMEM, "array", "no memory");
            goto done;
        }
    rc = array_concat_nodes(c, nodes, n, axis, out);
done:
    for (size_t i = 0; fs && i < n; i++)
        locus_release(fs[i]);
    for (size_t i = 0; rc && nodes && i < n; i++)
        array_node_unref(nodes[i]);
    free(fs);
    free(nodes);
    free(dt);
    free(nd);
    free(shape);
    free(ids);
    for (size_t i = 0; i < n; i++)
        free(absf[i]);
    free(absf);
    return rc;
}

int locus_array_store_hdf5(locus_array *a, const char *file,
                           const char *dataset, unsigned flags, int timeout_ms)
{
    lc_clearerr();
    if (!a)
        return lc_seterr(LOCUS_EINVAL, "array",
                         "locus_array_store_hdf5: "
                         "NULL array");
    int rc =
        h5_check_names(file, dataset, flags,
                       LOCUS_H5_NO_LOCKING | LOCUS_H5_TRUNCATE | LOCUS_H5_GZIP,
                       "locus_array_store_hdf5");
    if (rc)
        return rc;
    char abs[H5_PATH_MAX];
    if (!(file = h5_abs_path(file, abs, "locus_array_store_hdf5")))
        return LOCUS_EINVAL;
    uint64_t dl = lc_deadline_ms(timeout_ms);
    locus_future **futs = calloc(a->nchunks, sizeof(*futs));
    locus_future **tok = calloc(a->nchunks + 1, sizeof(*tok));
    if (!futs || !tok) {
        free(futs);
        free(tok);
        return lc_seterr(LOCUS_ENOMEM, "array", "no memory");
    }
    rc = array_submit_all(a, futs);
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
        array_grid_coords(a, i, co);
        array_chunk_geom(a, co, off, cs);
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
        if ((rc = locus_result(tok[i], array_left_ms(timeout_ms, dl), NULL,
                               NULL))) {
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
    if (rc && rc != LOCUS_ETIMEDOUT && ntok) {
        char keep[LC_ERR_MAX];
        lc_err_save(keep);
        locus_wait(tok, ntok, array_left_ms(timeout_ms, dl));
        lc_err_restore(keep);
    }
    for (size_t i = 0; i <= a->nchunks; i++)
        locus_release(tok[i]);
    free(tok);
    if (!rc)
        rc = array_check_maps(a, timeout_ms, dl);
    array_finish(a, futs, 0);
    return rc;
}

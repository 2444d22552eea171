/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Client helpers of the HDF5 built-ins: argument checks at the API edge,
 * then a submit (the work happens on workers, see h5tasks.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/base.h"
#include "client/client_order.h"
#include "h5/h5client.h"
#include "locus/array.h"

int h5_check_names(const char *file, const char *dataset, unsigned flags,
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

const char *h5_abs_path(const char *file, char *buf, const char *what)
{
    if (file[0] == '/')
        return file;
    char cwd[H5_PATH_MAX];
    if (!getcwd(cwd, sizeof(cwd))) {
        lc_seterr(LOCUS_EINVAL, "h5",
                  "%s: '%s' is relative and the working directory is "
                  "unknown (%s): give an absolute path",
                  what, file, strerror(errno));
        return NULL;
    }
    int n = snprintf(buf, H5_PATH_MAX, "%s/%s", cwd, file);
    if (n < 0 || n >= H5_PATH_MAX) {
        lc_seterr(LOCUS_EINVAL, "h5", "%s: %s/%s is %d bytes long (at most %d)",
                  what, cwd, file, n, H5_PATH_MAX - 1);
        return NULL;
    }
    return buf;
}

int locus_h5_load(locus_client *c, const char *file, const char *dataset,
                  const locus_h5_sel *sel, unsigned flags,
                  const struct locus_submit_opts *opts, locus_future **out)
{
    lc_clearerr();
    if (!c || !out)
        return lc_seterr(LOCUS_EINVAL, "h5",
                         "locus_h5_load: NULL client or "
                         "out");
    *out = NULL;
    int rc = h5_check_names(file, dataset, flags, LOCUS_H5_NO_LOCKING,
                            "locus_h5_load");
    if (rc)
        return rc;
    char abs[H5_PATH_MAX];
    if (!(file = h5_abs_path(file, abs, "locus_h5_load")))
        return LOCUS_EINVAL;
    int64_t s[3 * LOCUS_NDIM_MAX];
    size_t ns = 0;
    if (sel) {
        int nd = sel->ndim;
        if (nd < 0 || nd > LOCUS_NDIM_MAX)
            return lc_seterr(LOCUS_EINVAL, "h5",
                             "locus_h5_load: selection "
                             "of %d dimensions",
                             nd);
        for (int i = 0; i < nd; i++) {
            if (sel->start[i] < 0 || sel->count[i] < 0 || sel->stride[i] < 0)
                return lc_seterr(LOCUS_EINVAL, "h5",
                                 "locus_h5_load: "
                                 "negative start, count or stride on axis %d",
                                 i);
            s[i] = sel->start[i];
            s[nd + i] = sel->count[i];
            s[2 * nd + i] = sel->stride[i] ? sel->stride[i] : 1;
        }
        ns = 3 * (size_t)nd;
    }
    locus_arg args[4] = {locus_arg_str(file), locus_arg_str(dataset),
                         locus_arg_bytes(s, ns * 8),
                         locus_arg_i64((int64_t)flags)};
    return locus_submit(c, "locus.h5.load", args, 4, opts, out);
}

int locus_h5_load_files(locus_client *c, const char *const *files, size_t n,
                        const char *dataset, unsigned flags, locus_future **out)
{
    lc_clearerr();
    if (!c || !out || (n && !files))
        return lc_seterr(LOCUS_EINVAL, "h5",
                         "locus_h5_load_files: NULL "
                         "argument");
    for (size_t i = 0; i < n; i++) {
        out[i] = NULL;
        int rc = h5_check_names(files[i], dataset, flags, LOCUS_H5_NO_LOCKING,
                                "locus_h5_load_files");
        if (rc)
            return rc;
    }
    if (n == 0)
        return 0;
    int *ids;
    size_t nw;
    int rc = client_worker_order(c, &ids, &nw);
    if (rc)
        return rc;
    for (size_t i = 0; i < n && !rc; i++) {
        struct locus_submit_opts o = LOCUS_SUBMIT_OPTS_INIT;
        o.workers = &ids[i % nw];
        o.nworkers = 1;
        rc = locus_h5_load(c, files[i], dataset, NULL, flags, &o, &out[i]);
    }
    if (rc)
        for (size_t i = 0; i < n; i++) {
            locus_release(out[i]);
            out[i] = NULL;
        }
    free(ids);
    return rc;
}

int locus_h5_info_get(locus_client *c, const char *file, const char *dataset,
                      unsigned flags, int timeout_ms, locus_h5_info *out)
{
    lc_clearerr();
    if (!c || !out)
        return lc_seterr(LOCUS_EINVAL, "h5",
                         "locus_h5_info_get: NULL "
                         "client or out");
    int rc = h5_check_names(file, dataset, flags, LOCUS_H5_NO_LOCKING,
                            "locus_h5_info_get");
    if (rc)
        return rc;
    char abs[H5_PATH_MAX];
    if (!(file = h5_abs_path(file, abs, "locus_h5_info_get")))
        return LOCUS_EINVAL;
    locus_arg args[3] = {locus_arg_str(file), locus_arg_str(dataset),
                         locus_arg_i64((int64_t)flags)};
    locus_future *f;
    rc = locus_submit(c, "locus.h5.info", args, 3, NULL, &f);
    if (rc)
        return rc;
    const void *p;
    size_t len;
    rc = locus_result(f, timeout_ms, &p, &len);
    if (!rc) {
        int64_t v[2 + 2 * LOCUS_NDIM_MAX];
        memset(out, 0, sizeof(*out));
        if (len >= 16 && len <= sizeof(v) && len % 8 == 0) {
            memcpy(v, p, len);
            out->dtype = (int)v[0];
            out->ndim = (int)v[1];
        }
        if (len < 16 || out->ndim < 0 || out->ndim > LOCUS_NDIM_MAX ||
            len != (size_t)(2 + 2 * out->ndim) * 8) {
            rc = lc_seterr(LOCUS_EPROTO, "h5", "malformed info of %zu bytes",
                           len);
        } else {
            for (int i = 0; i < out->ndim; i++) {
                out->shape[i] = v[2 + i];
                out->chunk[i] = v[2 + out->ndim + i];
            }
        }
    }
    locus_release(f);
    return rc;
}

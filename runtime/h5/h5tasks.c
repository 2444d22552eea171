/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * HDF5 built-in tasks ("locus.h5.*"), run by workers.  Each task opens
 * the file, does its work and closes everything before it returns: no HDF5
 * handle outlives a task or crosses a process (dask/dask#6482).
 *
 * HDF5 calls are serialized by h5_mu unless the library says it is
 * thread-safe (then it serializes them itself) and $LOCUS_H5_SERIALIZE is
 * not set to 1.  HDF5's automatic error
 * printing is turned off (per thread in a thread-safe build, hence at every
 * entry) and its error stack is turned into the task's message instead.
 */
#include "h5/h5tasks.h"

#include <errno.h>
#include <hdf5.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "array/ndbuf.h"
#include "base/base.h"

#define FAIL(t, code, ...) ndbuf_task_fail((t), (code), __VA_ARGS__)
#define PATH_MAXLEN 4096

static pthread_once_t h5_once = PTHREAD_ONCE_INIT;
static int h5_threadsafe;
static pthread_mutex_t h5_mu = PTHREAD_MUTEX_INITIALIZER;

static void h5_init(void)
{
    hbool_t ts = 0;
    if (H5is_library_threadsafe(&ts) < 0)
        ts = 0;
    h5_threadsafe = ts ? 1 : 0;
    /* LOCUS_H5_SERIALIZE=1: serialize even a thread-safe HDF5 (tests, or
       a library that claims more than it does) */
    const char *e = getenv("LOCUS_H5_SERIALIZE");
    int forced = e && *e && strcmp(e, "0");
    if (forced)
        h5_threadsafe = 0;
    unsigned maj = 0, min = 0, rel = 0;
    H5get_libversion(&maj, &min, &rel);
    lc_log(LC_LOG_INFO, "h5", "HDF5 %u.%u.%u (%sthread-safe): calls %s", maj,
           min, rel, ts ? "" : "not ",
           h5_threadsafe ? "not serialized by locus"
           : forced      ? "serialized per worker (LOCUS_H5_SERIALIZE)"
                         : "serialized per worker");
}

static void h5_enter(void)
{
    pthread_once(&h5_once, h5_init);
    if (!h5_threadsafe)
        pthread_mutex_lock(&h5_mu);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

static void h5_leave(void)
{
    if (!h5_threadsafe)
        pthread_mutex_unlock(&h5_mu);
}

/* ---- HDF5's error stack as a message ------------------------------------- */

typedef struct emsg {
    char outer[256], inner[256];
} emsg;

static herr_t walk_cb(unsigned n, const H5E_error2_t *e, void *data)
{
    emsg *m = data;
    const char *d = e->desc && *e->desc ? e->desc : e->func_name;
    if (n == 0)
        snprintf(m->outer, sizeof(m->outer), "%s", d ? d : "");
    snprintf(m->inner, sizeof(m->inner), "%s", d ? d : "");
    return 0;
}

/* "api message: innermost message" of the current error stack */
static const char *h5_err(char *buf, size_t len)
{
    emsg m;
    m.outer[0] = m.inner[0] = 0;
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, walk_cb, &m);
    if (!m.outer[0])
        snprintf(buf, len, "no detail from HDF5");
    else if (!strcmp(m.outer, m.inner))
        snprintf(buf, len, "%s", m.outer);
    else
        snprintf(buf, len, "%s: %s", m.outer, m.inner);
    H5Eclear2(H5E_DEFAULT);
    return buf;
}

/* ---- handles of one task ------------------------------------------------- */

typedef struct h5ctx {
    hid_t fapl, file, dset, ftype, fspace, mspace, dcpl, lcpl;
    const char *fname, *dname;
} h5ctx;

static void ctx_init(h5ctx *x, const char *fname, const char *dname)
{
    x->fapl = x->file = x->dset = x->ftype = H5I_INVALID_HID;
    x->fspace = x->mspace = x->dcpl = x->lcpl = H5I_INVALID_HID;
    x->fname = fname;
    x->dname = dname;
}

static void ctx_close(h5ctx *x)
{
    if (x->mspace >= 0)
        H5Sclose(x->mspace);
    if (x->fspace >= 0)
        H5Sclose(x->fspace);
    if (x->ftype >= 0)
        H5Tclose(x->ftype);
    if (x->dset >= 0)
        H5Dclose(x->dset);
    if (x->dcpl >= 0)
        H5Pclose(x->dcpl);
    if (x->lcpl >= 0)
        H5Pclose(x->lcpl);
    if (x->file >= 0)
        H5Fclose(x->file);
    if (x->fapl >= 0)
        H5Pclose(x->fapl);
    ctx_init(x, x->fname, x->dname);
}

/* ---- arguments ----------------------------------------------------------- */

/* Argument i as a string (with or without its NUL) into buf. */
static int arg_str(locus_task *t, size_t i, const char *what, char *buf,
                   size_t size)
{
    const void *p;
    size_t n;
    if (locus_task_arg(t, i, &p, &n) != 0)
        return FAIL(t, LOCUS_EINVAL, "h5: argument %zu (%s) missing", i, what);
    if (n && ((const char *)p)[n - 1] == 0)
        n--;
    if (n == 0 || n >= size || memchr(p, 0, n))
        return FAIL(t, LOCUS_EINVAL,
                    "h5: argument %zu (%s) must be a "
                    "non-empty string shorter than %zu bytes",
                    i, what, size);
    memcpy(buf, p, n);
    buf[n] = 0;
    return 0;
}

/* Optional argument i as int64 values: *n = 0 when absent or empty. */
static int arg_i64s(locus_task *t, size_t i, const char *what, int64_t *out,
                    size_t max, size_t *n)
{
    const void *p;
    size_t len;
    *n = 0;
    if (i >= locus_task_nargs(t))
        return 0;
    locus_task_arg(t, i, &p, &len);
    if (len % 8 || len / 8 > max)
        return FAIL(t, LOCUS_EINVAL,
                    "h5: argument %zu (%s): %zu bytes, "
                    "expected at most %zu int64 values",
                    i, what, len, max);
    memcpy(out, p, len);
    *n = len / 8;
    return 0;
}

static int arg_flags(locus_task *t, size_t i, unsigned *flags)
{
    int64_t v = 0;
    *flags = 0;
    if (i >= locus_task_nargs(t))
        return 0;
    if (locus_task_arg_i64(t, i, &v) != 0 || v < 0 ||
        (v &
         ~(int64_t)(LOCUS_H5_NO_LOCKING | LOCUS_H5_TRUNCATE | LOCUS_H5_GZIP)))
        return FAIL(t, LOCUS_EINVAL,
                    "h5: argument %zu (flags) must be an "
                    "int64 of LOCUS_H5_* bits",
                    i);
    *flags = (unsigned)v;
    return 0;
}

/* ---- types --------------------------------------------------------------- */

static const char *class_name(H5T_class_t c)
{
    switch (c) {
    case H5T_TIME:
        return "time";
    case H5T_STRING:
        return "string";
    case H5T_BITFIELD:
        return "bitfield";
    case H5T_OPAQUE:
        return "opaque";
    case H5T_COMPOUND:
        return "compound";
    case H5T_REFERENCE:
        return "reference";
    case H5T_ENUM:
        return "enum";
    case H5T_VLEN:
        return "variable-length";
    case H5T_ARRAY:
        return "array";
    default:
        return "unknown";
    }
}

/* dtype of a dataset's file type, or 0 with why filled */
static int dtype_of(hid_t ftype, char *why, size_t len)
{
    H5T_class_t cls = H5Tget_class(ftype);
    size_t sz = H5Tget_size(ftype);
    if (cls == H5T_INTEGER) {
        int sgn = H5Tget_sign(ftype) == H5T_SGN_2;
        switch (sz) {
        case 1:
            return sgn ? LOCUS_INT8 : LOCUS_UINT8;
        case 2:
            return sgn ? LOCUS_INT16 : LOCUS_UINT16;
        case 4:
            return sgn ? LOCUS_INT32 : LOCUS_UINT32;
        case 8:
            return sgn ? LOCUS_INT64 : LOCUS_UINT64;
        }
        snprintf(why, len, "%zu-byte integers", sz);
        return 0;
    }
    if (cls == H5T_FLOAT) {
        if (sz == 4)
            return LOCUS_FLOAT32;
        if (sz == 8)
            return LOCUS_FLOAT64;
        snprintf(why, len, "%zu-byte floats", sz);
        return 0;
    }
    snprintf(why, len, "%s type", class_name(cls));
    return 0;
}

static hid_t native_of(int dtype)
{
    switch (dtype) {
    case LOCUS_INT8:
        return H5T_NATIVE_INT8;
    case LOCUS_UINT8:
        return H5T_NATIVE_UINT8;
    case LOCUS_INT16:
        return H5T_NATIVE_INT16;
    case LOCUS_UINT16:
        return H5T_NATIVE_UINT16;
    case LOCUS_INT32:
        return H5T_NATIVE_INT32;
    case LOCUS_UINT32:
        return H5T_NATIVE_UINT32;
    case LOCUS_INT64:
        return H5T_NATIVE_INT64;
    case LOCUS_UINT64:
        return H5T_NATIVE_UINT64;
    case LOCUS_FLOAT32:
        return H5T_NATIVE_FLOAT;
    case LOCUS_FLOAT64:
        return H5T_NATIVE_DOUBLE;
    default:
        return H5I_INVALID_HID;
    }
}

/* ---- opening ------------------------------------------------------------- */

static int make_fapl(locus_task *t, h5ctx *x, unsigned flags)
{
    char e[512];
    x->fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (x->fapl < 0)
        return FAIL(t, LOCUS_EHDF5, "h5: H5Pcreate: %s", h5_err(e, sizeof(e)));
    if (flags & LOCUS_H5_NO_LOCKING) {
#if H5_VERSION_GE(1, 10, 7)
        if (H5Pset_file_locking(x->fapl, 0, 1) < 0)
            return FAIL(t, LOCUS_EHDF5, "h5: H5Pset_file_locking: %s",
                        h5_err(e, sizeof(e)));
#else
        return FAIL(t, LOCUS_ENOTSUP,
                    "h5: this HDF5 cannot turn file "
                    "locking off per file: set HDF5_USE_FILE_LOCKING=FALSE "
                    "in the workers' environment instead");
#endif
    }
    return 0;
}

static int open_file(locus_task *t, h5ctx *x, unsigned flags, int rw)
{
    char e[512];
    if (access(x->fname, F_OK) != 0)
        return FAIL(t, errno == ENOENT ? LOCUS_ENOENT : LOCUS_EIO,
                    "h5: file '%s': %s (on worker host %s)", x->fname,
                    strerror(errno), lc_hostname());
    int rc = make_fapl(t, x, flags);
    if (rc)
        return rc;
    x->file = H5Fopen(x->fname, rw ? H5F_ACC_RDWR : H5F_ACC_RDONLY, x->fapl);
    if (x->file < 0)
        return FAIL(t, LOCUS_EHDF5, "h5: cannot open '%s'%s: %s", x->fname,
                    rw ? " for writing" : "", h5_err(e, sizeof(e)));
    return 0;
}

/* Open (creating it if missing, or anew with LOCUS_H5_TRUNCATE) for
 * writing. */
static int open_or_create(locus_task *t, h5ctx *x, unsigned flags)
{
    char e[512];
    if (!(flags & LOCUS_H5_TRUNCATE) && access(x->fname, F_OK) == 0)
        return open_file(t, x, flags, 1);
    char dir[PATH_MAXLEN];
    snprintf(dir, sizeof(dir), "%s", x->fname);
    char *slash = strrchr(dir, '/');
    if (slash == dir)
        dir[1] = 0;
    else if (slash)
        *slash = 0;
    else
        snprintf(dir, sizeof(dir), ".");
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return FAIL(t, LOCUS_ENOENT,
                    "h5: cannot create '%s': directory '%s' "
                    "does not exist on worker host %s",
                    x->fname, dir, lc_hostname());
    int rc = make_fapl(t, x, flags);
    if (rc)
        return rc;
    x->file = H5Fcreate(
        x->fname, (flags & LOCUS_H5_TRUNCATE) ? H5F_ACC_TRUNC : H5F_ACC_EXCL,
        H5P_DEFAULT, x->fapl);
    if (x->file < 0)
        return FAIL(t, LOCUS_EHDF5, "h5: cannot create '%s': %s", x->fname,
                    h5_err(e, sizeof(e)));
    return 0;
}

/* 1 if the dataset path exists, 0 if not (missing names the first missing
 * component), -1 on an HDF5 error (task failed). */
static int dset_exists(locus_task *t, h5ctx *x, char *missing, size_t len)
{
    char path[PATH_MAXLEN], e[512];
    snprintf(path, sizeof(path), "%s", x->dname);
    size_t n = strlen(path);
    for (size_t i = 1; i <= n; i++) {
        if (path[i] != '/' && path[i] != 0)
            continue;
        char keep = path[i];
        path[i] = 0;
        htri_t ex = H5Lexists(x->file, path, H5P_DEFAULT);
        if (ex < 0) {
            FAIL(t, LOCUS_EHDF5, "h5: looking up '%s' in '%s': %s", path,
                 x->fname, h5_err(e, sizeof(e)));
            return -1;
        }
        if (ex == 0) {
            snprintf(missing, len, "%s", path);
            return 0;
        }
        path[i] = keep;
    }
    return 1;
}

static int open_dataset(locus_task *t, h5ctx *x)
{
    char e[512], missing[PATH_MAXLEN];
    if (!strcmp(x->dname, "/"))
        return FAIL(t, LOCUS_ENOENT,
                    "h5: '/' in '%s' is the root group, "
                    "not a dataset",
                    x->fname);
    int ex = dset_exists(t, x, missing, sizeof(missing));
    if (ex < 0)
        return LOCUS_EHDF5;
    if (ex == 0)
        return FAIL(t, LOCUS_ENOENT, "h5: no dataset '%s' in '%s'%s%s%s",
                    x->dname, x->fname, strcmp(missing, x->dname) ? " ('" : "",
                    strcmp(missing, x->dname) ? missing : "",
                    strcmp(missing, x->dname) ? "' does not exist)" : "");
    x->dset = H5Dopen2(x->file, x->dname, H5P_DEFAULT);
    if (x->dset < 0)
        return FAIL(t, LOCUS_ENOENT, "h5: '%s' in '%s' is not a dataset: %s",
                    x->dname, x->fname, h5_err(e, sizeof(e)));
    return 0;
}

/* Dataset's dtype, rank and dims (and its dataspace in x->fspace). */
static int dset_shape(locus_task *t, h5ctx *x, int *dtype, int *nd,
                      hsize_t *dims)
{
    char e[512], why[128];
    x->ftype = H5Dget_type(x->dset);
    x->fspace = H5Dget_space(x->dset);
    if (x->ftype < 0 || x->fspace < 0)
        return FAIL(t, LOCUS_EHDF5, "h5: '%s' in '%s': %s", x->dname, x->fname,
                    h5_err(e, sizeof(e)));
    *dtype = dtype_of(x->ftype, why, sizeof(why));
    if (!*dtype)
        return FAIL(t, LOCUS_ENOTSUP,
                    "h5: '%s' in '%s' has an unsupported "
                    "type (%s); locus reads integer and floating-point "
                    "datasets",
                    x->dname, x->fname, why);
    H5S_class_t sc = H5Sget_simple_extent_type(x->fspace);
    if (sc == H5S_NULL)
        return FAIL(t, LOCUS_ENOTSUP,
                    "h5: '%s' in '%s' has a null "
                    "dataspace (no data)",
                    x->dname, x->fname);
    int r = H5Sget_simple_extent_ndims(x->fspace);
    if (r < 0)
        return FAIL(t, LOCUS_EHDF5, "h5: '%s' in '%s': %s", x->dname, x->fname,
                    h5_err(e, sizeof(e)));
    if (r > LOCUS_NDIM_MAX)
        return FAIL(t, LOCUS_ENOTSUP,
                    "h5: '%s' in '%s' has rank %d; locus "
                    "arrays have at most %d dimensions",
                    x->dname, x->fname, r, LOCUS_NDIM_MAX);
    if (r > 0 && H5Sget_simple_extent_dims(x->fspace, dims, NULL) < 0)
        return FAIL(t, LOCUS_EHDF5, "h5: '%s' in '%s': %s", x->dname, x->fname,
                    h5_err(e, sizeof(e)));
    for (int i = 0; i < r; i++)
        if (dims[i] > (hsize_t)INT64_MAX)
            return FAIL(t, LOCUS_ENOTSUP, "h5: '%s': extent too large",
                        x->dname);
    *nd = r;
    return 0;
}

/* ---- locus.h5.load ------------------------------------------------------- */

static int b_load(locus_task *t)
{
    char fname[PATH_MAXLEN], dname[PATH_MAXLEN], e[512];
    int64_t sel[3 * LOCUS_NDIM_MAX];
    size_t nsel;
    unsigned flags;
    int rc = arg_str(t, 0, "file", fname, sizeof(fname));
    if (!rc)
        rc = arg_str(t, 1, "dataset", dname, sizeof(dname));
    if (!rc)
        rc = arg_i64s(t, 2, "selection", sel, 3 * LOCUS_NDIM_MAX, &nsel);
    if (!rc)
        rc = arg_flags(t, 3, &flags);
    if (rc)
        return rc;
    h5ctx x;
    ctx_init(&x, fname, dname);
    h5_enter();
    int dtype = 0, nd = 0;
    hsize_t dims[LOCUS_NDIM_MAX], start[LOCUS_NDIM_MAX], count[LOCUS_NDIM_MAX],
        stride[LOCUS_NDIM_MAX];
    int64_t shape[LOCUS_NDIM_MAX];
    LC_CHECK_RC(open_file(t, &x, flags, 0), out, rc);
    LC_CHECK_RC(open_dataset(t, &x), out, rc);
    LC_CHECK_RC(dset_shape(t, &x, &dtype, &nd, dims), out, rc);
    if (nsel) {
        if (nsel != 3 * (size_t)nd) {
            rc = FAIL(t, LOCUS_EINVAL,
                      "h5: selection of %zu dimensions for "
                      "'%s' in '%s', which has rank %d",
                      nsel / 3, dname, fname, nd);
            goto out;
        }
        for (int i = 0; i < nd; i++) {
            int64_t s = sel[i], c = sel[nd + i], st = sel[2 * nd + i];
            if (st == 0)
                st = 1;
            if (s < 0 || c < 0 || st < 0) {
                rc = FAIL(t, LOCUS_EINVAL,
                          "h5: selection on axis %d: start "
                          "%lld, count %lld, stride %lld (negative)",
                          i, (long long)s, (long long)c, (long long)st);
                goto out;
            }
            if (c > 0 && ((uint64_t)s >= dims[i] ||
                          (uint64_t)(c - 1) >
                              (dims[i] - 1 - (uint64_t)s) / (uint64_t)st)) {
                rc = FAIL(t, LOCUS_ERANGE,
                          "h5: selection out of bounds for "
                          "'%s' in '%s': axis %d has %llu elements, the "
                          "selection reads %lld from %lld every %lld",
                          dname, fname, i, (unsigned long long)dims[i],
                          (long long)c, (long long)s, (long long)st);
                goto out;
            }
            start[i] = (hsize_t)s;
            count[i] = (hsize_t)c;
            stride[i] = (hsize_t)st;
        }
    } else {
        for (int i = 0; i < nd; i++) {
            start[i] = 0;
            count[i] = dims[i];
            stride[i] = 1;
        }
    }
    for (int i = 0; i < nd; i++)
        shape[i] = (int64_t)count[i];
    locus_ndview v;
    LC_CHECK_RC(locus_task_result_ndbuf(t, dtype, nd, shape, &v), out, rc);
    if (v.nelems == 0)
        goto out;
    if (nd > 0 && nsel &&
        H5Sselect_hyperslab(x.fspace, H5S_SELECT_SET, start, stride, count,
                            NULL) < 0) {
        rc = FAIL(t, LOCUS_EHDF5, "h5: selecting in '%s' of '%s': %s", dname,
                  fname, h5_err(e, sizeof(e)));
        goto out;
    }
    x.mspace = nd ? H5Screate_simple(nd, count, NULL) : H5Screate(H5S_SCALAR);
    if (x.mspace < 0 || H5Dread(x.dset, native_of(dtype), x.mspace, x.fspace,
                                H5P_DEFAULT, v.data) < 0)
        rc = FAIL(t, LOCUS_EHDF5, "h5: reading '%s' from '%s': %s", dname,
                  fname, h5_err(e, sizeof(e)));
out:
    ctx_close(&x);
    h5_leave();
    return rc;
}

/* ---- locus.h5.info, locus.h5.shape --------------------------------------- */

static int info(locus_task *t, int full)
{
    char fname[PATH_MAXLEN], dname[PATH_MAXLEN], e[512];
    unsigned flags;
    int rc = arg_str(t, 0, "file", fname, sizeof(fname));
    if (!rc)
        rc = arg_str(t, 1, "dataset", dname, sizeof(dname));
    if (!rc)
        rc = arg_flags(t, 2, &flags);
    if (rc)
        return rc;
    h5ctx x;
    ctx_init(&x, fname, dname);
    h5_enter();
    int dtype = 0, nd = 0;
    hsize_t dims[LOCUS_NDIM_MAX], cdims[LOCUS_NDIM_MAX];
    int64_t out[2 + 2 * LOCUS_NDIM_MAX];
    size_t n = 0;
    LC_CHECK_RC(open_file(t, &x, flags, 0), done, rc);
    LC_CHECK_RC(open_dataset(t, &x), done, rc);
    LC_CHECK_RC(dset_shape(t, &x, &dtype, &nd, dims), done, rc);
    memset(cdims, 0, sizeof(cdims));
    x.dcpl = H5Dget_create_plist(x.dset);
    if (x.dcpl < 0) {
        rc = FAIL(t, LOCUS_EHDF5, "h5: '%s' in '%s': %s", dname, fname,
                  h5_err(e, sizeof(e)));
        goto done;
    }
    if (nd > 0 && H5Pget_layout(x.dcpl) == H5D_CHUNKED &&
        H5Pget_chunk(x.dcpl, nd, cdims) < 0)
        memset(cdims, 0, sizeof(cdims));
    if (full) {
        out[n++] = dtype;
        out[n++] = nd;
    }
    for (int i = 0; i < nd; i++)
        out[n++] = (int64_t)dims[i];
    for (int i = 0; full && i < nd; i++)
        out[n++] = (int64_t)cdims[i];
    rc = locus_task_return(t, out, n * 8);
done:
    ctx_close(&x);
    h5_leave();
    return rc;
}

static int b_info(locus_task *t)
{
    return info(t, 1);
}

static int b_shape(locus_task *t)
{
    return info(t, 0);
}

/* ---- creating and storing ------------------------------------------------ */

/* Create dataset x->dname of dtype and shape in x->file.  chunks (may be
 * NULL) gives the chunk shape; gzip asks for deflate (chunked). */
static int create_dataset(locus_task *t, h5ctx *x, int dtype, int nd,
                          const int64_t *shape, const int64_t *chunks, int gzip)
{
    char e[512], missing[PATH_MAXLEN];
    int ex = dset_exists(t, x, missing, sizeof(missing));
    if (ex < 0)
        return LOCUS_EHDF5;
    if (ex > 0)
        return FAIL(t, LOCUS_EINVAL,
                    "h5: '%s' already exists in '%s' (store "
                    "with LOCUS_H5_TRUNCATE to replace the file)",
                    x->dname, x->fname);
    hsize_t dims[LOCUS_NDIM_MAX], cd[LOCUS_NDIM_MAX];
    int chunked = nd > 0 && (gzip || chunks);
    for (int i = 0; i < nd; i++) {
        dims[i] = (hsize_t)shape[i];
        int64_t c = chunks && chunks[i] > 0 ? chunks[i] : shape[i];
        if (c > shape[i])
            c = shape[i];
        if (c <= 0)
            chunked = 0; /* an empty axis cannot be chunked */
        cd[i] = (hsize_t)(c > 0 ? c : 1);
    }
    if (chunked) {
        /* HDF5 chunks hold less than 4 GiB; keep them at most 64 MiB */
        size_t isz = locus_dtype_size(dtype);
        for (;;) {
            uint64_t b = isz;
            int big = 0;
            for (int i = 0; i < nd; i++) {
                b *= cd[i];
                if (cd[i] > cd[big])
                    big = i;
            }
            if (b <= (64u << 20) || cd[big] == 1)
                break;
            cd[big] = (cd[big] + 1) / 2;
        }
    }
    x->fspace = nd ? H5Screate_simple(nd, dims, NULL) : H5Screate(H5S_SCALAR);
    x->dcpl = H5Pcreate(H5P_DATASET_CREATE);
    x->lcpl = H5Pcreate(H5P_LINK_CREATE);
    if (x->fspace < 0 || x->dcpl < 0 || x->lcpl < 0 ||
        H5Pset_create_intermediate_group(x->lcpl, 1) < 0)
        return FAIL(t, LOCUS_EHDF5, "h5: preparing '%s': %s", x->dname,
                    h5_err(e, sizeof(e)));
    if (chunked) {
        if (H5Pset_chunk(x->dcpl, nd, cd) < 0)
            return FAIL(t, LOCUS_EHDF5, "h5: chunking '%s': %s", x->dname,
                        h5_err(e, sizeof(e)));
        if (gzip) {
            if (H5Zfilter_avail(H5Z_FILTER_DEFLATE) <= 0)
                return FAIL(t, LOCUS_ENOTSUP,
                            "h5: this HDF5 has no gzip "
                            "(deflate) filter");
            if (H5Pset_deflate(x->dcpl, 6) < 0)
                return FAIL(t, LOCUS_EHDF5, "h5: gzip for '%s': %s", x->dname,
                            h5_err(e, sizeof(e)));
        }
    }
    x->dset = H5Dcreate2(x->file, x->dname, native_of(dtype), x->fspace,
                         x->lcpl, x->dcpl, H5P_DEFAULT);
    if (x->dset < 0)
        return FAIL(t, LOCUS_EHDF5,
                    "h5: cannot create dataset '%s' in '%s': "
                    "%s",
                    x->dname, x->fname, h5_err(e, sizeof(e)));
    return 0;
}

/* locus.h5.create(file, dataset, dtype, shape, chunks, flags) */
static int b_create(locus_task *t)
{
    char fname[PATH_MAXLEN], dname[PATH_MAXLEN];
    int64_t dtype, shape[LOCUS_NDIM_MAX], chunks[LOCUS_NDIM_MAX];
    size_t nd, nc;
    unsigned flags;
    int rc = arg_str(t, 0, "file", fname, sizeof(fname));
    if (!rc)
        rc = arg_str(t, 1, "dataset", dname, sizeof(dname));
    if (!rc && locus_task_arg_i64(t, 2, &dtype) != 0)
        rc = FAIL(t, LOCUS_EINVAL, "h5: argument 2 (dtype) must be an int64");
    if (!rc)
        rc = arg_i64s(t, 3, "shape", shape, LOCUS_NDIM_MAX, &nd);
    if (!rc)
        rc = arg_i64s(t, 4, "chunks", chunks, LOCUS_NDIM_MAX, &nc);
    if (!rc)
        rc = arg_flags(t, 5, &flags);
    if (rc)
        return rc;
    if (!ndbuf_dtype_ok((int)dtype) || (nc && nc != nd))
        return FAIL(t, LOCUS_EINVAL,
                    "h5: create: dtype %lld, %zu chunk "
                    "sizes for rank %zu",
                    (long long)dtype, nc, nd);
    for (size_t i = 0; i < nd; i++)
        if (shape[i] < 0)
            return FAIL(t, LOCUS_EINVAL, "h5: create: negative extent");
    h5ctx x;
    ctx_init(&x, fname, dname);
    h5_enter();
    LC_CHECK_RC(open_or_create(t, &x, flags), out, rc);
    rc = create_dataset(t, &x, (int)dtype, (int)nd, shape, nc ? chunks : NULL,
                        (flags & LOCUS_H5_GZIP) != 0);
out:
    ctx_close(&x);
    h5_leave();
    return rc;
}

/* locus.h5.store(x, file, dataset, [offset], [flags], ...) */
static int b_store(locus_task *t)
{
    char fname[PATH_MAXLEN], dname[PATH_MAXLEN], e[512], missing[PATH_MAXLEN];
    int64_t off[LOCUS_NDIM_MAX];
    size_t noff;
    unsigned flags;
    locus_ndview v;
    int rc = locus_task_arg_ndbuf(t, 0, &v);
    if (!rc)
        rc = arg_str(t, 1, "file", fname, sizeof(fname));
    if (!rc)
        rc = arg_str(t, 2, "dataset", dname, sizeof(dname));
    if (!rc)
        rc = arg_i64s(t, 3, "offset", off, LOCUS_NDIM_MAX, &noff);
    if (!rc)
        rc = arg_flags(t, 4, &flags);
    if (rc)
        return rc;
    if (noff && noff != (size_t)v.ndim)
        return FAIL(t, LOCUS_EINVAL,
                    "h5: store: offset of %zu values for "
                    "%d-d data",
                    noff, v.ndim);
    h5ctx x;
    ctx_init(&x, fname, dname);
    h5_enter();
    int dtype = 0, nd = 0;
    hsize_t dims[LOCUS_NDIM_MAX], start[LOCUS_NDIM_MAX], count[LOCUS_NDIM_MAX];
    if (noff) {
        LC_CHECK_RC(open_file(t, &x, flags, 1), out, rc);
        LC_CHECK_RC(open_dataset(t, &x), out, rc);
    } else {
        LC_CHECK_RC(open_or_create(t, &x, flags), out, rc);
        int ex = dset_exists(t, &x, missing, sizeof(missing));
        if (ex < 0) {
            rc = LOCUS_EHDF5;
            goto out;
        }
        if (ex == 0) {
            LC_CHECK_RC(create_dataset(t, &x, v.dtype, v.ndim, v.shape, NULL,
                                       (flags & LOCUS_H5_GZIP) != 0),
                        out, rc);
            H5Sclose(x.fspace);
            x.fspace = H5I_INVALID_HID;
        } else {
            LC_CHECK_RC(open_dataset(t, &x), out, rc);
        }
    }
    /* any numeric dataset type: HDF5 converts from the native one */
    LC_CHECK_RC(dset_shape(t, &x, &dtype, &nd, dims), out, rc);
    if (nd != v.ndim) {
        rc = FAIL(t, LOCUS_EINVAL,
                  "h5: '%s' in '%s' has rank %d, the data "
                  "%d",
                  dname, fname, nd, v.ndim);
        goto out;
    }
    for (int i = 0; i < nd; i++) {
        uint64_t o = noff ? (uint64_t)off[i] : 0;
        uint64_t ext = (uint64_t)v.shape[i];
        if ((noff && off[i] < 0) || o > dims[i] || ext > dims[i] - o ||
            (!noff && ext != dims[i])) {
            char s1[160], s2[160];
            int64_t d64[LOCUS_NDIM_MAX];
            for (int k = 0; k < nd; k++)
                d64[k] = (int64_t)dims[k];
            ndbuf_shape_str(nd, d64, s1, sizeof(s1));
            ndbuf_shape_str(v.ndim, v.shape, s2, sizeof(s2));
            rc = FAIL(t, noff ? LOCUS_ERANGE : LOCUS_EINVAL,
                      "h5: '%s' in '%s' has shape %s; data of shape %s does "
                      "not fit%s",
                      dname, fname, s1, s2, noff ? " at that offset" : "");
            goto out;
        }
        start[i] = o;
        count[i] = (hsize_t)v.shape[i];
    }
    if (v.nelems == 0)
        goto out;
    if (nd > 0 && H5Sselect_hyperslab(x.fspace, H5S_SELECT_SET, start, NULL,
                                      count, NULL) < 0) {
        rc = FAIL(t, LOCUS_EHDF5, "h5: selecting in '%s' of '%s': %s", dname,
                  fname, h5_err(e, sizeof(e)));
        goto out;
    }
    x.mspace = nd ? H5Screate_simple(nd, count, NULL) : H5Screate(H5S_SCALAR);
    if (x.mspace < 0 || H5Dwrite(x.dset, native_of(v.dtype), x.mspace, x.fspace,
                                 H5P_DEFAULT, v.data) < 0)
        rc = FAIL(t, LOCUS_EHDF5, "h5: writing '%s' of '%s': %s", dname, fname,
                  h5_err(e, sizeof(e)));
out:
    ctx_close(&x);
    h5_leave();
    return rc;
}

#define H5_DEF(name) {"locus.h5." #name, b_##name},
static const locus_task_def h5_defs[] = {H5_TASKS(H5_DEF)};
#undef H5_DEF

__attribute__((constructor)) static void h5_tasks_register(void)
{
    if (locus_task_register(h5_defs, sizeof(h5_defs) / sizeof(h5_defs[0])) != 0)
        lc_log(LC_LOG_ERROR, "h5", "built-ins not registered: %s",
               locus_last_error());
}

/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * HDF5 on workers, end to end: files written here with the HDF5 C API,
 * loaded by real locus-worker processes through the locus.h5.* built-ins,
 * checked element by element; stores read back with the HDF5 C API; every
 * error case answered with a clear message while the workers stay up.
 *
 * Every wait has a deadline (T_MS).  The daemons' logs are printed when a
 * test fails.
 */
#include <criterion/criterion.h>

#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "cluster.h"
#include "locus.h"
#include "proc.h"

#define TASKLIB LOCUS_TEST_BINDIR "/libtasklib_array.so"
#define T_MS 20000

static lt_cluster C;
static locus_client *cl;
static int passed;
static char dir[512];
static char lasterr[4096];

static void teardown(void)
{
    if (cl)
        locus_disconnect(cl);
    cl = NULL;
    lt_fini_check(lt_cluster_stop(&C, !passed));
    if (dir[0])
        lt_rmdir(dir);
    dir[0] = 0;
}

TestSuite(h5, .fini = teardown, .timeout = 120);

static void up(int n, int threads)
{
    struct locus_cluster_opts o = LOCUS_CLUSTER_OPTS_INIT;
    o.nworkers = n;
    o.nthreads = threads;
    o.timeout_ms = T_MS;
    int rc = lt_cluster_start(&C, &o);
    cr_assert_eq(rc, 0, "locus_local_cluster_start: %s: %s", locus_errname(rc),
                 locus_last_error());
    struct locus_connect_opts co = LOCUS_CONNECT_OPTS_INIT;
    co.timeout_ms = T_MS;
    OK(locus_connect(C.file, &co, &cl));
    OK(locus_require(cl, TASKLIB, T_MS));
    char *d = lt_tmpdir();
    cr_assert_not_null(d);
    snprintf(dir, sizeof(dir), "%s", d);
    free(d);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

/* ---- test data ----------------------------------------------------------- */

static const int all_dtypes[] = {
    LOCUS_INT8,   LOCUS_UINT8, LOCUS_INT16,  LOCUS_UINT16,  LOCUS_INT32,
    LOCUS_UINT32, LOCUS_INT64, LOCUS_UINT64, LOCUS_FLOAT32, LOCUS_FLOAT64};
#define NDT (sizeof(all_dtypes) / sizeof(all_dtypes[0]))

static hid_t native(int dt)
{
    switch (dt) {
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
    default:
        return H5T_NATIVE_DOUBLE;
    }
}

/* the file type of dt in byte order big (1) or little (0) */
static hid_t filetype(int dt, int big)
{
    switch (dt) {
    case LOCUS_INT8:
        return big ? H5T_STD_I8BE : H5T_STD_I8LE;
    case LOCUS_UINT8:
        return big ? H5T_STD_U8BE : H5T_STD_U8LE;
    case LOCUS_INT16:
        return big ? H5T_STD_I16BE : H5T_STD_I16LE;
    case LOCUS_UINT16:
        return big ? H5T_STD_U16BE : H5T_STD_U16LE;
    case LOCUS_INT32:
        return big ? H5T_STD_I32BE : H5T_STD_I32LE;
    case LOCUS_UINT32:
        return big ? H5T_STD_U32BE : H5T_STD_U32LE;
    case LOCUS_INT64:
        return big ? H5T_STD_I64BE : H5T_STD_I64LE;
    case LOCUS_UINT64:
        return big ? H5T_STD_U64BE : H5T_STD_U64LE;
    case LOCUS_FLOAT32:
        return big ? H5T_IEEE_F32BE : H5T_IEEE_F32LE;
    default:
        return big ? H5T_IEEE_F64BE : H5T_IEEE_F64LE;
    }
}

/* n native elements of dt covering its range (extremes at 0 and 1) */
static void *values(int dt, size_t n, uint64_t salt)
{
    size_t isz = locus_dtype_size(dt);
    unsigned char *b = malloc(n * isz + 1);
    cr_assert_not_null(b);
    for (size_t i = 0; i < n; i++) {
        uint64_t x = (i + salt) * 0x9e3779b97f4a7c15ull ^ (i << 7);
        if (i == 0)
            x = 0x8000000000000000ull; /* most negative after truncation */
        if (i == 1)
            x = 0x7fffffffffffffffull;
        void *p = b + i * isz;
        switch (dt) {
#define PUT(code, T, expr)                                                     \
    case code: {                                                               \
        T v = (T)(expr);                                                       \
        memcpy(p, &v, sizeof(v));                                              \
        break;                                                                 \
    }
            PUT(LOCUS_INT8, int8_t, (uint8_t)(x >> (i < 2 ? 56 : 0)))
            PUT(LOCUS_UINT8, uint8_t, x >> (i < 2 ? 56 : 0))
            PUT(LOCUS_INT16, int16_t, (uint16_t)(x >> (i < 2 ? 48 : 0)))
            PUT(LOCUS_UINT16, uint16_t, x >> (i < 2 ? 48 : 0))
            PUT(LOCUS_INT32, int32_t, (uint32_t)(x >> (i < 2 ? 32 : 0)))
            PUT(LOCUS_UINT32, uint32_t, x >> (i < 2 ? 32 : 0))
            PUT(LOCUS_INT64, int64_t, x)
            PUT(LOCUS_UINT64, uint64_t, x)
            PUT(LOCUS_FLOAT32, float, (double)(int32_t)(x >> 40) / 64.0)
            PUT(LOCUS_FLOAT64, double, (double)(int64_t)x / 1e6)
#undef PUT
        }
    }
    return b;
}

/* Write a dataset (intermediate groups made), chunked if chunk != NULL,
 * deflated at level gzip if > 0. */
static void write_ds(hid_t f, const char *name, hid_t ftype, hid_t mtype,
                     int nd, const hsize_t *dims, const hsize_t *chunk,
                     int gzip, const void *data)
{
    hid_t sp = nd ? H5Screate_simple(nd, dims, NULL) : H5Screate(H5S_SCALAR);
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    if (chunk) {
        cr_assert_geq(H5Pset_chunk(dcpl, nd, chunk), 0);
        if (gzip > 0) {
            H5Pset_shuffle(dcpl);
            cr_assert_geq(H5Pset_deflate(dcpl, (unsigned)gzip), 0);
        }
    }
    hid_t d = H5Dcreate2(f, name, ftype, sp, lcpl, dcpl, H5P_DEFAULT);
    cr_assert_geq(d, 0, "H5Dcreate2 %s", name);
    cr_assert_geq(H5Dwrite(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, data), 0,
                  "H5Dwrite %s", name);
    H5Dclose(d);
    H5Pclose(dcpl);
    H5Pclose(lcpl);
    H5Sclose(sp);
}

static hid_t create_file(const char *path)
{
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    cr_assert_geq(f, 0, "H5Fcreate %s", path);
    return f;
}

static void check_ndbuf(const void *p, size_t len, int dt, int nd,
                        const int64_t *shape, const void *want,
                        const char *what)
{
    locus_ndview v;
    int rc = locus_ndbuf_view(p, len, &v);
    cr_assert_eq(rc, 0, "%s: not an ndbuf: %s", what, locus_last_error());
    cr_assert_eq(v.dtype, dt, "%s: dtype %s, expected %s", what,
                 locus_dtype_name(v.dtype), locus_dtype_name(dt));
    cr_assert_eq(v.ndim, nd, "%s: ndim %d, expected %d", what, v.ndim, nd);
    for (int i = 0; i < nd; i++)
        cr_assert_eq(v.shape[i], shape[i],
                     "%s: axis %d is %lld, expected "
                     "%lld",
                     what, i, (long long)v.shape[i], (long long)shape[i]);
    size_t isz = locus_dtype_size(dt);
    for (size_t i = 0; i < v.nelems; i++)
        if (memcmp((char *)v.data + i * isz, (const char *)want + i * isz, isz))
            cr_assert_fail("%s: element %zu differs (got %g, expected "
                           "something else)",
                           what, i, locus_ndview_get_f64(&v, i));
}

static locus_future *load(const char *file, const char *ds,
                          const locus_h5_sel *sel, unsigned flags)
{
    locus_future *f = NULL;
    OK(locus_h5_load(cl, file, ds, sel, flags, NULL, &f));
    return f;
}

static void expect_load_error(const char *file, const char *ds,
                              const locus_h5_sel *sel, int code,
                              const char *needle1, const char *needle2)
{
    locus_future *f = load(file, ds, sel, 0);
    int rc = locus_result(f, T_MS, NULL, NULL);
    snprintf(lasterr, sizeof(lasterr), "%s", locus_last_error());
    cr_expect_eq(rc, code, "load %s:%s: %s (%s), expected %s", file, ds,
                 locus_errname(rc), lasterr, locus_errname(code));
    cr_expect(strstr(lasterr, needle1), "message '%s' lacks '%s'", lasterr,
              needle1);
    if (needle2)
        cr_expect(strstr(lasterr, needle2), "message '%s' lacks '%s'", lasterr,
                  needle2);
    locus_release(f);
}

/* ---- round trips --------------------------------------------------------- */

Test(h5, every_dtype_and_byte_order_round_trips)
{
    up(2, 2);
    char path[600];
    snprintf(path, sizeof(path), "%s/types.h5", dir);
    hsize_t dims[2] = {13, 7}, ch[2] = {4, 3}, d3[3] = {4, 5, 6};
    int64_t shape[2] = {13, 7}, shape3[3] = {4, 5, 6};
    size_t n = 13 * 7;
    void *want[NDT];
    hid_t f = create_file(path);
    for (size_t k = 0; k < NDT; k++) {
        int dt = all_dtypes[k];
        char name[128];
        want[k] = values(dt, n, k);
        snprintf(name, sizeof(name), "/le/%s", locus_dtype_name(dt));
        write_ds(f, name, filetype(dt, 0), native(dt), 2, dims, NULL, 0,
                 want[k]);
        snprintf(name, sizeof(name), "/be/%s", locus_dtype_name(dt));
        write_ds(f, name, filetype(dt, 1), native(dt), 2, dims, NULL, 0,
                 want[k]);
        snprintf(name, sizeof(name), "/chunked/%s", locus_dtype_name(dt));
        write_ds(f, name, filetype(dt, k % 2), native(dt), 2, dims, ch, 0,
                 want[k]);
        snprintf(name, sizeof(name), "/gzip/%s", locus_dtype_name(dt));
        write_ds(f, name, filetype(dt, k % 2), native(dt), 2, dims, ch, 6,
                 want[k]);
    }
    void *w3 = values(LOCUS_UINT16, 120, 99);
    write_ds(f, "/three/d", H5T_STD_U16BE, H5T_NATIVE_UINT16, 3, d3, NULL, 0,
             w3);
    double scalar = -2.5;
    write_ds(f, "/scalar", H5T_IEEE_F64BE, H5T_NATIVE_DOUBLE, 0, NULL, NULL, 0,
             &scalar);
    H5Fclose(f);

    const char *groups[4] = {"le", "be", "chunked", "gzip"};
    locus_future *fs[4 * NDT];
    for (size_t g = 0; g < 4; g++)
        for (size_t k = 0; k < NDT; k++) {
            char name[128];
            snprintf(name, sizeof(name), "/%s/%s", groups[g],
                     locus_dtype_name(all_dtypes[k]));
            fs[g * NDT + k] = load(path, name, NULL, 0);
        }
    locus_value vals[4 * NDT];
    OK(locus_gather(fs, 4 * NDT, T_MS, vals));
    for (size_t g = 0; g < 4; g++)
        for (size_t k = 0; k < NDT; k++) {
            char what[128];
            snprintf(what, sizeof(what), "/%s/%s", groups[g],
                     locus_dtype_name(all_dtypes[k]));
            check_ndbuf(vals[g * NDT + k].data, vals[g * NDT + k].len,
                        all_dtypes[k], 2, shape, want[k], what);
        }
    for (size_t i = 0; i < 4 * NDT; i++)
        locus_release(fs[i]);

    /* without file locking (not mixed with locked opens of the same file
       at the same time in one worker: HDF5 refuses that) */
    locus_future *fnl = load(path, "/gzip/float32", NULL, LOCUS_H5_NO_LOCKING);
    const void *p;
    size_t len;
    OK(locus_result(fnl, T_MS, &p, &len));
    check_ndbuf(p, len, LOCUS_FLOAT32, 2, shape, want[8], "no locking");
    locus_release(fnl);

    locus_future *f3 = load(path, "/three/d", NULL, 0);
    locus_future *fsc = load(path, "scalar", NULL, 0); /* relative name */
    OK(locus_result(f3, T_MS, &p, &len));
    check_ndbuf(p, len, LOCUS_UINT16, 3, shape3, w3, "/three/d");
    OK(locus_result(fsc, T_MS, &p, &len));
    check_ndbuf(p, len, LOCUS_FLOAT64, 0, NULL, &scalar, "/scalar");
    cr_assert_eq(len, (size_t)LOCUS_NDBUF_HEADER + 8);
    locus_release(f3);
    locus_release(fsc);

    locus_h5_info info;
    OK(locus_h5_info_get(cl, path, "/gzip/int32", 0, T_MS, &info));
    cr_assert_eq(info.dtype, LOCUS_INT32);
    cr_assert_eq(info.ndim, 2);
    cr_assert_eq(info.shape[0], 13);
    cr_assert_eq(info.shape[1], 7);
    cr_assert_eq(info.chunk[0], 4);
    cr_assert_eq(info.chunk[1], 3);
    OK(locus_h5_info_get(cl, path, "/le/int32", 0, T_MS, &info));
    cr_assert_eq(info.chunk[0], 0, "a contiguous dataset has no chunks");

    /* locus.h5.shape by name, as a user would submit it */
    locus_arg a[2] = {locus_arg_str(path), locus_arg_str("/three/d")};
    locus_future *fshape;
    OK(locus_submit(cl, "locus.h5.shape", a, 2, NULL, &fshape));
    OK(locus_result(fshape, T_MS, &p, &len));
    cr_assert_eq(len, 24);
    int64_t got[3];
    memcpy(got, p, 24);
    cr_assert(got[0] == 4 && got[1] == 5 && got[2] == 6);
    locus_release(fshape);
    for (size_t k = 0; k < NDT; k++)
        free(want[k]);
    free(w3);
    PASS();
}

Test(h5, hyperslabs_with_strides)
{
    up(2, 1);
    char path[600];
    snprintf(path, sizeof(path), "%s/slab.h5", dir);
    enum { R = 40, K = 30 };
    hsize_t dims[2] = {R, K}, ch[2] = {7, 8};
    static int32_t a[R][K];
    for (int i = 0; i < R; i++)
        for (int j = 0; j < K; j++)
            a[i][j] = i * 1000 + j;
    hid_t f = create_file(path);
    write_ds(f, "/plain", H5T_STD_I32BE, H5T_NATIVE_INT32, 2, dims, NULL, 0, a);
    write_ds(f, "/gz", H5T_STD_I32LE, H5T_NATIVE_INT32, 2, dims, ch, 9, a);
    H5Fclose(f);

    struct {
        int64_t start[2], count[2], stride[2];
    } cases[] = {
        {{0, 0}, {R, K}, {1, 1}},   {{2, 1}, {4, 3}, {3, 2}},
        {{39, 29}, {1, 1}, {0, 0}}, {{5, 0}, {12, 10}, {3, 3}},
        {{0, 7}, {0, 5}, {1, 1}},
    };
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++)
        for (int g = 0; g < 2; g++) {
            locus_h5_sel sel = {2, {0}, {0}, {0}};
            for (int d = 0; d < 2; d++) {
                sel.start[d] = cases[c].start[d];
                sel.count[d] = cases[c].count[d];
                sel.stride[d] = cases[c].stride[d];
            }
            locus_future *fu = load(path, g ? "/gz" : "/plain", &sel, 0);
            const void *p;
            size_t len;
            OK(locus_result(fu, T_MS, &p, &len));
            int64_t n0 = sel.count[0], n1 = sel.count[1];
            int32_t *want = malloc((size_t)(n0 * n1 + 1) * 4);
            for (int64_t i = 0; i < n0; i++)
                for (int64_t j = 0; j < n1; j++) {
                    int64_t s0 = sel.stride[0] ? sel.stride[0] : 1;
                    int64_t s1 = sel.stride[1] ? sel.stride[1] : 1;
                    want[i * n1 + j] =
                        a[sel.start[0] + i * s0][sel.start[1] + j * s1];
                }
            char what[64];
            snprintf(what, sizeof(what), "case %zu of %s", c,
                     g ? "/gz" : "/plain");
            check_ndbuf(p, len, LOCUS_INT32, 2, sel.count, want, what);
            free(want);
            locus_release(fu);
        }
    PASS();
}

/* ---- errors -------------------------------------------------------------- */

Test(h5, errors_are_clear_and_workers_stay_up)
{
    up(2, 2);
    char good[600], text[600], missing[600], nodir[600];
    snprintf(good, sizeof(good), "%s/good.h5", dir);
    snprintf(text, sizeof(text), "%s/notes.txt", dir);
    snprintf(missing, sizeof(missing), "%s/nothere.h5", dir);
    snprintf(nodir, sizeof(nodir), "%s/no/such/dir/out.h5", dir);
    hsize_t dims[2] = {10, 10};
    double d[100];
    for (int i = 0; i < 100; i++)
        d[i] = i;
    hid_t f = create_file(good);
    write_ds(f, "/grp/data", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 2, dims, NULL,
             0, d);
    /* a string dataset and a compound one */
    hid_t st = H5Tcopy(H5T_C_S1);
    H5Tset_size(st, 8);
    char strs[10][8] = {"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"};
    hsize_t d10 = 10;
    write_ds(f, "/strings", st, st, 1, &d10, NULL, 0, strs);
    H5Tclose(st);
    hid_t ct = H5Tcreate(H5T_COMPOUND, 16);
    H5Tinsert(ct, "x", 0, H5T_NATIVE_DOUBLE);
    H5Tinsert(ct, "y", 8, H5T_NATIVE_DOUBLE);
    write_ds(f, "/pairs", ct, ct, 1, &d10, NULL, 0, d);
    H5Tclose(ct);
    hsize_t d3[2] = {3, 3};
    write_ds(f, "/small", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 2, d3, NULL, 0, d);
    H5Fclose(f);
    FILE *tf = fopen(text, "w");
    cr_assert_not_null(tf);
    fputs("this is not an HDF5 file\n", tf);
    fclose(tf);

    pid_t before[8];
    locus_worker_info wi[8];
    size_t nw = 0;
    OK(locus_workers(cl, wi, 8, &nw));
    cr_assert_eq(nw, 2);
    for (size_t i = 0; i < nw; i++)
        before[i] = wi[i].pid;

    expect_load_error(missing, "/data", NULL, LOCUS_ENOENT, "nothere.h5",
                      "No such file");
    expect_load_error(text, "/data", NULL, LOCUS_EHDF5, "notes.txt",
                      "cannot open");
    expect_load_error(good, "/nope", NULL, LOCUS_ENOENT, "/nope", "good.h5");
    expect_load_error(good, "/missing/grp/data", NULL, LOCUS_ENOENT,
                      "'/missing' does not exist", NULL);
    expect_load_error(good, "/grp", NULL, LOCUS_ENOENT, "not a dataset", NULL);
    expect_load_error(good, "/strings", NULL, LOCUS_ENOTSUP, "unsupported",
                      "string");
    expect_load_error(good, "/pairs", NULL, LOCUS_ENOTSUP, "compound", NULL);
    locus_h5_sel oob = {2, {5, 0}, {6, 10}, {1, 1}};
    expect_load_error(good, "/grp/data", &oob, LOCUS_ERANGE, "out of bounds",
                      "axis 0");
    locus_h5_sel strided = {2, {0, 1}, {2, 4}, {1, 3}};
    expect_load_error(good, "/grp/data", &strided, LOCUS_ERANGE,
                      "out of bounds", "axis 1");
    locus_h5_sel rank = {1, {0}, {3}, {1}};
    expect_load_error(good, "/grp/data", &rank, LOCUS_EINVAL, "rank 2", NULL);

    /* malformed arguments of the built-ins, by name */
    locus_arg bad[2] = {locus_arg_i64(7), locus_arg_str("/x")};
    locus_future *fb;
    OK(locus_submit(cl, "locus.h5.load", bad, 1, NULL, &fb));
    cr_expect_eq(locus_result(fb, T_MS, NULL, NULL), LOCUS_EINVAL, "%s",
                 locus_last_error());
    locus_release(fb);

    /* a store where no directory is */
    locus_future *src = load(good, "/grp/data", NULL, 0);
    locus_arg sa[3] = {locus_arg_future(src), locus_arg_str(nodir),
                       locus_arg_str("/out")};
    OK(locus_submit(cl, "locus.h5.store", sa, 3, NULL, &fb));
    int rc = locus_result(fb, T_MS, NULL, NULL);
    cr_expect_eq(rc, LOCUS_ENOENT, "%s: %s", locus_errname(rc),
                 locus_last_error());
    cr_expect(strstr(locus_last_error(), "does not exist"), "%s",
              locus_last_error());
    locus_release(fb);
    /* store where the dataset exists with another shape */
    sa[1] = locus_arg_str(good);
    sa[2] = locus_arg_str("/small");
    OK(locus_submit(cl, "locus.h5.store", sa, 3, NULL, &fb));
    rc = locus_result(fb, T_MS, NULL, NULL);
    cr_expect_eq(rc, LOCUS_EINVAL, "%s: %s", locus_errname(rc),
                 locus_last_error());
    cr_expect(strstr(locus_last_error(), "shape (3, 3)"), "%s",
              locus_last_error());
    locus_release(fb);

    /* API edge */
    locus_future *fx = NULL;
    cr_expect_eq(locus_h5_load(cl, NULL, "/x", NULL, 0, NULL, &fx),
                 LOCUS_EINVAL);
    cr_expect_eq(locus_h5_load(cl, good, "", NULL, 0, NULL, &fx), LOCUS_EINVAL);
    cr_expect_eq(locus_h5_load(cl, good, "/x", NULL, 0x80, NULL, &fx),
                 LOCUS_EINVAL);
    locus_h5_sel neg = {2, {-1, 0}, {1, 1}, {1, 1}};
    cr_expect_eq(locus_h5_load(cl, good, "/x", &neg, 0, NULL, &fx),
                 LOCUS_EINVAL);
    cr_expect_null(fx);
    locus_h5_info info;
    cr_expect_eq(locus_h5_info_get(cl, missing, "/x", 0, T_MS, &info),
                 LOCUS_ENOENT);

    /* the same workers (same pids) still run tasks, each of them */
    OK(locus_workers(cl, wi, 8, &nw));
    cr_assert_eq(nw, 2, "a worker is gone after the errors");
    for (size_t i = 0; i < nw; i++) {
        cr_assert_eq(wi[i].pid, before[i], "worker %d restarted", wi[i].id);
        struct locus_submit_opts o = LOCUS_SUBMIT_OPTS_INIT;
        o.workers = &wi[i].id;
        o.nworkers = 1;
        locus_future *ok;
        OK(locus_h5_load(cl, good, "/grp/data", NULL, 0, &o, &ok));
        const void *p;
        size_t len;
        OK(locus_result(ok, T_MS, &p, &len));
        int64_t shape[2] = {10, 10};
        check_ndbuf(p, len, LOCUS_FLOAT64, 2, shape, d, "after errors");
        locus_release(ok);
    }
    locus_release(src);
    PASS();
}

/* ---- placement ----------------------------------------------------------- */

Test(h5, load_files_spread_and_tasks_follow_the_data)
{
    up(4, 1);
    enum { NF = 4 };
    char paths[NF][600];
    const char *files[NF];
    static double d[NF][100 * 100];
    hsize_t dims[2] = {100, 100};
    for (int k = 0; k < NF; k++) {
        snprintf(paths[k], sizeof(paths[k]), "%s/datafile%d.hdf5", dir, k);
        files[k] = paths[k];
        for (int i = 0; i < 100 * 100; i++)
            d[k][i] = k * 1e5 + i;
        hid_t f = create_file(paths[k]);
        write_ds(f, "/data", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 2, dims, NULL,
                 0, d[k]);
        H5Fclose(f);
    }
    locus_future *fs[NF];
    OK(locus_h5_load_files(cl, files, NF, "/data", 0, fs));
    OK(locus_wait(fs, NF, T_MS));
    int where[NF];
    for (int k = 0; k < NF; k++) {
        size_t n;
        OK(locus_who_has(fs[k], &where[k], 1, &n));
        for (int j = 0; j < k; j++)
            cr_assert_neq(where[j], where[k],
                          "files %d and %d both loaded "
                          "on worker %d",
                          j, k, where[k]);
    }
    /* the function goes to the data: where_shape runs where each file is */
    for (int rep = 0; rep < 3; rep++)
        for (int k = 0; k < NF; k++) {
            locus_arg a = locus_arg_future(fs[k]);
            locus_future *s;
            OK(locus_submit(cl, "where_shape", &a, 1, NULL, &s));
            const void *p;
            size_t len;
            OK(locus_result(s, T_MS, &p, &len));
            int64_t v[5];
            cr_assert_eq(len, 5 * 8);
            memcpy(v, p, len);
            cr_assert_eq(v[0], where[k],
                         "shape of file %d computed on "
                         "worker %lld, the data is on %d",
                         k, (long long)v[0], where[k]);
            cr_assert(v[1] == LOCUS_FLOAT64 && v[2] == 2 && v[3] == 100 &&
                      v[4] == 100);
            locus_release(s);
        }
    /* and the values are the files' */
    const void *p;
    size_t len;
    int64_t shape[2] = {100, 100};
    for (int k = 0; k < NF; k++) {
        OK(locus_result(fs[k], T_MS, &p, &len));
        check_ndbuf(p, len, LOCUS_FLOAT64, 2, shape, d[k], files[k]);
        locus_release(fs[k]);
    }
    PASS();
}

/* ---- stores and threads -------------------------------------------------- */

Test(h5, store_written_is_read_back_by_the_hdf5_api)
{
    up(2, 1);
    char path[600];
    snprintf(path, sizeof(path), "%s/store.h5", dir);
    /* make_block(6, 9, 3) on a worker, stored there */
    locus_arg mb[3] = {locus_arg_i64(6), locus_arg_i64(9), locus_arg_i64(3)};
    locus_future *blk, *st, *st2;
    OK(locus_submit(cl, "make_block", mb, 3, NULL, &blk));
    locus_arg sa[3] = {locus_arg_future(blk), locus_arg_str(path),
                       locus_arg_str("/results/block")};
    OK(locus_submit(cl, "locus.h5.store", sa, 3, NULL, &st));
    OK(locus_result(st, T_MS, NULL, NULL));
    /* and part of it again into the same dataset, at an offset */
    locus_arg mb2[3] = {locus_arg_i64(2), locus_arg_i64(3), locus_arg_i64(7)};
    locus_future *blk2;
    OK(locus_submit(cl, "make_block", mb2, 3, NULL, &blk2));
    int64_t off[2] = {4, 6};
    locus_arg sb[5] = {locus_arg_future(blk2), locus_arg_str(path),
                       locus_arg_str("/results/block"),
                       locus_arg_bytes(off, sizeof(off)), locus_arg_i64(0)};
    OK(locus_submit(cl, "locus.h5.store", sb, 5, NULL, &st2));
    OK(locus_result(st2, T_MS, NULL, NULL));
    /* out of bounds offset */
    int64_t far[2] = {5, 6};
    sb[3] = locus_arg_bytes(far, sizeof(far));
    locus_future *st3;
    OK(locus_submit(cl, "locus.h5.store", sb, 5, NULL, &st3));
    cr_expect_eq(locus_result(st3, T_MS, NULL, NULL), LOCUS_ERANGE, "%s",
                 locus_last_error());

    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    cr_assert_geq(f, 0);
    hid_t d = H5Dopen2(f, "/results/block", H5P_DEFAULT);
    cr_assert_geq(d, 0);
    hid_t sp = H5Dget_space(d);
    hsize_t dims[2];
    cr_assert_eq(H5Sget_simple_extent_ndims(sp), 2);
    H5Sget_simple_extent_dims(sp, dims, NULL);
    cr_assert(dims[0] == 6 && dims[1] == 9);
    hid_t ty = H5Dget_type(d);
    cr_assert_eq(H5Tget_class(ty), H5T_FLOAT);
    cr_assert_eq(H5Tget_size(ty), 8);
    double got[6][9];
    cr_assert_geq(
        H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, got), 0);
    for (int i = 0; i < 6; i++)
        for (int j = 0; j < 9; j++) {
            double want = 3e6 + i * 1000 + j;
            if (i >= 4 && j >= 6)
                want = 7e6 + (i - 4) * 1000 + (j - 6);
            cr_assert_eq(got[i][j], want, "(%d, %d): %g, expected %g", i, j,
                         got[i][j], want);
        }
    H5Tclose(ty);
    H5Sclose(sp);
    H5Dclose(d);
    H5Fclose(f);
    locus_release(blk);
    locus_release(blk2);
    locus_release(st);
    locus_release(st2);
    locus_release(st3);
    PASS();
}

Test(h5, concurrent_hyperslab_loads_on_task_threads)
{
    /* the workers serialize their HDF5 calls with their own mutex, as with
       an HDF5 built without thread safety (inherited by the workers) */
    setenv("LOCUS_H5_SERIALIZE", "1", 1);
    up(2, 2);
    char path[600];
    snprintf(path, sizeof(path), "%s/many.h5", dir);
    enum { R = 256, K = 64, NT = 32 };
    static int64_t a[R * K];
    for (int i = 0; i < R * K; i++)
        a[i] = (int64_t)i * 7 - 100000;
    hsize_t dims[2] = {R, K}, ch[2] = {16, 16};
    hid_t f = create_file(path);
    write_ds(f, "/x", H5T_STD_I64BE, H5T_NATIVE_INT64, 2, dims, ch, 4, a);
    H5Fclose(f);
    locus_future *fs[NT];
    for (int t = 0; t < NT; t++) {
        locus_h5_sel sel = {2, {t * 8, t % 5}, {8, 50}, {1, 1}};
        fs[t] = load(path, "/x", &sel, 0);
    }
    locus_value v[NT];
    OK(locus_gather(fs, NT, T_MS, v));
    for (int t = 0; t < NT; t++) {
        int64_t want[8 * 50], shape[2] = {8, 50};
        for (int i = 0; i < 8; i++)
            for (int j = 0; j < 50; j++)
                want[i * 50 + j] = a[(t * 8 + i) * K + (t % 5) + j];
        check_ndbuf(v[t].data, v[t].len, LOCUS_INT64, 2, shape, want,
                    "concurrent slab");
        locus_release(fs[t]);
    }
    PASS();
}

/* A relative file is the client's: made absolute on the client (as
 * locus_require does), not resolved in the workers' working directory.
 * The client moves into the test's directory after the workers started
 * elsewhere. */
Test(h5, relative_paths_are_the_clients)
{
    up(2, 1);
    char old[4096];
    cr_assert_not_null(getcwd(old, sizeof(old)));
    cr_assert_eq(chdir(dir), 0);
    locus_array *a = NULL, *b = NULL;
    OK(locus_array_arange(cl, 12, 5, &a));
    int rc = locus_array_store_hdf5(a, "rel.h5", "/x", 0, T_MS);
    char msg[1024];
    snprintf(msg, sizeof(msg), "%s", locus_last_error());
    locus_h5_info info;
    int rc2 = rc ? rc : locus_h5_info_get(cl, "rel.h5", "/x", 0, T_MS, &info);
    int rc3 =
        rc2 ? rc2 : locus_array_from_hdf5(cl, "rel.h5", "/x", NULL, 0, &b);
    if (rc2 && !rc)
        snprintf(msg, sizeof(msg), "%s", locus_last_error());
    cr_assert_eq(chdir(old), 0);
    cr_assert_eq(rc, 0, "store to rel.h5: %s", msg);
    cr_assert_eq(rc2, 0, "info of rel.h5: %s", msg);
    cr_assert_eq(rc3, 0, "array from rel.h5: %s", locus_last_error());
    cr_expect(info.ndim == 1 && info.shape[0] == 12);
    char path[600];
    snprintf(path, sizeof(path), "%s/rel.h5", dir);
    cr_expect_eq(access(path, F_OK), 0, "written next to the client: %s", path);
    locus_array *s = NULL;
    OK(locus_array_reduce(b, LOCUS_SUM, -1, &s));
    double sum = 0;
    OK(locus_array_compute_f64(s, T_MS, &sum));
    cr_expect_eq(sum, 66.0);
    locus_array_free(s);
    locus_array_free(b);
    locus_array_free(a);
    PASS();
}

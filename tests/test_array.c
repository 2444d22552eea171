/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * locus_array end to end: arrays built on real workers (arange, random
 * normal, HDF5 files written here, task results), and every result
 * (slices, concatenations, rechunks, reductions, maps, stores) checked
 * against the same computation done directly in this file.
 *
 * Every wait has a deadline (T_MS).  The daemons' logs are printed when a
 * test fails.
 */
#include <criterion/criterion.h>

#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "array/array_int.h"
#include "client/client_order.h"
#include "check.h"
#include "cluster.h"
#include "locus.h"
#include "proc.h"

#define TASKLIB LOCUS_TEST_BINDIR "/libtasklib_array.so"
#define T_MS 20000
#define N LOCUS_NONE

static lt_cluster C;
static locus_client *cl;
static int passed;
static char dir[512];

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

TestSuite(array, .fini = teardown, .timeout = 120);

#define EXPECT_ERR(call, code)                                                 \
    do {                                                                       \
        int rc_ = (call);                                                      \
        cr_expect_eq(rc_, (code), "%s: %s (%s), expected %s", #call,           \
                     locus_errname(rc_), locus_last_error(),                   \
                     locus_errname(code));                                     \
        cr_expect(locus_last_error()[0], "%s: no message", #call);             \
    } while (0)

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

/* A computed array: the ndbuf and its view. */
typedef struct computed {
    void *buf;
    size_t len;
    locus_ndview v;
} computed;

static computed compute(locus_array *a)
{
    computed r;
    OK(locus_array_compute(a, T_MS, &r.buf, &r.len));
    OK(locus_ndbuf_view(r.buf, r.len, &r.v));
    cr_assert_eq(r.v.dtype, locus_array_dtype(a));
    cr_assert_eq(r.v.ndim, locus_array_ndim(a));
    for (int i = 0; i < r.v.ndim; i++)
        cr_assert_eq(r.v.shape[i], locus_array_shape(a)[i]);
    return r;
}

static double at2(const computed *c, int64_t i, int64_t j)
{
    return locus_ndview_get_f64(&c->v, (size_t)(i * c->v.shape[1] + j));
}

static void write_h5(const char *path, const char *name, hid_t mtype, int nd,
                     const hsize_t *dims, const void *data)
{
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    cr_assert_geq(f, 0);
    hid_t sp = H5Screate_simple(nd, dims, NULL);
    hid_t d =
        H5Dcreate2(f, name, mtype, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    cr_assert_geq(d, 0);
    cr_assert_geq(H5Dwrite(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, data), 0);
    H5Dclose(d);
    H5Sclose(sp);
    H5Fclose(f);
}

/* The indices a Python slice selects from an axis of len elements,
 * enumerated plainly (the test's own reading of the semantics). */
static int64_t pyslice(locus_slice s, int64_t len, int64_t *idx)
{
    int64_t n = 0;
    if (s.step > 0) {
        int64_t b = s.start == N ? 0 : s.start < 0 ? s.start + len : s.start;
        int64_t e = s.stop == N ? len : s.stop < 0 ? s.stop + len : s.stop;
        b = b < 0 ? 0 : b > len ? len : b;
        e = e < 0 ? 0 : e > len ? len : e;
        for (int64_t i = b; i < e; i += s.step)
            idx[n++] = i;
    } else {
        int64_t b = s.start == N  ? len - 1
                    : s.start < 0 ? s.start + len
                                  : s.start;
        int64_t e = s.stop == N ? -1 : s.stop < 0 ? s.stop + len : s.stop;
        b = b < -1 ? -1 : b > len - 1 ? len - 1 : b;
        e = e < -1 ? -1 : e > len - 1 ? len - 1 : e;
        for (int64_t i = b; i > e; i += s.step)
            idx[n++] = i;
    }
    return n;
}

/* ---- construction -------------------------------------------------------- */

Test(array, arange_chunks_and_describe)
{
    up(2, 1);
    locus_array *y;
    OK(locus_array_arange(cl, 100, 25, &y));
    cr_assert_eq(locus_array_ndim(y), 1);
    cr_assert_eq(locus_array_dtype(y), LOCUS_INT64);
    cr_assert_eq(locus_array_shape(y)[0], 100);
    cr_assert_eq(locus_array_nchunks(y), 4);
    const int64_t *cs;
    size_t nc;
    OK(locus_array_chunks(y, 0, &cs, &nc));
    cr_assert(nc == 4 && cs[0] == 25 && cs[3] == 25);
    char desc[256];
    locus_array_describe(y, desc, sizeof(desc));
    cr_assert(strstr(desc, "shape=(100,)") && strstr(desc, "int64") &&
                  strstr(desc, "(25, 25, 25, 25)"),
              "%s", desc);
    computed r = compute(y);
    for (int64_t i = 0; i < 100; i++)
        cr_assert_eq(((int64_t *)r.v.data)[i], i);
    free(r.buf);
    /* computing again runs nothing new and gives the same */
    computed r2 = compute(y);
    cr_assert_eq(memcmp(r2.v.data, (int64_t[]){0, 1, 2, 3}, 32), 0);
    free(r2.buf);

    locus_array *odd, *empty;
    OK(locus_array_arange(cl, 10, 3, &odd));
    OK(locus_array_chunks(odd, 0, &cs, &nc));
    cr_assert(nc == 4 && cs[0] == 3 && cs[3] == 1);
    computed r3 = compute(odd);
    cr_assert_eq(((int64_t *)r3.v.data)[9], 9);
    free(r3.buf);
    OK(locus_array_arange(cl, 0, 5, &empty));
    computed r4 = compute(empty);
    cr_assert_eq(r4.v.nelems, 0);
    free(r4.buf);
    locus_array_free(y);
    locus_array_free(odd);
    locus_array_free(empty);
    PASS();
}

Test(array, random_normal_depends_on_seed_and_index_only)
{
    up(2, 1);
    int64_t shape[2] = {60, 40}, c1[2] = {16, 16}, c2[2] = {60, 7};
    locus_array *a, *b, *other;
    OK(locus_array_random_normal(cl, 7, 0.0, 1.0, 2, shape, c1, &a));
    OK(locus_array_random_normal(cl, 7, 0.0, 1.0, 2, shape, c2, &b));
    OK(locus_array_random_normal(cl, 8, 0.0, 1.0, 2, shape, c1, &other));
    cr_assert_eq(locus_array_nchunks(a), 4 * 3);
    cr_assert_eq(locus_array_nchunks(b), 6);
    computed ra = compute(a), rb = compute(b), ro = compute(other);
    cr_assert_eq(memcmp(ra.v.data, rb.v.data, 60 * 40 * 8), 0,
                 "same seed, other chunks: other values");
    cr_assert_neq(memcmp(ra.v.data, ro.v.data, 60 * 40 * 8), 0);
    double s = 0, s2 = 0;
    const double *x = ra.v.data;
    for (int i = 0; i < 2400; i++) {
        s += x[i];
        s2 += x[i] * x[i];
    }
    double mean = s / 2400, sd = sqrt(s2 / 2400 - mean * mean);
    cr_assert(fabs(mean) < 0.1 && fabs(sd - 1) < 0.1, "mean %g sd %g", mean,
              sd);
    /* loc and scale */
    locus_array *shifted;
    OK(locus_array_random_normal(cl, 7, 10.0, 2.0, 2, shape, c2, &shifted));
    computed rs = compute(shifted);
    for (int i = 0; i < 2400; i++)
        cr_assert_float_eq(((double *)rs.v.data)[i], 10.0 + 2.0 * x[i], 1e-12);
    free(ra.buf);
    free(rb.buf);
    free(ro.buf);
    free(rs.buf);
    locus_array_free(a);
    locus_array_free(b);
    locus_array_free(other);
    locus_array_free(shifted);
    PASS();
}

/* ---- slicing ------------------------------------------------------------- */

Test(array, slices_match_direct_indexing)
{
    up(2, 1);
    enum { R = 37, K = 23 };
    int64_t shape[2] = {R, K}, ch[2] = {8, 5};
    locus_array *a;
    OK(locus_array_random_normal(cl, 42, 0.0, 1.0, 2, shape, ch, &a));
    computed A = compute(a);
    locus_slice cases[][2] = {
        {{N, 10, 1}, {N, 10, 1}},         {{5, 30, 3}, {N, N, -1}},
        {{-5, N, 1}, {-20, -2, 4}},       {{N, N, 7}, {3, 4, 1}},
        {{100, 200, 1}, {N, N, 1}},       {{30, 5, -2}, {N, N, -3}},
        {{-1, -40, -5}, {22, N, 1}},      {{N, N, 1}, {2, 3, 10}},
        {{8, 16, 1}, {5, 10, 1}},  /* exactly one chunk: shared, no task */
        {{N, N, 40}, {N, N, -30}}, /* steps longer than the array */
        {{-100, 100, 9}, {-100, 100, 2}},
    };
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        locus_array *s;
        OK(locus_array_slice(a, cases[c], 2, &s));
        int64_t i0[R], i1[K];
        int64_t n0 = pyslice(cases[c][0], R, i0);
        int64_t n1 = pyslice(cases[c][1], K, i1);
        cr_assert_eq(locus_array_shape(s)[0], n0, "case %zu", c);
        cr_assert_eq(locus_array_shape(s)[1], n1, "case %zu", c);
        computed S = compute(s);
        for (int64_t i = 0; i < n0; i++)
            for (int64_t j = 0; j < n1; j++)
                cr_assert_eq(at2(&S, i, j), at2(&A, i0[i], i1[j]),
                             "case %zu: (%lld, %lld)", c, (long long)i,
                             (long long)j);
        if (c == 0) {
            /* array[:10,:10]: only those elements came to the client */
            array_stats st;
            OK(array_last_stats(s, &st));
            cr_assert_eq(st.client_bytes, 100 * 8 + 4 * LOCUS_NDBUF_HEADER,
                         "fetched %llu bytes",
                         (unsigned long long)st.client_bytes);
        }
        /* a slice of the slice */
        locus_array *ss;
        locus_slice inner[1] = {{N, N, -2}};
        OK(locus_array_slice(s, inner, 1, &ss));
        computed SS = compute(ss);
        int64_t k0[R];
        int64_t m0 = pyslice(inner[0], n0, k0);
        cr_assert_eq(SS.v.shape[0], m0);
        for (int64_t i = 0; i < m0; i++)
            for (int64_t j = 0; j < n1; j++)
                cr_assert_eq(at2(&SS, i, j), at2(&S, k0[i], j));
        free(SS.buf);
        free(S.buf);
        locus_array_free(ss);
        locus_array_free(s);
    }
    locus_slice bad[2] = {{N, N, 0}, {N, N, 1}};
    locus_array *s = NULL;
    EXPECT_ERR(locus_array_slice(a, bad, 2, &s), LOCUS_EINVAL);
    EXPECT_ERR(locus_array_slice(a, bad, 3, &s), LOCUS_EINVAL);
    cr_assert_null(s);
    free(A.buf);
    locus_array_free(a);
    PASS();
}

/* ---- concatenate, rechunk, futures --------------------------------------- */

Test(array, concatenate_rechunk_and_from_futures)
{
    up(2, 2);
    int64_t s1[2] = {10, 6}, c1[2] = {4, 3}, s2[2] = {7, 6}, c2[2] = {7, 2};
    int64_t s3[2] = {10, 4}, c3[2] = {3, 4};
    locus_array *a1, *a2, *a3, *v, *h;
    OK(locus_array_random_normal(cl, 1, 0, 1, 2, s1, c1, &a1));
    OK(locus_array_random_normal(cl, 2, 0, 1, 2, s2, c2, &a2));
    OK(locus_array_random_normal(cl, 3, 0, 1, 2, s3, c3, &a3));
    computed A1 = compute(a1), A2 = compute(a2), A3 = compute(a3);
    /* along axis 0: a2's columns rechunked to a1's boundaries */
    locus_array *vv[2] = {a1, a2};
    OK(locus_array_concatenate(vv, 2, 0, &v));
    const int64_t *cs;
    size_t nc;
    OK(locus_array_chunks(v, 1, &cs, &nc));
    cr_assert(nc == 2 && cs[0] == 3 && cs[1] == 3);
    OK(locus_array_chunks(v, 0, &cs, &nc));
    cr_assert(nc == 4 && cs[3] == 7);
    computed V = compute(v);
    cr_assert_eq(V.v.shape[0], 17);
    for (int i = 0; i < 17; i++)
        for (int j = 0; j < 6; j++)
            cr_assert_eq(at2(&V, i, j),
                         i < 10 ? at2(&A1, i, j) : at2(&A2, i - 10, j));
    /* along axis -1 (the last) */
    locus_array *hh[3] = {a1, a3, a1};
    OK(locus_array_concatenate(hh, 3, -1, &h));
    computed H = compute(h);
    cr_assert_eq(H.v.shape[1], 16);
    for (int i = 0; i < 10; i++)
        for (int j = 0; j < 16; j++) {
            double want = j < 6    ? at2(&A1, i, j)
                          : j < 10 ? at2(&A3, i, j - 6)
                                   : at2(&A1, i, j - 10);
            cr_assert_eq(at2(&H, i, j), want, "(%d, %d)", i, j);
        }
    /* rechunk keeps values */
    locus_array *r;
    int64_t nch[2] = {6, 5};
    OK(locus_array_rechunk(h, nch, &r));
    cr_assert_eq(locus_array_nchunks(r), 2 * 4);
    computed R = compute(r);
    cr_assert_eq(memcmp(R.v.data, H.v.data, 10 * 16 * 8), 0);
    /* mismatches are refused */
    locus_array *x = NULL;
    locus_array *bad[2] = {a1, a3};
    EXPECT_ERR(locus_array_concatenate(bad, 2, 0, &x), LOCUS_EINVAL);
    EXPECT_ERR(locus_array_concatenate(bad, 2, 2, &x), LOCUS_EINVAL);
    locus_array *ints, *none, *five, *cat;
    OK(locus_array_arange(cl, 6, 2, &ints));
    /* an empty array joins without a trace */
    OK(locus_array_arange(cl, 0, 4, &none));
    OK(locus_array_arange(cl, 5, 2, &five));
    locus_array *ne[3] = {none, five, none};
    OK(locus_array_concatenate(ne, 3, 0, &cat));
    cr_assert_eq(locus_array_nchunks(cat), 3);
    computed CAT = compute(cat);
    cr_assert_eq(CAT.v.nelems, 5);
    for (int i = 0; i < 5; i++)
        cr_assert_eq(((int64_t *)CAT.v.data)[i], i);
    free(CAT.buf);
    locus_array_free(none);
    locus_array_free(five);
    locus_array_free(cat);
    locus_array *mixed[2] = {ints, a1};
    EXPECT_ERR(locus_array_concatenate(mixed, 2, 0, &x), LOCUS_EINVAL);
    cr_assert_null(x);

    /* task results as chunks: the futures stay where they are */
    locus_future *fs[3];
    for (int k = 0; k < 3; k++) {
        locus_arg mb[3] = {locus_arg_i64(4 + k), locus_arg_i64(5),
                           locus_arg_i64(k)};
        OK(locus_submit(cl, "make_block", mb, 3, NULL, &fs[k]));
    }
    locus_array *fa;
    OK(locus_array_from_futures(cl, fs, 3, 0, T_MS, &fa));
    cr_assert_eq(locus_array_shape(fa)[0], 4 + 5 + 6);
    locus_future *c0;
    OK(locus_array_chunk_future(fa, 1, &c0));
    cr_assert_str_eq(locus_future_key(c0), locus_future_key(fs[1]));
    locus_release(c0);
    for (int k = 0; k < 3; k++)
        locus_release(fs[k]); /* the array keeps its own references */
    computed F = compute(fa);
    for (int i = 0, row = 0; i < 3; i++)
        for (int r2 = 0; r2 < 4 + i; r2++, row++)
            for (int j = 0; j < 5; j++)
                cr_assert_eq(at2(&F, row, j), i * 1e6 + r2 * 1000 + j);
    free(A1.buf);
    free(A2.buf);
    free(A3.buf);
    free(V.buf);
    free(H.buf);
    free(R.buf);
    free(F.buf);
    locus_array *all[] = {a1, a2, a3, v, h, r, ints, fa};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        locus_array_free(all[i]);
    PASS();
}

/* ---- reductions ---------------------------------------------------------- */

static void check_reduce_i32(locus_array *a, const int32_t *d, int R, int K)
{
    for (int axis = -1; axis < 2; axis++)
        for (int op = LOCUS_SUM; op <= LOCUS_MAX; op++) {
            locus_array *b;
            OK(locus_array_reduce(a, op, axis, &b));
            int wantdt = op == LOCUS_SUM    ? LOCUS_INT64
                         : op == LOCUS_MEAN ? LOCUS_FLOAT64
                                            : LOCUS_INT32;
            cr_assert_eq(locus_array_dtype(b), wantdt, "op %d", op);
            computed B = compute(b);
            int nout = axis < 0 ? 1 : axis == 0 ? K : R;
            cr_assert_eq((int)B.v.nelems, nout);
            for (int o = 0; o < nout; o++) {
                int64_t s = 0;
                int32_t mn = INT32_MAX, mx = INT32_MIN;
                int cnt = 0;
                for (int i = 0; i < R; i++)
                    for (int j = 0; j < K; j++) {
                        if ((axis == 0 && j != o) || (axis == 1 && i != o))
                            continue;
                        int32_t v = d[i * K + j];
                        s += v;
                        mn = v < mn ? v : mn;
                        mx = v > mx ? v : mx;
                        cnt++;
                    }
                double got = locus_ndview_get_f64(&B.v, (size_t)o);
                double want = op == LOCUS_SUM    ? (double)s
                              : op == LOCUS_MEAN ? (double)s / cnt
                              : op == LOCUS_MIN  ? mn
                                                 : mx;
                cr_assert_float_eq(got, want, 1e-9 * (1 + fabs(want)),
                                   "op %d axis %d element %d: %g, want %g", op,
                                   axis, o, got, want);
                if (op == LOCUS_SUM)
                    cr_assert_eq(((int64_t *)B.v.data)[o], s);
            }
            free(B.buf);
            locus_array_free(b);
        }
}

Test(array, reductions_match_direct_computation)
{
    up(2, 2);
    enum { R = 23, K = 17 };
    static int32_t d[R * K];
    for (int i = 0; i < R * K; i++)
        d[i] = (int32_t)((i * 2654435761u) >> 8) - (1 << 23);
    char path[600];
    snprintf(path, sizeof(path), "%s/ints.h5", dir);
    hsize_t dims[2] = {R, K};
    write_h5(path, "/v", H5T_NATIVE_INT32, 2, dims, d);
    int64_t ch[2] = {5, 7};
    locus_array *a;
    OK(locus_array_from_hdf5(cl, path, "/v", ch, 0, &a));
    cr_assert_eq(locus_array_dtype(a), LOCUS_INT32);
    cr_assert_eq(locus_array_nchunks(a), 5 * 3);
    check_reduce_i32(a, d, R, K);

    /* float64, 8 x 5 = 40 chunks: a two-level combine tree */
    int64_t fs[2] = {31, 19}, fc[2] = {4, 4};
    locus_array *f;
    OK(locus_array_random_normal(cl, 5, 3.0, 2.0, 2, fs, fc, &f));
    computed F = compute(f);
    const double *x = F.v.data;
    double s = 0, mn = INFINITY, mx = -INFINITY, col[19] = {0};
    for (int i = 0; i < 31 * 19; i++) {
        s += x[i];
        mn = fmin(mn, x[i]);
        mx = fmax(mx, x[i]);
        col[i % 19] += x[i];
    }
    struct {
        int op, axis;
        double want;
    } fc1[] = {{LOCUS_SUM, -1, s},
               {LOCUS_MEAN, -1, s / (31 * 19)},
               {LOCUS_MIN, -1, mn},
               {LOCUS_MAX, -1, mx}};
    for (size_t k = 0; k < 4; k++) {
        locus_array *b;
        double got;
        OK(locus_array_reduce(f, fc1[k].op, fc1[k].axis, &b));
        OK(locus_array_compute_f64(b, T_MS, &got));
        cr_assert_float_eq(got, fc1[k].want, 1e-9 * (1 + fabs(fc1[k].want)),
                           "op %d: %.17g want %.17g", fc1[k].op, got,
                           fc1[k].want);
        locus_array_free(b);
    }
    locus_array *m0;
    OK(locus_array_reduce(f, LOCUS_MEAN, 0, &m0));
    computed M0 = compute(m0);
    for (int j = 0; j < 19; j++)
        cr_assert_float_eq(((double *)M0.v.data)[j], col[j] / 31, 1e-12);

    /* reductions run where the chunks are: only partials move */
    locus_array *h;
    int64_t hc[2] = {3, 17};
    OK(locus_array_from_hdf5(cl, path, "/v", hc, 0, &h));
    OK(locus_array_persist(h, T_MS));
    locus_array *tot;
    OK(locus_array_reduce(h, LOCUS_SUM, -1, &tot));
    double got;
    OK(locus_array_compute_f64(tot, T_MS, &got));
    array_stats st;
    OK(array_last_stats(tot, &st));
    cr_assert_geq(st.local_inputs, locus_array_nchunks(h),
                  "%zu local inputs for %zu chunks", st.local_inputs,
                  locus_array_nchunks(h));
    cr_assert_leq(st.remote_bytes, st.remote_inputs * (LOCUS_NDBUF_HEADER + 8),
                  "%llu bytes moved in %zu inputs: more than partial sums",
                  (unsigned long long)st.remote_bytes, st.remote_inputs);
    cr_assert_eq(st.client_bytes, LOCUS_NDBUF_HEADER + 8);

    /* 3-d, along the middle axis */
    int64_t s3[3] = {5, 6, 7}, c3[3] = {2, 4, 3};
    locus_array *t3, *t3s;
    OK(locus_array_random_normal(cl, 6, 0, 1, 3, s3, c3, &t3));
    OK(locus_array_reduce(t3, LOCUS_MAX, 1, &t3s));
    computed T3 = compute(t3), T3S = compute(t3s);
    cr_assert(T3S.v.ndim == 2 && T3S.v.shape[0] == 5 && T3S.v.shape[1] == 7);
    for (int i = 0; i < 5; i++)
        for (int k = 0; k < 7; k++) {
            double m = -INFINITY;
            for (int j = 0; j < 6; j++)
                m = fmax(m, ((double *)T3.v.data)[(i * 6 + j) * 7 + k]);
            cr_assert_eq(((double *)T3S.v.data)[i * 7 + k], m);
        }
    free(T3.buf);
    free(T3S.buf);
    locus_array_free(t3);
    locus_array_free(t3s);

    /* unsigned bytes sum to uint64; min of nothing is an error */
    uint8_t u[300];
    for (int i = 0; i < 300; i++)
        u[i] = (uint8_t)(i * 7);
    hsize_t ud = 300;
    snprintf(path, sizeof(path), "%s/bytes.h5", dir);
    write_h5(path, "/u", H5T_NATIVE_UINT8, 1, &ud, u);
    locus_array *ua, *us, *sl, *none = NULL;
    int64_t uc = 64;
    OK(locus_array_from_hdf5(cl, path, "/u", &uc, 0, &ua));
    OK(locus_array_reduce(ua, LOCUS_SUM, 0, &us));
    cr_assert_eq(locus_array_dtype(us), LOCUS_UINT64);
    uint64_t want = 0;
    for (int i = 0; i < 300; i++)
        want += u[i];
    computed US = compute(us);
    cr_assert_eq(*(uint64_t *)US.v.data, want);
    locus_slice empty[1] = {{10, 10, 1}};
    OK(locus_array_slice(ua, empty, 1, &sl));
    EXPECT_ERR(locus_array_reduce(sl, LOCUS_MIN, -1, &none), LOCUS_EINVAL);
    EXPECT_ERR(locus_array_reduce(a, 9, -1, &none), LOCUS_EINVAL);
    EXPECT_ERR(locus_array_reduce(a, LOCUS_SUM, 2, &none), LOCUS_EINVAL);
    cr_assert_null(none);
    locus_array *es;
    OK(locus_array_reduce(sl, LOCUS_SUM, -1, &es));
    OK(locus_array_compute_f64(es, T_MS, &got));
    cr_assert_eq(got, 0);
    free(F.buf);
    free(M0.buf);
    free(US.buf);
    locus_array *all[] = {a, f, m0, h, tot, ua, us, sl, es};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        locus_array_free(all[i]);
    PASS();
}

/* ---- maps ---------------------------------------------------------------- */

Test(array, maps_with_task_functions)
{
    up(2, 1);
    int64_t shape[2] = {20, 12}, ch[2] = {6, 5};
    locus_array *a, *sq, *af, *bad, *nosuch, *ssum;
    OK(locus_array_random_normal(cl, 9, 0, 1, 2, shape, ch, &a));
    computed A = compute(a);
    OK(locus_array_map(a, "square_f64", NULL, 0, 0, &sq));
    locus_arg ab[2] = {locus_arg_f64(3.0), locus_arg_f64(-1.5)};
    OK(locus_array_map(a, "affine", ab, 2, LOCUS_FLOAT64, &af));
    computed SQ = compute(sq), AF = compute(af);
    const double *x = A.v.data;
    double want = 0;
    for (int i = 0; i < 240; i++) {
        cr_assert_eq(((double *)SQ.v.data)[i], x[i] * x[i]);
        cr_assert_eq(((double *)AF.v.data)[i], 3.0 * x[i] - 1.5);
        want += x[i] * x[i];
    }
    /* a reduction of a map: the map runs where each chunk is */
    OK(locus_array_reduce(sq, LOCUS_SUM, -1, &ssum));
    double got;
    OK(locus_array_compute_f64(ssum, T_MS, &got));
    cr_assert_float_eq(got, want, 1e-9 * want);

    /* a map that breaks its promise, a function that does not exist */
    OK(locus_array_map(a, "bad_shape", NULL, 0, 0, &bad));
    void *buf = NULL;
    size_t len;
    EXPECT_ERR(locus_array_compute(bad, T_MS, &buf, &len), LOCUS_EPROTO);
    cr_expect(strstr(locus_last_error(), "bad_shape"), "%s",
              locus_last_error());
    /* ... also when only a reduction of it is computed (it summed the one
       element of each chunk, 42 * 12, and said nothing) */
    locus_array *badsum = NULL;
    OK(locus_array_reduce(bad, LOCUS_SUM, -1, &badsum));
    for (int k = 0; k < 2; k++) { /* and again: it is not remembered as ok */
        EXPECT_ERR(locus_array_compute_f64(badsum, T_MS, &got), LOCUS_EINVAL);
        const char *e = locus_last_error();
        cr_expect(strstr(e, "bad_shape") && strstr(e, "(1,)") &&
                      strstr(e, "(6, 5)"),
                  "%s", e);
    }
    EXPECT_ERR(locus_array_persist(bad, T_MS), LOCUS_EINVAL);
    locus_array_free(badsum);
    OK(locus_array_map(a, "no_such_function", NULL, 0, 0, &nosuch));
    EXPECT_ERR(locus_array_compute(nosuch, T_MS, &buf, &len), LOCUS_ENOSYM);
    cr_expect(strstr(locus_last_error(), "no_such_function"), "%s",
              locus_last_error());
    cr_assert_null(buf);
    locus_array *x2 = NULL;
    EXPECT_ERR(locus_array_map(a, "", NULL, 0, 0, &x2), LOCUS_EINVAL);
    EXPECT_ERR(locus_array_map(a, "f", NULL, 0, 99, &x2), LOCUS_EINVAL);
    cr_assert_null(x2);
    free(A.buf);
    free(SQ.buf);
    free(AF.buf);
    locus_array *all[] = {a, sq, af, bad, nosuch, ssum};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        locus_array_free(all[i]);
    PASS();
}

/* ---- storing ------------------------------------------------------------- */

static double *read_h5_f64(const char *path, const char *name, hsize_t *dims,
                           int *nfilters)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    cr_assert_geq(f, 0, "H5Fopen %s", path);
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    cr_assert_geq(d, 0, "H5Dopen2 %s", name);
    hid_t sp = H5Dget_space(d);
    int nd = H5Sget_simple_extent_ndims(sp);
    H5Sget_simple_extent_dims(sp, dims, NULL);
    hsize_t n = 1;
    for (int i = 0; i < nd; i++)
        n *= dims[i];
    double *out = malloc(n * 8 + 8);
    cr_assert_geq(
        H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, out), 0);
    hid_t dcpl = H5Dget_create_plist(d);
    *nfilters = H5Pget_nfilters(dcpl);
    H5Pclose(dcpl);
    H5Sclose(sp);
    H5Dclose(d);
    H5Fclose(f);
    return out;
}

Test(array, store_to_hdf5_and_load_back)
{
    up(2, 1);
    char path[600];
    snprintf(path, sizeof(path), "%s/out.h5", dir);
    int64_t shape[2] = {50, 30}, ch[2] = {16, 16};
    locus_array *a, *b, *ar, *back;
    OK(locus_array_random_normal(cl, 11, 0, 1, 2, shape, ch, &a));
    computed A = compute(a);
    OK(locus_array_store_hdf5(a, path, "/data", LOCUS_H5_TRUNCATE, T_MS));
    OK(locus_array_store_hdf5(a, path, "/deep/group/gz", LOCUS_H5_GZIP, T_MS));
    EXPECT_ERR(locus_array_store_hdf5(a, path, "/data", 0, T_MS), LOCUS_EINVAL);
    cr_expect(strstr(locus_last_error(), "already exists"), "%s",
              locus_last_error());
    hsize_t dims[2];
    int nf;
    double *plain = read_h5_f64(path, "/data", dims, &nf);
    cr_assert(dims[0] == 50 && dims[1] == 30);
    cr_assert_eq(nf, 0);
    cr_assert_eq(memcmp(plain, A.v.data, 50 * 30 * 8), 0);
    double *gz = read_h5_f64(path, "/deep/group/gz", dims, &nf);
    cr_assert_eq(nf, 1, "the gzip dataset has %d filters", nf);
    cr_assert_eq(memcmp(gz, A.v.data, 50 * 30 * 8), 0);
    free(plain);
    free(gz);

    /* stored computed slices and 1-d ints, read back through locus */
    locus_slice sl[2] = {{N, N, -3}, {5, 25, 2}};
    OK(locus_array_slice(a, sl, 2, &b));
    OK(locus_array_store_hdf5(b, path, "/sliced", 0, T_MS));
    OK(locus_array_from_hdf5(cl, path, "/sliced", NULL, 0, &back));
    computed B = compute(b), BK = compute(back);
    cr_assert_eq(memcmp(B.v.data, BK.v.data, B.v.nelems * 8), 0);
    OK(locus_array_arange(cl, 1000, 300, &ar));
    OK(locus_array_store_hdf5(ar, path, "/ints", LOCUS_H5_GZIP, T_MS));
    locus_h5_info info;
    OK(locus_h5_info_get(cl, path, "/ints", 0, T_MS, &info));
    cr_assert(info.dtype == LOCUS_INT64 && info.ndim == 1 &&
              info.shape[0] == 1000 && info.chunk[0] == 300);
    locus_array *ib;
    OK(locus_array_from_hdf5(cl, path, "/ints", (int64_t[]){128}, 0, &ib));
    locus_array *isum;
    OK(locus_array_reduce(ib, LOCUS_SUM, -1, &isum));
    double got;
    OK(locus_array_compute_f64(isum, T_MS, &got));
    cr_assert_eq(got, 999.0 * 1000 / 2);
    free(A.buf);
    free(B.buf);
    free(BK.buf);
    locus_array *all[] = {a, b, ar, back, ib, isum};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        locus_array_free(all[i]);
    PASS();
}

/* ---- the tutorial, failures ---------------------------------------------- */

Test(array, files_concatenated_then_sliced_like_the_tutorial)
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
        write_h5(paths[k], "/data", H5T_NATIVE_DOUBLE, 2, dims, d[k]);
    }
    locus_array *a, *top;
    OK(locus_array_from_files(cl, files, NF, "/data", 0, 0, &a));
    cr_assert_eq(locus_array_shape(a)[0], 400);
    cr_assert_eq(locus_array_nchunks(a), NF);
    OK(locus_array_persist(a, T_MS));
    int seen[NF];
    for (int k = 0; k < NF; k++) {
        locus_future *f;
        size_t n;
        OK(locus_array_chunk_future(a, (size_t)k, &f));
        OK(locus_who_has(f, &seen[k], 1, &n));
        for (int j = 0; j < k; j++)
            cr_assert_neq(seen[j], seen[k], "chunks %d and %d on one worker", j,
                          k);
        locus_release(f);
    }
    locus_slice s[2] = {{N, 10, 1}, {N, 10, 1}};
    OK(locus_array_slice(a, s, 2, &top));
    computed T = compute(top);
    for (int i = 0; i < 10; i++)
        for (int j = 0; j < 10; j++)
            cr_assert_eq(at2(&T, i, j), d[0][i * 100 + j]);
    locus_slice s2[2] = {{95, 305, 70}, {N, N, 33}};
    locus_array *mid;
    OK(locus_array_slice(a, s2, 2, &mid));
    computed M = compute(mid);
    cr_assert_eq(M.v.shape[0], 3);
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 4; j++) {
            int row = 95 + 70 * i;
            cr_assert_eq(at2(&M, i, j),
                         d[row / 100][(row % 100) * 100 + j * 33]);
        }
    free(T.buf);
    free(M.buf);
    locus_array_free(a);
    locus_array_free(top);
    locus_array_free(mid);
    PASS();
}

Test(array, hdf5_chunks_spread_over_workers_and_numa_nodes)
{
    /* four workers on a synthetic machine of two NUMA nodes */
    struct locus_cluster_opts o = LOCUS_CLUSTER_OPTS_INIT;
    o.nworkers = 4;
    o.nthreads = 1;
    o.topology = "pack:1 numa:2 core:1 pu:1";
    o.timeout_ms = T_MS;
    int rc = lt_cluster_start(&C, &o);
    cr_assert_eq(rc, 0, "%s", locus_last_error());
    struct locus_connect_opts co = LOCUS_CONNECT_OPTS_INIT;
    co.timeout_ms = T_MS;
    OK(locus_connect(C.file, &co, &cl));
    char *d = lt_tmpdir();
    snprintf(dir, sizeof(dir), "%s", d);
    free(d);
    locus_worker_info wi[8];
    size_t nw;
    OK(locus_workers(cl, wi, 8, &nw));
    cr_assert_eq(nw, 4);
    int *order;
    size_t n;
    OK(client_worker_order(cl, &order, &n));
    cr_assert_eq(n, 4);
    int node[4];
    for (size_t i = 0; i < 4; i++)
        for (size_t k = 0; k < nw; k++)
            if (wi[k].id == order[i])
                node[i] = wi[k].numa_node;
    for (size_t i = 1; i < 4; i++)
        cr_assert_neq(node[i], node[i - 1],
                      "placement order %zu, %zu on "
                      "one NUMA node",
                      i - 1, i);
    free(order);

    char path[600];
    snprintf(path, sizeof(path), "%s/spread.h5", dir);
    static double v[64 * 10];
    for (int i = 0; i < 640; i++)
        v[i] = i;
    hsize_t dims[2] = {64, 10};
    write_h5(path, "/v", H5T_NATIVE_DOUBLE, 2, dims, v);
    locus_array *a, *s;
    int64_t ch[2] = {8, 0};
    OK(locus_array_from_hdf5(cl, path, "/v", ch, 0, &a));
    cr_assert_eq(locus_array_nchunks(a), 8);
    OK(locus_array_persist(a, T_MS));
    int per[64] = {0}, pernode[2] = {0};
    for (size_t i = 0; i < 8; i++) {
        locus_future *f;
        int w = -1;
        OK(locus_array_chunk_future(a, i, &f));
        OK(locus_who_has(f, &w, 1, &n));
        locus_release(f);
        cr_assert(w > 0 && w < 64);
        per[w]++;
        for (size_t k = 0; k < nw; k++)
            if (wi[k].id == w)
                pernode[wi[k].numa_node]++;
    }
    for (size_t k = 0; k < nw; k++)
        cr_assert_eq(per[wi[k].id], 2, "worker %d holds %d chunks", wi[k].id,
                     per[wi[k].id]);
    cr_assert(pernode[0] == 4 && pernode[1] == 4);
    double got;
    OK(locus_array_reduce(a, LOCUS_SUM, -1, &s));
    OK(locus_array_compute_f64(s, T_MS, &got));
    cr_assert_eq(got, 639.0 * 640 / 2);
    locus_array_free(a);
    locus_array_free(s);
    PASS();
}

Test(array, failed_compute_runs_again_and_api_checks)
{
    up(2, 1);
    char path[600], away[600];
    snprintf(path, sizeof(path), "%s/x.h5", dir);
    snprintf(away, sizeof(away), "%s/x.moved", dir);
    double v[64];
    for (int i = 0; i < 64; i++)
        v[i] = i;
    hsize_t n = 64;
    write_h5(path, "/x", H5T_NATIVE_DOUBLE, 1, &n, v);
    locus_array *a, *s;
    int64_t ch = 16;
    OK(locus_array_from_hdf5(cl, path, "/x", &ch, 0, &a));
    OK(locus_array_reduce(a, LOCUS_SUM, -1, &s));
    cr_assert_eq(rename(path, away), 0);
    double got = -1;
    EXPECT_ERR(locus_array_compute_f64(s, T_MS, &got), LOCUS_ENOENT);
    cr_expect(strstr(locus_last_error(), "x.h5"), "%s", locus_last_error());
    cr_assert_eq(rename(away, path), 0);
    OK(locus_array_compute_f64(s, T_MS, &got));
    cr_assert_eq(got, 63.0 * 64 / 2);

    locus_array *x = NULL;
    EXPECT_ERR(locus_array_from_hdf5(cl, away, "/x", NULL, 0, &x),
               LOCUS_ENOENT);
    EXPECT_ERR(locus_array_from_hdf5(cl, path, "/nope", NULL, 0, &x),
               LOCUS_ENOENT);
    EXPECT_ERR(locus_array_from_hdf5(cl, path, "/x", NULL, LOCUS_H5_GZIP, &x),
               LOCUS_EINVAL);
    EXPECT_ERR(locus_array_arange(cl, -1, 4, &x), LOCUS_EINVAL);
    EXPECT_ERR(locus_array_arange(NULL, 4, 4, &x), LOCUS_EINVAL);
    int64_t neg[2] = {3, -1};
    EXPECT_ERR(locus_array_random_normal(cl, 1, 0, 1, 2, neg, NULL, &x),
               LOCUS_EINVAL);
    EXPECT_ERR(locus_array_random_normal(cl, 1, 0, 1, 9, neg, NULL, &x),
               LOCUS_EINVAL);
    EXPECT_ERR(locus_array_compute_f64(a, T_MS, &got), LOCUS_EINVAL);
    locus_future *f = NULL;
    EXPECT_ERR(locus_array_chunk_future(a, 4, &f), LOCUS_ERANGE);
    EXPECT_ERR(locus_array_from_futures(cl, &f, 1, 0, T_MS, &x), LOCUS_EINVAL);
    cr_assert_null(x);
    /* a future that is not an ndbuf */
    locus_arg one = locus_arg_i64(5);
    OK(locus_submit(cl, "locus.identity", &one, 1, NULL, &f));
    EXPECT_ERR(locus_array_from_futures(cl, &f, 1, 0, T_MS, &x), LOCUS_EINVAL);
    cr_expect(strstr(locus_last_error(), "ndbuf"), "%s", locus_last_error());
    locus_release(f);
    locus_array_free(a);
    locus_array_free(s);
    PASS();
}

/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Array built-in tasks: chunk makers, slicing, assembling, reductions.
 * They run on workers, on data already there; every input is checked
 * (a malformed task fails with a message, the worker carries on).
 */
#include "array/array_tasks.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "array/ndbuf.h"
#include "base/base.h"

#define FAIL(t, code, ...) ndbuf_task_fail((t), (code), __VA_ARGS__)

/* Argument i as int64 values (a multiple of 8 bytes, at most max). */
static int arg_i64s(locus_task *t, size_t i, int64_t *out, size_t max,
                    size_t *n)
{
    const void *p;
    size_t len;
    if (locus_task_arg(t, i, &p, &len) != 0)
        return FAIL(t, LOCUS_EINVAL, "missing argument %zu", i);
    if (len % 8 || len / 8 > max)
        return FAIL(t, LOCUS_EINVAL,
                    "argument %zu: %zu bytes, expected at "
                    "most %zu int64 values",
                    i, len, max);
    memcpy(out, p, len);
    *n = len / 8;
    return 0;
}

static int arg_i64(locus_task *t, size_t i, int64_t *v)
{
    if (locus_task_arg_i64(t, i, v) != 0)
        return FAIL(t, LOCUS_EINVAL, "argument %zu: expected an int64", i);
    return 0;
}

static int arg_f64(locus_task *t, size_t i, double *v)
{
    if (locus_task_arg_f64(t, i, v) != 0)
        return FAIL(t, LOCUS_EINVAL, "argument %zu: expected a double", i);
    return 0;
}

/* ---- info, arange, random normal ----------------------------------------- */

static int b_info(locus_task *t)
{
    locus_ndview v;
    int rc = locus_task_arg_ndbuf(t, 0, &v);
    if (rc)
        return rc;
    int64_t out[2 + LOCUS_NDIM_MAX];
    out[0] = v.dtype;
    out[1] = v.ndim;
    for (int i = 0; i < v.ndim; i++)
        out[2 + i] = v.shape[i];
    return locus_task_return(t, out, (size_t)(2 + v.ndim) * 8);
}

static int b_arange(locus_task *t)
{
    int64_t first, count;
    int rc = arg_i64(t, 0, &first);
    if (!rc)
        rc = arg_i64(t, 1, &count);
    if (rc)
        return rc;
    if (count < 0)
        return FAIL(t, LOCUS_EINVAL, "arange: negative count %lld",
                    (long long)count);
    locus_ndview v;
    rc = locus_task_result_ndbuf(t, LOCUS_INT64, 1, &count, &v);
    if (rc)
        return rc;
    int64_t *d = v.data;
    for (int64_t i = 0; i < count; i++)
        d[i] = (int64_t)((uint64_t)first + (uint64_t)i);
    return 0;
}

static uint64_t mix64(uint64_t z)
{
    z += 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* N(0, 1) sample number idx of stream seed (Box-Muller on two hashed
 * uniforms): a pure function, so any chunking gives the same array. */
static double normal_at(uint64_t key, uint64_t idx)
{
    uint64_t h1 = mix64(key + 2 * idx), h2 = mix64(key + 2 * idx + 1);
    double u1 = (double)((h1 >> 11) + 1) * 0x1p-53; /* (0, 1] */
    double u2 = (double)(h2 >> 11) * 0x1p-53;       /* [0, 1) */
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

static int b_random_normal(locus_task *t)
{
    int64_t seed, shape[LOCUS_NDIM_MAX], off[LOCUS_NDIM_MAX],
        cnt[LOCUS_NDIM_MAX];
    double loc, scale;
    size_t nd = 0, n2 = 0, n3 = 0;
    int rc = arg_i64(t, 0, &seed);
    if (!rc)
        rc = arg_f64(t, 1, &loc);
    if (!rc)
        rc = arg_f64(t, 2, &scale);
    if (!rc)
        rc = arg_i64s(t, 3, shape, LOCUS_NDIM_MAX, &nd);
    if (!rc)
        rc = arg_i64s(t, 4, off, LOCUS_NDIM_MAX, &n2);
    if (!rc)
        rc = arg_i64s(t, 5, cnt, LOCUS_NDIM_MAX, &n3);
    if (rc)
        return rc;
    if (n2 != nd || n3 != nd)
        return FAIL(t, LOCUS_EINVAL,
                    "random_normal: shape, offset and "
                    "count have %zu, %zu, %zu values",
                    nd, n2, n3);
    for (size_t i = 0; i < nd; i++)
        if (shape[i] < 0 || off[i] < 0 || cnt[i] < 0 || off[i] > shape[i] ||
            cnt[i] > shape[i] - off[i])
            return FAIL(t, LOCUS_ERANGE,
                        "random_normal: block [%lld, +%lld) "
                        "outside axis %zu of extent %lld",
                        (long long)off[i], (long long)cnt[i], i,
                        (long long)shape[i]);
    locus_ndview v;
    rc = locus_task_result_ndbuf(t, LOCUS_FLOAT64, (int)nd, cnt, &v);
    if (rc)
        return rc;
    if (v.nelems == 0)
        return 0;
    int64_t gs[LOCUS_NDIM_MAX], k[LOCUS_NDIM_MAX];
    ndbuf_strides((int)nd, shape, gs);
    memset(k, 0, sizeof(k));
    uint64_t key = mix64((uint64_t)seed ^ 0x6c6f637573ull);
    double *d = v.data;
    size_t o = 0;
    if (nd == 0) {
        d[0] = loc + scale * normal_at(key, 0);
        return 0;
    }
    int last = (int)nd - 1;
    for (;;) {
        uint64_t base = 0;
        for (int i = 0; i < last; i++)
            base += (uint64_t)(off[i] + k[i]) * (uint64_t)gs[i];
        base += (uint64_t)off[last];
        for (int64_t j = 0; j < cnt[last]; j++)
            d[o++] = loc + scale * normal_at(key, base + (uint64_t)j);
        int i = last - 1;
        for (; i >= 0; i--) {
            if (++k[i] < cnt[i])
                break;
            k[i] = 0;
        }
        if (i < 0)
            break;
    }
    return 0;
}

/* ---- slice, assemble ----------------------------------------------------- */

static int b_slice(locus_task *t)
{
    locus_ndview x, y;
    int64_t sel[3 * LOCUS_NDIM_MAX];
    size_t n = 0;
    int rc = locus_task_arg_ndbuf(t, 0, &x);
    if (!rc)
        rc = arg_i64s(t, 1, sel, 3 * LOCUS_NDIM_MAX, &n);
    if (rc)
        return rc;
    int nd = x.ndim;
    if (n != 3 * (size_t)nd)
        return FAIL(t, LOCUS_EINVAL,
                    "slice: %zu selection values for a %d-d "
                    "chunk (expected start, count, step per axis)",
                    n, nd);
    const int64_t *start = sel, *count = sel + nd, *step = sel + 2 * nd;
    for (int i = 0; i < nd; i++) {
        if (count[i] < 0 || step[i] == 0)
            return FAIL(t, LOCUS_EINVAL,
                        "slice: axis %d: count %lld, step "
                        "%lld",
                        i, (long long)count[i], (long long)step[i]);
        if (count[i] == 0)
            continue;
        int64_t lastv = start[i] + (count[i] - 1) * step[i];
        if (start[i] < 0 || start[i] >= x.shape[i] || lastv < 0 ||
            lastv >= x.shape[i])
            return FAIL(t, LOCUS_ERANGE,
                        "slice: axis %d: indices %lld..%lld "
                        "outside the chunk's extent %lld",
                        i, (long long)start[i], (long long)lastv,
                        (long long)x.shape[i]);
    }
    rc = locus_task_result_ndbuf(t, x.dtype, nd, count, &y);
    if (rc)
        return rc;
    int64_t zero[LOCUS_NDIM_MAX] = {0};
    ndbuf_copy(&y, zero, &x, start, step, count);
    return 0;
}

static int b_assemble(locus_task *t)
{
    int64_t meta[2 + LOCUS_NDIM_MAX];
    size_t n = 0;
    int rc = arg_i64s(t, 0, meta, 2 + LOCUS_NDIM_MAX, &n);
    if (rc)
        return rc;
    int dtype = (int)meta[0], nd = (int)meta[1];
    if (n < 2 || nd < 0 || nd > LOCUS_NDIM_MAX || n != 2 + (size_t)nd ||
        !ndbuf_dtype_ok(dtype))
        return FAIL(t, LOCUS_EINVAL,
                    "assemble: malformed description "
                    "(%zu values)",
                    n);
    size_t nargs = locus_task_nargs(t);
    if (nargs % 2 != 1)
        return FAIL(t, LOCUS_EINVAL,
                    "assemble: %zu arguments, expected "
                    "pairs of piece and region",
                    nargs);
    locus_ndview y;
    rc = locus_task_result_ndbuf(t, dtype, nd, meta + 2, &y);
    if (rc)
        return rc;
    memset(y.data, 0, y.nelems * y.itemsize);
    for (size_t a = 1; a < nargs; a += 2) {
        locus_ndview x;
        int64_t reg[3 * LOCUS_NDIM_MAX], one[LOCUS_NDIM_MAX];
        rc = locus_task_arg_ndbuf(t, a, &x);
        if (!rc)
            rc = arg_i64s(t, a + 1, reg, 3 * LOCUS_NDIM_MAX, &n);
        if (rc)
            return rc;
        if (x.dtype != dtype || x.ndim != nd || n != 3 * (size_t)nd)
            return FAIL(t, LOCUS_EINVAL,
                        "assemble: piece %zu is %s %d-d, "
                        "expected %s %d-d",
                        a / 2, locus_dtype_name(x.dtype), x.ndim,
                        locus_dtype_name(dtype), nd);
        const int64_t *ss = reg, *cnt = reg + nd, *ds = reg + 2 * nd;
        for (int i = 0; i < nd; i++) {
            one[i] = 1;
            if (ss[i] < 0 || ds[i] < 0 || cnt[i] < 0 ||
                ss[i] > x.shape[i] - cnt[i] || ds[i] > y.shape[i] - cnt[i])
                return FAIL(t, LOCUS_ERANGE,
                            "assemble: piece %zu: region "
                            "out of bounds on axis %d",
                            a / 2, i);
        }
        ndbuf_copy(&y, ds, &x, ss, one, cnt);
    }
    return 0;
}

/* ---- reductions ---------------------------------------------------------- */

/* sums: ACC is the result element type (uint64_t for signed integers:
   same bits as int64, and wrapping instead of undefined overflow) */
#define DEF_SUM(NAME, T, ACC)                                                  \
    static void NAME(const void *in_, void *out_, size_t outer, size_t n,      \
                     size_t inner)                                             \
    {                                                                          \
        const T *in = in_;                                                     \
        ACC *out = out_;                                                       \
        for (size_t o = 0; o < outer; o++) {                                   \
            ACC *op = out + o * inner;                                         \
            const T *ip = in + o * n * inner;                                  \
            if (inner == 1) {                                                  \
                /* blocks: a float sum's error grows with the block, not n */  \
                ACC total = 0;                                                 \
                for (size_t j = 0; j < n; j += 256) {                          \
                    ACC s = 0;                                                 \
                    size_t e = n - j < 256 ? n : j + 256;                      \
                    for (size_t q = j; q < e; q++)                             \
                        s += (ACC)ip[q];                                       \
                    total += s;                                                \
                }                                                              \
                op[0] = total;                                                 \
                continue;                                                      \
            }                                                                  \
            for (size_t i = 0; i < inner; i++)                                 \
                op[i] = 0;                                                     \
            for (size_t j = 0; j < n; j++, ip += inner)                        \
                for (size_t i = 0; i < inner; i++)                             \
                    op[i] += (ACC)ip[i];                                       \
        }                                                                      \
    }

DEF_SUM(sum_i8, int8_t, uint64_t)
DEF_SUM(sum_u8, uint8_t, uint64_t)
DEF_SUM(sum_i16, int16_t, uint64_t)
DEF_SUM(sum_u16, uint16_t, uint64_t)
DEF_SUM(sum_i32, int32_t, uint64_t)
DEF_SUM(sum_u32, uint32_t, uint64_t)
DEF_SUM(sum_i64, int64_t, uint64_t)
DEF_SUM(sum_u64, uint64_t, uint64_t)
DEF_SUM(sum_f32, float, double)
DEF_SUM(sum_f64, double, double)
DEF_SUM(sumf_i8, int8_t, double)
DEF_SUM(sumf_u8, uint8_t, double)
DEF_SUM(sumf_i16, int16_t, double)
DEF_SUM(sumf_u16, uint16_t, double)
DEF_SUM(sumf_i32, int32_t, double)
DEF_SUM(sumf_u32, uint32_t, double)
DEF_SUM(sumf_i64, int64_t, double)
DEF_SUM(sumf_u64, uint64_t, double)

/* min / max: "v < m || v != v" keeps a NaN once it is met */
#define DEF_EXT(NAME, T, BETTER)                                               \
    static void NAME(const void *in_, void *out_, size_t outer, size_t n,      \
                     size_t inner)                                             \
    {                                                                          \
        const T *in = in_;                                                     \
        T *out = out_;                                                         \
        for (size_t o = 0; o < outer; o++) {                                   \
            T *op = out + o * inner;                                           \
            const T *ip = in + o * n * inner;                                  \
            memcpy(op, ip, inner * sizeof(T));                                 \
            ip += inner;                                                       \
            for (size_t j = 1; j < n; j++, ip += inner)                        \
                for (size_t i = 0; i < inner; i++) {                           \
                    T v = ip[i];                                               \
                    if (BETTER(v, op[i]))                                      \
                        op[i] = v;                                             \
                }                                                              \
        }                                                                      \
    }
#define LESS(v, m) ((v) < (m) || (v) != (v))
#define MORE(v, m) ((v) > (m) || (v) != (v))
#define DEF_MINMAX(SUF, T)                                                     \
    DEF_EXT(min_##SUF, T, LESS)                                                \
    DEF_EXT(max_##SUF, T, MORE)
DEF_MINMAX(i8, int8_t)
DEF_MINMAX(u8, uint8_t)
DEF_MINMAX(i16, int16_t)
DEF_MINMAX(u16, uint16_t)
DEF_MINMAX(i32, int32_t)
DEF_MINMAX(u32, uint32_t)
DEF_MINMAX(i64, int64_t)
DEF_MINMAX(u64, uint64_t)
DEF_MINMAX(f32, float)
DEF_MINMAX(f64, double)

typedef void (*kernel)(const void *, void *, size_t, size_t, size_t);

/* indexed by dtype */
static const kernel k_sum[] = {NULL,    sum_i8,  sum_u8,  sum_i16,
                               sum_u16, sum_i32, sum_u32, sum_i64,
                               sum_u64, sum_f32, sum_f64};
static const kernel k_sumf[] = {NULL,     sumf_i8,  sumf_u8,  sumf_i16,
                                sumf_u16, sumf_i32, sumf_u32, sumf_i64,
                                sumf_u64, sum_f32,  sum_f64};
static const kernel k_min[] = {NULL,    min_i8,  min_u8,  min_i16,
                               min_u16, min_i32, min_u32, min_i64,
                               min_u64, min_f32, min_f64};
static const kernel k_max[] = {NULL,    max_i8,  max_u8,  max_i16,
                               max_u16, max_i32, max_u32, max_i64,
                               max_u64, max_f32, max_f64};

static kernel kernel_of(int op, int dtype)
{
    if (!ndbuf_dtype_ok(dtype))
        return NULL;
    switch (op) {
    case ARR_OP_SUM:
        return k_sum[dtype];
    case ARR_OP_SUMF:
        return k_sumf[dtype];
    case ARR_OP_MIN:
        return k_min[dtype];
    case ARR_OP_MAX:
        return k_max[dtype];
    default:
        return NULL;
    }
}

static int b_reduce(locus_task *t)
{
    locus_ndview x, y;
    int64_t op, axis;
    int rc = locus_task_arg_ndbuf(t, 0, &x);
    if (!rc)
        rc = arg_i64(t, 1, &op);
    if (!rc)
        rc = arg_i64(t, 2, &axis);
    if (rc)
        return rc;
    kernel k = kernel_of((int)op, x.dtype);
    if (!k || op > ARR_OP_MAX)
        return FAIL(t, LOCUS_EINVAL, "reduce: unknown op %lld", (long long)op);
    if (axis < -1 || axis >= x.ndim)
        return FAIL(t, LOCUS_EINVAL, "reduce: axis %lld of a %d-d chunk",
                    (long long)axis, x.ndim);
    size_t outer = 1, n = x.nelems, inner = 1;
    int64_t shape[LOCUS_NDIM_MAX];
    int ond = 0;
    if (axis >= 0) {
        for (int i = 0; i < x.ndim; i++) {
            if (i < axis)
                outer *= (size_t)x.shape[i];
            else if (i > axis)
                inner *= (size_t)x.shape[i];
            if (i != axis)
                shape[ond++] = x.shape[i];
        }
        n = (size_t)x.shape[axis];
    }
    if (n == 0 && outer * inner != 0 && (op == ARR_OP_MIN || op == ARR_OP_MAX))
        return FAIL(t, LOCUS_EINVAL,
                    "reduce: min/max of an empty chunk has "
                    "no value");
    rc = locus_task_result_ndbuf(t, array_reduce_dtype((int)op, x.dtype), ond,
                                 shape, &y);
    if (rc)
        return rc;
    if (outer * inner != 0)
        k(x.data, y.data, outer, n, inner);
    return 0;
}

/* element-wise combine of two arrays: acc = acc op x */
#define DEF_COMB(NAME, T, SUMEXPR)                                             \
    static void NAME(void *acc_, const void *x_, size_t n, int op)             \
    {                                                                          \
        T *acc = acc_;                                                         \
        const T *x = x_;                                                       \
        if (op == ARR_OP_MIN) {                                                \
            for (size_t i = 0; i < n; i++)                                     \
                if (LESS(x[i], acc[i]))                                        \
                    acc[i] = x[i];                                             \
        } else if (op == ARR_OP_MAX) {                                         \
            for (size_t i = 0; i < n; i++)                                     \
                if (MORE(x[i], acc[i]))                                        \
                    acc[i] = x[i];                                             \
        } else {                                                               \
            for (size_t i = 0; i < n; i++)                                     \
                acc[i] = SUMEXPR;                                              \
        }                                                                      \
    }
#define WRAP(T, U) (T)((U)acc[i] + (U)x[i])
DEF_COMB(comb_i8, int8_t, WRAP(int8_t, uint8_t))
DEF_COMB(comb_u8, uint8_t, WRAP(uint8_t, uint8_t))
DEF_COMB(comb_i16, int16_t, WRAP(int16_t, uint16_t))
DEF_COMB(comb_u16, uint16_t, WRAP(uint16_t, uint16_t))
DEF_COMB(comb_i32, int32_t, WRAP(int32_t, uint32_t))
DEF_COMB(comb_u32, uint32_t, WRAP(uint32_t, uint32_t))
DEF_COMB(comb_i64, int64_t, WRAP(int64_t, uint64_t))
DEF_COMB(comb_u64, uint64_t, WRAP(uint64_t, uint64_t))
DEF_COMB(comb_f32, float, acc[i] + x[i])
DEF_COMB(comb_f64, double, acc[i] + x[i])

typedef void (*combiner)(void *, const void *, size_t, int);
static const combiner k_comb[] = {NULL,     comb_i8,  comb_u8,  comb_i16,
                                  comb_u16, comb_i32, comb_u32, comb_i64,
                                  comb_u64, comb_f32, comb_f64};

static int b_combine(locus_task *t)
{
    int64_t op;
    double div;
    int rc = arg_i64(t, 0, &op);
    if (!rc)
        rc = arg_f64(t, 1, &div);
    if (rc)
        return rc;
    if (op != ARR_OP_SUM && op != ARR_OP_MIN && op != ARR_OP_MAX)
        return FAIL(t, LOCUS_EINVAL, "combine: unknown op %lld", (long long)op);
    size_t np = locus_task_nargs(t);
    if (np < 3)
        return FAIL(t, LOCUS_EINVAL, "combine: no piece");
    locus_ndview first, y;
    rc = locus_task_arg_ndbuf(t, 2, &first);
    if (rc)
        return rc;
    if (div != 0 && first.dtype != LOCUS_FLOAT64)
        return FAIL(t, LOCUS_EINVAL,
                    "combine: a divisor needs float64 "
                    "pieces, not %s",
                    locus_dtype_name(first.dtype));
    rc = locus_task_result_ndbuf(t, first.dtype, first.ndim, first.shape, &y);
    if (rc)
        return rc;
    memcpy(y.data, first.data, first.nelems * first.itemsize);
    for (size_t a = 3; a < np; a++) {
        locus_ndview x;
        rc = locus_task_arg_ndbuf(t, a, &x);
        if (rc)
            return rc;
        int same = x.dtype == first.dtype && x.ndim == first.ndim;
        for (int i = 0; same && i < x.ndim; i++)
            same = x.shape[i] == first.shape[i];
        if (!same) {
            char s1[128], s2[128];
            ndbuf_shape_str(first.ndim, first.shape, s1, sizeof(s1));
            ndbuf_shape_str(x.ndim, x.shape, s2, sizeof(s2));
            return FAIL(t, LOCUS_EINVAL,
                        "combine: piece %zu is %s %s, piece "
                        "0 is %s %s",
                        a - 2, locus_dtype_name(x.dtype), s2,
                        locus_dtype_name(first.dtype), s1);
        }
        k_comb[x.dtype](y.data, x.data, x.nelems, (int)op);
    }
    if (div != 0) {
        double *d = y.data;
        for (size_t i = 0; i < y.nelems; i++)
            d[i] /= div;
    }
    return 0;
}

/* A map function's result against the shape of its chunk: read where the
   result is, header only, so that a wrong shape is an error instead of a
   quietly wrong reduction. */
static int b_check(locus_task *t)
{
    const void *p;
    size_t len;
    int64_t dtype;
    char fn[256] = "the map function";
    if (locus_task_arg(t, 1, &p, &len) == 0 && len > 1 && len <= sizeof(fn))
        snprintf(fn, sizeof(fn), "%.*s", (int)len - 1, (const char *)p);
    int rc = arg_i64(t, 2, &dtype);
    if (rc)
        return rc;
    size_t nargs = locus_task_nargs(t);
    if (nargs < 3 || nargs - 3 > LOCUS_NDIM_MAX)
        return FAIL(t, LOCUS_EINVAL, "check: %zu arguments", nargs);
    int ndim = (int)(nargs - 3);
    int64_t shape[LOCUS_NDIM_MAX];
    for (int d = 0; d < ndim; d++)
        if ((rc = arg_i64(t, 3 + (size_t)d, &shape[d])))
            return rc;
    if (locus_task_arg(t, 0, &p, &len) != 0)
        return FAIL(t, LOCUS_EINVAL, "check: no result to check");
    locus_ndview v;
    char want[160], got[160];
    ndbuf_shape_str(ndim, shape, want, sizeof(want));
    if (locus_ndbuf_view(p, len, &v) != 0)
        return FAIL(t, LOCUS_EINVAL,
                    "%s returned %zu bytes that are no ndbuf (%s), "
                    "expected %s %s",
                    fn, len, locus_last_error(), locus_dtype_name((int)dtype),
                    want);
    int same = v.dtype == dtype && v.ndim == ndim;
    for (int d = 0; same && d < ndim; d++)
        same = v.shape[d] == shape[d];
    if (!same) {
        ndbuf_shape_str(v.ndim, v.shape, got, sizeof(got));
        return FAIL(t, LOCUS_EINVAL,
                    "%s returned %s %s for a chunk of %s %s (a map keeps "
                    "the chunk's shape)",
                    fn, locus_dtype_name(v.dtype), got,
                    locus_dtype_name((int)dtype), want);
    }
    return locus_task_return_i64(t, 0);
}

static const locus_task_def array_defs[] = {
    {"locus.array.info", b_info},
    {ARRAY_FN_CHECK, b_check},
    {"locus.array.arange", b_arange},
    {"locus.array.random_normal", b_random_normal},
    {"locus.array.slice", b_slice},
    {"locus.array.assemble", b_assemble},
    {"locus.array.reduce", b_reduce},
    {"locus.array.combine", b_combine},
};

/* in every program that links this file: the worker */
__attribute__((constructor)) static void array_tasks_register(void)
{
    if (locus_task_register(array_defs,
                            sizeof(array_defs) / sizeof(array_defs[0])) != 0)
        lc_log(LC_LOG_ERROR, "array", "built-ins not registered: %s",
               locus_last_error());
}

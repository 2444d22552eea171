/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ndbuf: making, checking and copying the data object of arrays.
 */
#include "array/ndbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/base.h"

static const struct {
    const char *name;
    size_t size;
} dtypes[] = {
    {"?", 0},      {"int8", 1},    {"uint8", 1},   {"int16", 2},
    {"uint16", 2}, {"int32", 4},   {"uint32", 4},  {"int64", 8},
    {"uint64", 8}, {"float32", 4}, {"float64", 8},
};

static uint8_t host_order(void)
{
    const uint16_t one = 1;
    uint8_t b;
    memcpy(&b, &one, 1);
    return b ? NDBUF_LITTLE : NDBUF_BIG;
}

size_t locus_dtype_size(int dtype)
{
    return ndbuf_dtype_ok(dtype) ? dtypes[dtype].size : 0;
}

const char *locus_dtype_name(int dtype)
{
    return ndbuf_dtype_ok(dtype) ? dtypes[dtype].name : "?";
}

int ndbuf_count(int ndim, const int64_t *shape, size_t *n)
{
    size_t p = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0)
            return -1;
        if (__builtin_mul_overflow(p, (size_t)shape[i], &p))
            return -1;
    }
    *n = p;
    return 0;
}

void ndbuf_strides(int ndim, const int64_t *shape, int64_t *strides)
{
    int64_t s = 1;
    for (int i = ndim - 1; i >= 0; i--) {
        strides[i] = s;
        s *= shape[i];
    }
}

void ndbuf_shape_str(int ndim, const int64_t *shape, char *buf, size_t len)
{
    size_t o = 0;
    if (!len)
        return;
    buf[0] = 0;
    o += (size_t)snprintf(buf, len, "(");
    for (int i = 0; i < ndim && o < len; i++)
        o += (size_t)snprintf(buf + o, len - o, "%s%lld", i ? ", " : "",
                              (long long)shape[i]);
    if (o < len)
        snprintf(buf + o, len - o, ndim == 1 ? ",)" : ")");
}

size_t locus_ndbuf_size(int dtype, int ndim, const int64_t *shape)
{
    size_t n, bytes;
    if (!ndbuf_dtype_ok(dtype) || ndim < 0 || ndim > LOCUS_NDIM_MAX ||
        (ndim && !shape) || ndbuf_count(ndim, shape, &n) != 0)
        return 0;
    if (__builtin_mul_overflow(n, dtypes[dtype].size, &bytes) ||
        bytes > SIZE_MAX - LOCUS_NDBUF_HEADER)
        return 0;
    return bytes + LOCUS_NDBUF_HEADER;
}

static void describe(locus_ndview *out, int dtype, int ndim,
                     const int64_t *shape, size_t n, void *data)
{
    memset(out, 0, sizeof(*out));
    out->dtype = dtype;
    out->ndim = ndim;
    for (int i = 0; i < ndim; i++)
        out->shape[i] = shape[i];
    out->itemsize = dtypes[dtype].size;
    out->nelems = n;
    out->data = data;
}

int locus_ndbuf_init(void *bytes, size_t len, int dtype, int ndim,
                     const int64_t *shape, locus_ndview *out)
{
    lc_clearerr();
    size_t need = locus_ndbuf_size(dtype, ndim, shape);
    if (!bytes || !need)
        return lc_seterr(LOCUS_EINVAL, "array",
                         "locus_ndbuf_init: bad "
                         "dtype %d, ndim %d or shape",
                         dtype, ndim);
    if (len < need)
        return lc_seterr(LOCUS_ERANGE, "array",
                         "locus_ndbuf_init: %zu "
                         "bytes given, %zu needed",
                         len, need);
    ndbuf_hdr h;
    memset(&h, 0, sizeof(h));
    h.magic = LOCUS_NDBUF_MAGIC;
    h.version = NDBUF_VERSION;
    h.dtype = (uint8_t)dtype;
    h.ndim = (uint8_t)ndim;
    h.order = host_order();
    h.data_off = LOCUS_NDBUF_HEADER;
    h.nbytes = need - LOCUS_NDBUF_HEADER;
    for (int i = 0; i < ndim; i++)
        h.shape[i] = shape[i];
    memcpy(bytes, &h, sizeof(h));
    if (out) {
        size_t n = 0;
        ndbuf_count(ndim, shape, &n);
        describe(out, dtype, ndim, shape, n,
                 (char *)bytes + LOCUS_NDBUF_HEADER);
    }
    return 0;
}

int locus_ndbuf_view(const void *bytes, size_t len, locus_ndview *out)
{
    lc_clearerr();
    if (!out || (len && !bytes))
        return lc_seterr(LOCUS_EINVAL, "array",
                         "locus_ndbuf_view: NULL "
                         "argument");
    if (len < sizeof(ndbuf_hdr))
        return lc_seterr(LOCUS_EINVAL, "array",
                         "not an ndbuf: %zu bytes, "
                         "shorter than its %d-byte header",
                         len, LOCUS_NDBUF_HEADER);
    ndbuf_hdr h;
    memcpy(&h, bytes, sizeof(h));
    if (h.magic != LOCUS_NDBUF_MAGIC) {
        if (__builtin_bswap32(h.magic) == LOCUS_NDBUF_MAGIC)
            return lc_seterr(LOCUS_EINVAL, "array",
                             "ndbuf of the other "
                             "byte order (made on a host of another "
                             "architecture)");
        return lc_seterr(LOCUS_EINVAL, "array",
                         "not an ndbuf (magic "
                         "0x%08x)",
                         h.magic);
    }
    if (h.version != NDBUF_VERSION || h.order != host_order())
        return lc_seterr(LOCUS_EINVAL, "array",
                         "ndbuf version %u, byte "
                         "order %u: not readable here",
                         h.version, h.order);
    if (!ndbuf_dtype_ok(h.dtype) || h.ndim > LOCUS_NDIM_MAX)
        return lc_seterr(LOCUS_EINVAL, "array",
                         "ndbuf with dtype %u, ndim "
                         "%u",
                         h.dtype, h.ndim);
    size_t need = locus_ndbuf_size(h.dtype, h.ndim, h.shape);
    if (!need || h.data_off != LOCUS_NDBUF_HEADER ||
        h.nbytes != need - LOCUS_NDBUF_HEADER || len < need)
        return lc_seterr(LOCUS_EINVAL, "array",
                         "malformed ndbuf: %zu "
                         "bytes, header says %llu data bytes at %llu",
                         len, (unsigned long long)h.nbytes,
                         (unsigned long long)h.data_off);
    size_t n = 0;
    ndbuf_count(h.ndim, h.shape, &n);
    describe(out, h.dtype, h.ndim, h.shape, n,
             (char *)bytes + LOCUS_NDBUF_HEADER);
    return 0;
}

double locus_ndview_get_f64(const locus_ndview *v, size_t i)
{
    if (!v || !v->data || i >= v->nelems)
        return 0.0;
    const char *p = (const char *)v->data + i * v->itemsize;
    switch (v->dtype) {
#define GET(code, T)                                                           \
    case code: {                                                               \
        T x;                                                                   \
        memcpy(&x, p, sizeof(x));                                              \
        return (double)x;                                                      \
    }
        GET(LOCUS_INT8, int8_t)
        GET(LOCUS_UINT8, uint8_t)
        GET(LOCUS_INT16, int16_t)
        GET(LOCUS_UINT16, uint16_t)
        GET(LOCUS_INT32, int32_t)
        GET(LOCUS_UINT32, uint32_t)
        GET(LOCUS_INT64, int64_t)
        GET(LOCUS_UINT64, uint64_t)
        GET(LOCUS_FLOAT32, float)
        GET(LOCUS_FLOAT64, double)
#undef GET
    default:
        return 0.0;
    }
}

int ndbuf_task_fail(locus_task *t, int code, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return locus_task_fail_code(t, code, "%s", msg);
}

int locus_task_arg_ndbuf(locus_task *t, size_t i, locus_ndview *out)
{
    lc_clearerr();
    const void *p;
    size_t n;
    if (!t || !out)
        return lc_seterr(LOCUS_EINVAL, "array",
                         "locus_task_arg_ndbuf: NULL "
                         "argument");
    int rc = locus_task_arg(t, i, &p, &n);
    if (!rc)
        rc = locus_ndbuf_view(p, n, out);
    if (rc)
        return ndbuf_task_fail(t, rc, "%s: argument %zu: %s",
                               locus_task_name(t), i, locus_last_error());
    return 0;
}

int locus_task_result_ndbuf(locus_task *t, int dtype, int ndim,
                            const int64_t *shape, locus_ndview *out)
{
    lc_clearerr();
    if (!t || !out)
        return lc_seterr(LOCUS_EINVAL, "array",
                         "locus_task_result_ndbuf: "
                         "NULL argument");
    size_t need = locus_ndbuf_size(dtype, ndim, shape);
    if (!need)
        return ndbuf_task_fail(t, LOCUS_EINVAL,
                               "%s: result of dtype %d, "
                               "ndim %d: invalid or too large",
                               locus_task_name(t), dtype, ndim);
    void *p = locus_task_result(t, need);
    if (!p)
        return ndbuf_task_fail(t, LOCUS_ENOMEM,
                               "%s: no memory for a result "
                               "of %zu bytes",
                               locus_task_name(t), need);
    return locus_ndbuf_init(p, need, dtype, ndim, shape, out);
}

/* ---- strided copy -------------------------------------------------------- */

static void copy_row(char *d, const char *s, int64_t sstep, int64_t n,
                     size_t isz)
{
    if (sstep == 1) {
        memcpy(d, s, (size_t)n * isz);
        return;
    }
    switch (isz) {
#define ROW(T)                                                                 \
    for (int64_t k = 0; k < n; k++)                                            \
        memcpy(d + (size_t)k * sizeof(T), s + k * sstep * (int64_t)sizeof(T),  \
               sizeof(T));                                                     \
    break;
    case 1:
        ROW(uint8_t)
    case 2:
        ROW(uint16_t)
    case 4:
        ROW(uint32_t)
    default:
        ROW(uint64_t)
#undef ROW
    }
}

void ndbuf_copy(locus_ndview *dst, const int64_t *dstart,
                const locus_ndview *src, const int64_t *sstart,
                const int64_t *sstep, const int64_t *count)
{
    int nd = src->ndim;
    size_t isz = src->itemsize;
    if (nd == 0) {
        memcpy(dst->data, src->data, isz);
        return;
    }
    for (int i = 0; i < nd; i++)
        if (count[i] <= 0)
            return;
    int64_t ds[LOCUS_NDIM_MAX], ss[LOCUS_NDIM_MAX], k[LOCUS_NDIM_MAX];
    ndbuf_strides(nd, dst->shape, ds);
    ndbuf_strides(nd, src->shape, ss);
    memset(k, 0, sizeof(k));
    int last = nd - 1;
    for (;;) {
        int64_t doff = 0, soff = 0;
        for (int i = 0; i < last; i++) {
            doff += (dstart[i] + k[i]) * ds[i];
            soff += (sstart[i] + k[i] * sstep[i]) * ss[i];
        }
        doff += dstart[last];
        soff += sstart[last];
        copy_row((char *)dst->data + doff * (int64_t)isz,
                 (const char *)src->data + soff * (int64_t)isz, sstep[last],
                 count[last], isz);
        int i = last - 1;
        for (; i >= 0; i--) {
            if (++k[i] < count[i])
                break;
            k[i] = 0;
        }
        if (i < 0)
            break;
    }
}

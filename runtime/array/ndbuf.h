/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ndbuf, the data object of arrays and HDF5 loads (private side; the
 * format is documented in include/locus/array.h).
 */
#ifndef LC_NDBUF_H
#define LC_NDBUF_H

#include <stddef.h>
#include <stdint.h>

#include "locus/array.h"

#define NDBUF_VERSION 1
#define NDBUF_LITTLE 1
#define NDBUF_BIG 2

typedef struct ndbuf_hdr {
    uint32_t magic;
    uint8_t version;
    uint8_t dtype;
    uint8_t ndim;
    uint8_t order;
    uint64_t data_off;
    uint64_t nbytes;
    int64_t shape[LOCUS_NDIM_MAX];
    uint8_t reserved[40];
} ndbuf_hdr;

_Static_assert(sizeof(ndbuf_hdr) == LOCUS_NDBUF_HEADER,
               "ndbuf header is 128 bytes");

static inline int ndbuf_dtype_ok(int dtype)
{
    return dtype >= LOCUS_INT8 && dtype <= LOCUS_FLOAT64;
}
static inline int ndbuf_is_float(int dtype)
{
    return dtype == LOCUS_FLOAT32 || dtype == LOCUS_FLOAT64;
}
static inline int ndbuf_is_signed(int dtype)
{
    return dtype == LOCUS_INT8 || dtype == LOCUS_INT16 ||
           dtype == LOCUS_INT32 || dtype == LOCUS_INT64;
}

/* Product of shape[0..ndim-1] into *n; -1 on a negative extent or
 * overflow of size_t. */
int ndbuf_count(int ndim, const int64_t *shape, size_t *n);

/* C-order strides, in elements. */
void ndbuf_strides(int ndim, const int64_t *shape, int64_t *strides);

/*
 * Copy a region: for every index k (0 <= k[i] < count[i]),
 * dst[dstart + k] = src[sstart + k * sstep].  Both views have the same
 * dtype and ndim; the caller has checked every bound.
 */
void ndbuf_copy(locus_ndview *dst, const int64_t *dstart,
                const locus_ndview *src, const int64_t *sstart,
                const int64_t *sstep, const int64_t *count);

/* Fail task t with code (not only LOCUS_ETASK) and a message; returns
 * code.  For the built-in tasks, whose callers test the code. */
int ndbuf_task_fail(locus_task *t, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Format shape as "(2, 3)" into buf. */
void ndbuf_shape_str(int ndim, const int64_t *shape, char *buf, size_t len);

#endif

/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tier: ndbuf, the data object of arrays (runtime/array/ndbuf.c, the
 * format in include/locus/array.h), in process: sizes and their overflow,
 * header round trips, a view refusing what is not an ndbuf, region copies.
 */
#include <criterion/criterion.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "array/ndbuf.h"
#include "locus.h"

TestSuite(unit_ndbuf, .timeout = 10);

Test(unit_ndbuf, dtypes_have_sizes_and_names)
{
    cr_expect_eq(locus_dtype_size(LOCUS_INT8), 1);
    cr_expect_eq(locus_dtype_size(LOCUS_UINT16), 2);
    cr_expect_eq(locus_dtype_size(LOCUS_FLOAT32), 4);
    cr_expect_eq(locus_dtype_size(LOCUS_FLOAT64), 8);
    cr_expect_eq(locus_dtype_size(0), 0);
    cr_expect_eq(locus_dtype_size(99), 0);
    cr_expect_str_eq(locus_dtype_name(LOCUS_FLOAT64), "float64");
    cr_expect_str_eq(locus_dtype_name(LOCUS_INT32), "int32");
    cr_expect_str_eq(locus_dtype_name(99), "?");
}

Test(unit_ndbuf, sizes_refuse_bad_shapes_and_overflow)
{
    int64_t s2[2] = {3, 4};
    cr_expect_eq(locus_ndbuf_size(LOCUS_FLOAT64, 2, s2),
                 LOCUS_NDBUF_HEADER + 3 * 4 * 8);
    cr_expect_eq(locus_ndbuf_size(LOCUS_INT8, 0, NULL), LOCUS_NDBUF_HEADER + 1,
                 "a 0-d ndbuf holds one element");
    int64_t neg[1] = {-1};
    cr_expect_eq(locus_ndbuf_size(LOCUS_INT8, 1, neg), 0);
    int64_t huge[2] = {INT64_MAX / 2, 4};
    cr_expect_eq(locus_ndbuf_size(LOCUS_FLOAT64, 2, huge), 0, "overflow");
    cr_expect_eq(locus_ndbuf_size(LOCUS_FLOAT64, LOCUS_NDIM_MAX + 1, s2), 0);
    cr_expect_eq(locus_ndbuf_size(42, 2, s2), 0, "unknown dtype");
    size_t n = 0;
    cr_expect_eq(ndbuf_count(2, s2, &n), 0);
    cr_expect_eq(n, 12);
    cr_expect_lt(ndbuf_count(1, neg, &n), 0);
    int64_t st[2];
    ndbuf_strides(2, s2, st);
    cr_expect(st[0] == 4 && st[1] == 1);
    char buf[32];
    ndbuf_shape_str(2, s2, buf, sizeof(buf));
    cr_expect_str_eq(buf, "(3, 4)");
}

Test(unit_ndbuf, header_round_trips_through_a_view)
{
    int64_t shape[3] = {2, 3, 5};
    size_t len = locus_ndbuf_size(LOCUS_INT32, 3, shape);
    void *b = malloc(len);
    cr_assert_not_null(b);
    locus_ndview v, w;
    cr_assert_eq(locus_ndbuf_init(b, len, LOCUS_INT32, 3, shape, &v), 0);
    int32_t *d = v.data;
    for (size_t i = 0; i < v.nelems; i++)
        d[i] = (int32_t)i - 7;
    cr_assert_eq(locus_ndbuf_view(b, len, &w), 0, "%s", locus_last_error());
    cr_expect_eq(w.dtype, LOCUS_INT32);
    cr_expect_eq(w.ndim, 3);
    cr_expect(w.shape[0] == 2 && w.shape[1] == 3 && w.shape[2] == 5);
    cr_expect_eq(w.nelems, 30);
    cr_expect_eq(w.itemsize, 4);
    cr_expect_eq(locus_ndview_get_f64(&w, 29), 22.0);
    cr_expect_eq(locus_ndbuf_init(b, len - 1, LOCUS_INT32, 3, shape, NULL),
                 LOCUS_ERANGE, "too small a buffer");
    free(b);
}

/* Whatever the bytes, a view says yes only to a whole, consistent ndbuf:
 * every truncation and every single-byte change of the header. */
Test(unit_ndbuf, a_view_refuses_what_is_not_an_ndbuf)
{
    int64_t shape[2] = {4, 4};
    size_t len = locus_ndbuf_size(LOCUS_FLOAT64, 2, shape);
    unsigned char *b = calloc(1, len);
    cr_assert_not_null(b);
    cr_assert_eq(locus_ndbuf_init(b, len, LOCUS_FLOAT64, 2, shape, NULL), 0);
    locus_ndview v;
    for (size_t cut = 0; cut < len; cut++)
        cr_assert_neq(locus_ndbuf_view(b, cut, &v), 0, "cut at %zu", cut);
    cr_expect_neq(locus_ndbuf_view(NULL, len, &v), 0);
    for (size_t i = 0; i < LOCUS_NDBUF_HEADER; i++) {
        unsigned char keep = b[i];
        b[i] ^= 0xff;
        int rc = locus_ndbuf_view(b, len, &v);
        if (rc == 0) /* a byte the format does not use: the view is sane */
            cr_assert(v.ndim == 2 && v.nelems == 16 && v.dtype == LOCUS_FLOAT64,
                      "byte %zu changed the meaning silently", i);
        b[i] = keep;
    }
    free(b);
}

Test(unit_ndbuf, region_copies_with_steps)
{
    int64_t s[2] = {4, 6}, d[2] = {2, 3};
    size_t ls = locus_ndbuf_size(LOCUS_INT64, 2, s);
    size_t ld = locus_ndbuf_size(LOCUS_INT64, 2, d);
    void *bs = malloc(ls), *bd = malloc(ld);
    cr_assert(bs && bd);
    locus_ndview vs, vd;
    cr_assert_eq(locus_ndbuf_init(bs, ls, LOCUS_INT64, 2, s, &vs), 0);
    cr_assert_eq(locus_ndbuf_init(bd, ld, LOCUS_INT64, 2, d, &vd), 0);
    int64_t *src = vs.data;
    for (int i = 0; i < 24; i++)
        src[i] = i;
    /* src[1::2, 0::2] -> rows 1, 3; columns 0, 2, 4 */
    int64_t dstart[2] = {0, 0}, sstart[2] = {1, 0}, step[2] = {2, 2},
            count[2] = {2, 3};
    ndbuf_copy(&vd, dstart, &vs, sstart, step, count);
    int64_t *dst = vd.data;
    int64_t want[6] = {6, 8, 10, 18, 20, 22};
    for (int i = 0; i < 6; i++)
        cr_expect_eq(dst[i], want[i], "element %d", i);
    free(bs);
    free(bd);
}

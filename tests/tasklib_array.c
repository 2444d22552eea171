/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Task library of the HDF5 and array tests (tests/test_h5.c,
 * tests/test_array.c): functions that take ndbuf chunks, loaded by the
 * workers as libtasklib_array.so.  Stateless, so thread-safe.
 */
#include <stdint.h>
#include <string.h>

#include "locus/array.h"
#include "locus/task.h"

int where_shape(locus_task *t);
int square_f64(locus_task *t);
int affine(locus_task *t);
int bad_shape(locus_task *t);
int make_block(locus_task *t);

/* where_shape(x) -> int64 [worker id, dtype, ndim, shape...]: the shape,
 * computed where x is (the tutorial's "bring the function to the data") */
int where_shape(locus_task *t)
{
    locus_ndview v;
    int rc = locus_task_arg_ndbuf(t, 0, &v);
    if (rc)
        return rc;
    int64_t out[3 + LOCUS_NDIM_MAX];
    out[0] = locus_task_worker_id(t);
    out[1] = v.dtype;
    out[2] = v.ndim;
    for (int i = 0; i < v.ndim; i++)
        out[3 + i] = v.shape[i];
    return locus_task_return(t, out, (size_t)(3 + v.ndim) * 8);
}

/* square_f64(x) -> float64 x*x, any input dtype */
int square_f64(locus_task *t)
{
    locus_ndview x, y;
    int rc = locus_task_arg_ndbuf(t, 0, &x);
    if (!rc)
        rc = locus_task_result_ndbuf(t, LOCUS_FLOAT64, x.ndim, x.shape, &y);
    if (rc)
        return rc;
    double *d = y.data;
    for (size_t i = 0; i < x.nelems; i++) {
        double v = locus_ndview_get_f64(&x, i);
        d[i] = v * v;
    }
    return 0;
}

/* affine(x float64, a f64, b f64) -> float64 a*x + b */
int affine(locus_task *t)
{
    locus_ndview x, y;
    double a, b;
    int rc = locus_task_arg_ndbuf(t, 0, &x);
    if (rc)
        return rc;
    if (x.dtype != LOCUS_FLOAT64)
        return locus_task_fail(t, "affine: float64 input expected");
    if (locus_task_arg_f64(t, 1, &a) || locus_task_arg_f64(t, 2, &b))
        return locus_task_fail(t, "affine: arguments a, b must be doubles");
    rc = locus_task_result_ndbuf(t, LOCUS_FLOAT64, x.ndim, x.shape, &y);
    if (rc)
        return rc;
    const double *s = x.data;
    double *d = y.data;
    for (size_t i = 0; i < x.nelems; i++)
        d[i] = a * s[i] + b;
    return 0;
}

/* bad_shape(x) -> a 1-element float64 array whatever x is */
int bad_shape(locus_task *t)
{
    locus_ndview y;
    int64_t one = 1;
    int rc = locus_task_result_ndbuf(t, LOCUS_FLOAT64, 1, &one, &y);
    if (!rc)
        ((double *)y.data)[0] = 42;
    return rc;
}

/* make_block(rows, cols, k) -> float64 (rows, cols), element (i, j) =
 * k * 1000000 + i * 1000 + j */
int make_block(locus_task *t)
{
    int64_t sh[2], k;
    if (locus_task_arg_i64(t, 0, &sh[0]) || locus_task_arg_i64(t, 1, &sh[1]) ||
        locus_task_arg_i64(t, 2, &k))
        return locus_task_fail(t, "make_block: three int64 arguments");
    locus_ndview y;
    int rc = locus_task_result_ndbuf(t, LOCUS_FLOAT64, 2, sh, &y);
    if (rc)
        return rc;
    double *d = y.data;
    for (int64_t i = 0; i < sh[0]; i++)
        for (int64_t j = 0; j < sh[1]; j++)
            d[i * sh[1] + j] = (double)(k * 1000000 + i * 1000 + j);
    return 0;
}

/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Task functions of the function_to_data example: a 2-D array of doubles
 * made on a worker, and its shape asked for where it lives.
 *
 * The array's bytes: int64 rows, int64 cols, then rows*cols doubles.
 */
#include <stdint.h>
#include <string.h>

#include <locus.h>

/* make_matrix(rows, cols) -> array filled with i*cols+j */
int make_matrix(locus_task *t)
{
    int64_t rows, cols;
    int rc = locus_task_arg_i64(t, 0, &rows);
    if (!rc)
        rc = locus_task_arg_i64(t, 1, &cols);
    if (rc)
        return rc;
    if (rows <= 0 || cols <= 0 || rows > (1 << 20) || cols > (1 << 20))
        return locus_task_fail(t, "make_matrix: bad shape %lldx%lld",
                               (long long)rows, (long long)cols);
    size_t n = (size_t)rows * (size_t)cols;
    uint8_t *out = locus_task_result(t, 16 + n * sizeof(double));
    if (!out)
        return locus_task_fail(t, "make_matrix: out of memory");
    memcpy(out, &rows, 8);
    memcpy(out + 8, &cols, 8);
    double *d = (double *)(out + 16);
    for (size_t i = 0; i < n; i++)
        d[i] = (double)i;
    return 0;
}

/* matrix_shape(array) -> two int64: rows, cols (16 bytes) */
int matrix_shape(locus_task *t)
{
    const void *p;
    size_t len;
    int rc = locus_task_arg(t, 0, &p, &len);
    if (rc)
        return rc;
    if (len < 16)
        return locus_task_fail(t,
                               "matrix_shape: argument of %zu bytes is not an "
                               "array",
                               len);
    return locus_task_return(t, p, 16);
}

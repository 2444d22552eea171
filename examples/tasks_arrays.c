/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Task functions of the hdf5_arrays example, as a task library that
 * workers load with locus_require().  They take ndbuf chunks (arrays with
 * their dtype and shape, see locus/array.h).
 */
#include <locus.h>

/* shape(x) -> int64 shape of the array x: the tutorial's
 * client.submit(lambda a: a.shape, futures[0]), run where x is */
int shape(locus_task *t)
{
    locus_ndview v;
    int rc = locus_task_arg_ndbuf(t, 0, &v);
    if (rc)
        return rc;
    return locus_task_return(t, v.shape, (size_t)v.ndim * sizeof(int64_t));
}

/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The HDF5 built-ins of a worker built with -DLOCUS_WITH_HDF5=OFF: every
 * "locus.h5.*" task fails saying why, instead of "not found".
 */
#include "base/base.h"
#include "h5/h5tasks.h"

static int no_hdf5(locus_task *t)
{
    return locus_task_fail(t, "this worker was built without HDF5: "
                              "reconfigure locus with -DLOCUS_WITH_HDF5=ON "
                              "(Debian: apt-get install libhdf5-dev)");
}

#define H5_DEF(name) {"locus.h5." #name, no_hdf5},
static const locus_task_def h5_defs[] = {H5_TASKS(H5_DEF)};
#undef H5_DEF

__attribute__((constructor)) static void h5_tasks_register(void)
{
    if (locus_task_register(h5_defs, sizeof(h5_defs) / sizeof(h5_defs[0])) != 0)
        lc_log(LC_LOG_ERROR, "h5", "built-ins not registered: %s",
               locus_last_error());
}

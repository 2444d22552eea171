/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The HDF5 built-ins where HDF5 is not linked: in liblocus.so (a client
 * never runs built-in tasks, so the client library needs no libhdf5) and
 * in every program when locus is configured with -DLOCUS_WITH_HDF5=OFF.
 * A "locus.h5.*" task then fails saying why, instead of "not found".
 */
#include <string.h>

#include "h5/h5tasks.h"

static int no_hdf5(locus_task *t)
{
    return locus_task_fail(t, "this worker was built without HDF5: "
                              "reconfigure locus with -DLOCUS_WITH_HDF5=ON "
                              "(Debian: apt-get install libhdf5-dev)");
}

locus_task_fn h5_builtin(const char *name)
{
    return name && !strncmp(name, "locus.h5.", 9) ? no_hdf5 : NULL;
}

/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * HDF5 built-in tasks ("locus.h5.*") run by workers (private).  The
 * worker programs link h5tasks.c (HDF5) or h5none.c (built without HDF5:
 * the same names fail saying so); either registers them
 * (locus_task_register) from a constructor.
 */
#ifndef LC_H5TASKS_H
#define LC_H5TASKS_H

#include "locus/task.h"

/* X(name): "locus.h5." #name */
#define H5_TASKS(X) X(load) X(info) X(shape) X(create) X(store)

#endif

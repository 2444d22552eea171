/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * HDF5 built-in tasks ("locus.h5.*") run by workers (private).
 */
#ifndef LC_H5TASKS_H
#define LC_H5TASKS_H

#include "locus/task.h"

/* The built-in named name, or NULL. */
locus_task_fn h5_builtin(const char *name);

#endif

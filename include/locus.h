/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * locus: a task runtime for HPC clusters.  Umbrella header.
 *
 *   locus/errors.h   error codes, locus_strerror, locus_last_error
 *   locus/client.h   connect, submit, map, gather, futures, scatter,
 *                    shutdown
 *   locus/task.h     what a task function sees on a worker
 *   locus/cluster.h  a local cluster started from a program
 */
#ifndef LOCUS_H
#define LOCUS_H

#include "locus/version.h"
#include "locus/errors.h"
#include "locus/client.h"
#include "locus/task.h"
#include "locus/cluster.h"
#include "locus/array.h"

#endif

/* SPDX-License-Identifier: BSD-3-Clause */
/* Local cluster internals shared with the locus-cluster tool (private). */
#ifndef LC_CLUSTER_INT_H
#define LC_CLUSTER_INT_H

#include <stddef.h>
#include <sys/types.h>

#include "locus/cluster.h"

/* Path of a locus program: $LOCUS_BINDIR, else next to the library or the
 * program running this code (installed: <libdir>/../bin; build tree:
 * build/tools), never a path compiled in. */
int cluster_find_program(const char *name, char *out, size_t len);
/* locus_local_cluster_start without clearing the caller's error state. */
int cluster_start(const struct locus_cluster_opts *opts, locus_cluster **out);
/* Pids of the scheduler and the workers; returns the number of workers. */
int cluster_pids(const locus_cluster *lc, int *sched, int *workers, int max);
/* Remove what a dead locus process (pid) left in /dev/shm: its arena
 * segments and libfabric's shm region.  Only for pids known to be gone. */
void cluster_reap_shm(pid_t pid);

/* Free the handle without stopping anything (locus-cluster start). */
void cluster_forget(locus_cluster *lc);

#endif

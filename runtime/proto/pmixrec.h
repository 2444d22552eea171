/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The scheduler record through PMIx (private): under a PMIx launcher
 * (Open MPI's mpirun, srun --mpi=pmix) the scheduler's record (the JSON of
 * the scheduler file: addresses, cluster key, job) goes through the
 * launcher instead of a file on a shared file system.
 *
 * A target "pmix:" or "pmix:R" names the record of the scheduler that runs
 * as rank R (default 0) of this process's PMIx namespace.  The scheduler
 * publishes it (PMIx_Publish, which a reader can wait for whether the
 * scheduler starts before or after it, and which later processes of the
 * same rank can look up again; and PMIx_Put + PMIx_Commit, for launchers
 * without a data server, read with PMIx_Get from rank R).  Readers look it
 * up with a deadline.  The record is readable by the processes of the
 * launcher's session only, as the 0600 file is by its owner.
 *
 * Threads: every call may be made from any thread.  PMIx is initialised
 * once, on first use, and finalised at exit (a process that initialised
 * it and dies otherwise is reported by the launcher as failed).
 *
 * Errors: 0 or a negative LOCUS_E* code, with locus_last_error() naming
 * the target and what to do.  LOCUS_ENOTSUP: built without PMIx
 * (LOCUS_WITH_PMIX=OFF), or not started by a PMIx launcher.  No call waits
 * longer than its deadline.
 */
#ifndef LC_PMIXREC_H
#define LC_PMIXREC_H

#include <stddef.h>

/* 1 when target names a PMIx record ("pmix:" or "pmix:R"), else 0. */
int pmixrec_is_target(const char *target);

/* Publish text (a NUL-terminated record) as target.  The caller must be
 * rank R of target.  Errors: LOCUS_EINVAL (bad target, or another rank),
 * LOCUS_EBUSY (a scheduler published target already), LOCUS_ENOTSUP,
 * LOCUS_EIO. */
int pmixrec_publish(const char *target, const char *text);

/* Look target up into *text (malloc'd, the caller frees it), waiting up
 * to wait_ms for it to be published (0: ask once).  Errors: LOCUS_ENOENT
 * (wait_ms 0 and none yet), LOCUS_ETIMEDOUT, LOCUS_EINVAL, LOCUS_ENOTSUP,
 * LOCUS_EIO. */
int pmixrec_lookup(const char *target, int wait_ms, char **text);

/* Withdraw target if this process published it; otherwise nothing. */
void pmixrec_withdraw(const char *target);

/* This process's PMIx namespace and its local rank (PMIX_LOCAL_RANK: its
 * index among the job's processes on this host): 0, or LOCUS_ENOTSUP /
 * LOCUS_ENOENT.  Either out-pointer may be NULL. */
int pmixrec_self(char *nspace, size_t len, int *local_rank);

#endif

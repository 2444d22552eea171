/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The scheduler file (private): how workers and clients find a scheduler.
 *
 * JSON, written atomically (temporary file + rename) with mode 0600 since it
 * holds the cluster key; carries a job-unique id so that a stale file from an
 * earlier run is told apart; removed by the scheduler at shutdown.
 */
#ifndef LC_SCHEDFILE_H
#define LC_SCHEDFILE_H

#include <stddef.h>
#include <stdint.h>

#include "proto/auth.h"
#include "xport.h"

typedef struct schedfile {
    char job_id[40]; /* this scheduler's run: unique */
    char job[128];   /* the launcher's job (SLURM_JOB_ID, the
                        PMIx namespace, $LOCUS_JOB_ID) or
                        "local-<random>"; "" in old files */
    uint8_t key[AUTH_KEY_LEN];
    char provider[64];             /* net provider */
    char net_addr[XPORT_NAME_MAX]; /* xport name of the net endpoint */
    char shm_addr[XPORT_NAME_MAX]; /* "" when the scheduler has no shm */
    char net_hostport[64];         /* "10.0.0.1:4242" of net_addr, for
                                      people; read back, never used */
    char host[256];
    int pid;
    int64_t started;     /* unix time */
    char dashboard[512]; /* dashboard URL (with its token); "" */
} schedfile;

/*
 * path is a file, or a PMIx target ("pmix:" or "pmix:R", proto/pmixrec.h):
 * under a PMIx launcher the same record goes through the launcher and no
 * file is written.
 */

/* Write path atomically, mode 0600.  An empty sf->job is filled from
 * schedfile_job_from_env(), or "local-" and the unique part of job_id when
 * no launcher is there; net_hostport is derived from net_addr. */
int schedfile_write(const char *path, const schedfile *sf);
/* Errors: LOCUS_ENOENT (no file), LOCUS_EPROTO (malformed, with the field),
 * LOCUS_EAUTH (readable by others: refuse to trust it). */
int schedfile_read(const char *path, schedfile *sf);
/* What schedfile_read waits for a PMIx record to be published. */
#define SCHEDFILE_PMIX_WAIT_MS 60000
/* schedfile_read, waiting up to wait_ms for a PMIx record (a file is read
 * once: callers poll for it); LOCUS_ETIMEDOUT when none was published. */
int schedfile_read_wait(const char *path, int wait_ms, schedfile *sf);
/* 1 when path is a PMIx target, not a file. */
int schedfile_is_pmix(const char *path);
/* Remove the file, or withdraw the PMIx record this process published. */
void schedfile_remove(const char *path);

/*
 * The job this process belongs to, into buf: $LOCUS_JOB_ID if set (set and
 * empty: none, no check), else $SLURM_JOB_ID, else the PMIx namespace
 * ($PMIX_NAMESPACE), else Open MPI's job id.  Returns 1 when a job was
 * found, 0 when none (buf is "").
 */
int schedfile_job_from_env(char *buf, size_t len);

/*
 * May a process of job expected_job (NULL or "": any) use this file?
 * LOCUS_EAUTH when the file belongs to another job (the message names both
 * ids); LOCUS_ECLOSED when the file is stale: its scheduler ran on this
 * host and its pid is gone.  Both are answered at once, never by a timeout.
 * A scheduler on another host is not probed here.
 */
int schedfile_check(const schedfile *sf, const char *path,
                    const char *expected_job);

#endif

/*
 * The scheduler file (private): how workers and clients find a scheduler.
 *
 * JSON, written atomically (temporary file + rename) with mode 0600 since it
 * holds the cluster key; carries a job-unique id so that a stale file from an
 * earlier run is told apart; removed by the scheduler at shutdown.
 */
#ifndef LC_SCHEDFILE_H
#define LC_SCHEDFILE_H

#include <stdint.h>

#include "proto/auth.h"
#include "xport.h"

typedef struct schedfile {
    char job_id[40];
    uint8_t key[AUTH_KEY_LEN];
    char provider[64];               /* net provider */
    char net_addr[XPORT_NAME_MAX];   /* xport name of the net endpoint */
    char shm_addr[XPORT_NAME_MAX];   /* "" when the scheduler has no shm */
    char host[256];
    int pid;
    int64_t started;                 /* unix time */
    char dashboard[512];             /* dashboard URL (with its token); "" */
} schedfile;

int schedfile_write(const char *path, const schedfile *sf);
/* Errors: LOCUS_ENOENT (no file), LOCUS_EPROTO (malformed, with the field),
 * LOCUS_EAUTH (readable by others: refuse to trust it). */
int schedfile_read(const char *path, schedfile *sf);

#endif

/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Test support: a real locus cluster for one test.
 *
 * lt_cluster_start() starts one with locus_local_cluster_start() in a fresh
 * private directory; lt_cluster_spawn_sched() / lt_cluster_spawn_worker()
 * start tools/locus-scheduler and tools/locus-worker by hand instead, with
 * any command-line options.  Either way a watchdog process (forked first,
 * before any fabric is opened) kills every daemon of the cluster if the
 * test process dies without stopping them (crash, Criterion timeout), so a
 * failed test never leaves daemons behind.  lt_cluster_stop() stops them,
 * prints their logs to stderr when asked (failed tests), and removes the
 * directory.
 *
 * The byte pattern of the test task library (tests/tasklib_test.c
 * includes this header for it) is here too.
 */
#ifndef LT_CLUSTER_H
#define LT_CLUSTER_H

#include <stdint.h>
#include <sys/types.h>
#include <time.h>

/* Byte i of the test pattern with seed: not periodic over 64 KiB, so a
 * misplaced chunk of a large transfer shows. */
static inline unsigned char lt_pattern(int64_t seed, uint64_t i)
{
    uint64_t x = i + (uint64_t)seed * 0x9e3779b97f4a7c15ull;
    return (unsigned char)((x * 131u) ^ (i >> 8) ^ (i >> 16) * 7u ^
                           (uint64_t)seed);
}

#ifndef LT_PATTERN_ONLY

#include "locus.h"

#define LT_MAX_PROCS 16

typedef struct lt_cluster {
    char *dir;         /* private directory: scheduler file, logs */
    char file[1024];   /* scheduler file */
    locus_cluster *lc; /* lt_cluster_start */
    pid_t sched;       /* lt_cluster_spawn_sched, else 0 */
    pid_t workers[LT_MAX_PROCS];
    int nworkers; /* spawned by hand */
    pid_t watchdog;
    int watch_fd;
    int nlogs;
    struct timespec t0; /* lt_cluster_init: later TSan reports are ours */
} lt_cluster;

/* Make the directory and the watchdog.  Call first, before any client. */
int lt_cluster_init(lt_cluster *c);

/* lt_cluster_init, then locus_local_cluster_start(opts) with opts->dir set
 * to the private directory when NULL.  0 or the LOCUS_E* code (message in
 * locus_last_error(), also printed). */
int lt_cluster_start(lt_cluster *c, const struct locus_cluster_opts *opts);

/* Start locus-scheduler --scheduler-file <dir>/scheduler.json plus args
 * (NULL-terminated, may be NULL) and wait until it wrote the file.  0, or
 * -1 (reason on stderr). */
int lt_cluster_spawn_sched(lt_cluster *c, const char *const *args,
                           int timeout_ms);
/* Start locus-worker --scheduler-file <file> plus args.  Returns its pid or
 * -1.  Joining is checked with lt_wait_workers. */
pid_t lt_cluster_spawn_worker(lt_cluster *c, const char *const *args);

/* The same inside network namespace ns (NULL: this one) with its own host
 * name (NULL: this one): "another host" for locus (see netns.h). */
int lt_cluster_spawn_sched_in(lt_cluster *c, const char *ns, const char *host,
                              const char *const *args, int timeout_ms);
pid_t lt_cluster_spawn_worker_in(lt_cluster *c, const char *ns,
                                 const char *host, const char *const *args);

/* Poll locus_workers until at least n workers are connected.  0 or -1. */
int lt_wait_workers(locus_client *cl, size_t n, int timeout_ms);

/* Stop everything (workers, then the scheduler), print the daemons' logs
 * to stderr if dump_logs (else only logs with a sanitizer report), remove
 * the directory, reset c.  Returns how many daemon logs hold an ASan,
 * LSan, UBSan or TSan report, plus (TSan build, tests/tsan_run.sh) how
 * many processes wrote a TSan report file since lt_cluster_init, printed
 * too; 0 when clean. */
int lt_cluster_stop(lt_cluster *c, int dump_logs);

/* For a suite's .fini: Criterion prints a failed assertion there but the
 * test still passes, so a daemon's sanitizer report found at teardown
 * (bad > 0) would fail nothing.  This prints it and aborts the test
 * process: Criterion counts a crash in teardown, and the binary exits 1. */
void lt_fini_check(int bad);

/* Print every *.log file of the cluster's directory to stderr. */
void lt_cluster_dump_logs(const lt_cluster *c);

/* Register every child process of the caller (but the watchdog): the
 * daemons a locus_local_cluster_start call spawned. */
void lt_cluster_watch_children(lt_cluster *c);

/* Register another process for the watchdog to kill if the test dies. */
void lt_cluster_watch(lt_cluster *c, pid_t pid);

#endif
#endif

/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The SPMD example (spmd.c) as the client rank of a launcher step: one
 * process waits for the scheduler and for N workers, maps the tutorial's
 * function over (30, 15, 2), prints the workers' pids, and stops the
 * cluster (locus_shutdown) so that every rank exits and the step ends,
 * also when the job failed.  Under srun --mpi=pmix or mpirun the
 * scheduler is pmix:0 and no file is needed.
 *
 *   spmd_job SCHEDULER_FILE NWORKERS TASK_LIBRARY
 */
#define _POSIX_C_SOURCE 200809L /* nanosleep */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <locus.h>

static int fail(const char *what, int rc)
{
    fprintf(stderr, "spmd_job: %s: %s (%s)\n", what, locus_last_error(),
            locus_strerror(rc));
    return 1;
}

/* Wait up to ms for n workers. */
static int wait_workers(locus_client *c, size_t n, int ms)
{
    struct timespec step = {0, 50 * 1000 * 1000};
    size_t have = 0;
    for (int waited = 0;; waited += 50) {
        int rc = locus_workers(c, NULL, 0, &have);
        if (rc)
            return fail("workers", rc);
        if (have >= n)
            return 0;
        if (waited >= ms)
            break;
        nanosleep(&step, NULL);
    }
    fprintf(stderr, "spmd_job: %zu of %zu workers joined in %d ms\n", have, n,
            ms);
    return 1;
}

static int run(locus_client *c, const char *lib)
{
    int rc = locus_require(c, lib, 10000);
    if (rc)
        return fail("require", rc);
    printf("Parent process id: %7d\n", (int)getpid());
    locus_arg in[3] = {locus_arg_i64(30), locus_arg_i64(15), locus_arg_i64(2)};
    locus_future *fs[3];
    rc = locus_map(c, "_f", in, 3, NULL, fs);
    if (rc)
        return fail("map", rc);
    locus_value v[3];
    rc = locus_gather(fs, 3, 20000, v);
    if (rc == 0) {
        printf("[");
        for (int i = 0; i < 3; i++) {
            int64_t pid;
            memcpy(&pid, v[i].data, sizeof(pid));
            printf("%s%lld", i ? ", " : "", (long long)pid);
        }
        printf("]\n");
    }
    for (int i = 0; i < 3; i++)
        locus_release(fs[i]);
    return rc ? fail("gather", rc) : 0;
}

int main(int argc, char **argv)
{
    char *end;
    long n = argc == 4 ? strtol(argv[2], &end, 10) : 0;
    if (argc != 4 || *end || n < 1 || n > 100000) {
        fprintf(stderr, "usage: spmd_job SCHEDULER_FILE NWORKERS "
                        "TASK_LIBRARY (NWORKERS from 1)\n");
        return 2;
    }
    locus_client *c;
    int rc = locus_connect(argv[1], NULL, &c);
    if (rc)
        return fail("connect", rc);
    int bad = wait_workers(c, (size_t)n, 60000);
    if (!bad)
        bad = run(c, argv[3]);
    fflush(stdout);
    /* whatever happened: the cluster stops, and with it the step */
    rc = locus_shutdown(c, 10000);
    if (rc)
        bad = fail("shutdown", rc);
    else
        printf("spmd_job: stopped the cluster\n");
    locus_disconnect(c);
    return bad;
}

/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A client job, as a separate process, for the churn tests of
 * tests/test_sessions.c:
 *
 *   helper_client_job SCHEDFILE TASKLIB N flat|tree [no-shm]
 *
 * Connects, requires TASKLIB, maps vec over 0..N-1 (results of 128 bytes),
 * then reduces them with sum_all: in one task over all N futures (flat) or
 * a fan-in tree of 8 (tree), releasing every input right after submitting
 * its consumer (legal: the data lives until its consumer ran).  Checks the
 * answer, disconnects (the goodbye must be confirmed).  Exit 0 when all of
 * it worked, 1 with the reason on stderr otherwise.  With "loop" among the
 * arguments after the mode, the map and reduction repeat, each answer
 * checked, until the process is killed (tests that kill a client in the
 * middle of its work: however fast the cluster, it is still working).
 *
 *   helper_client_job SCHEDFILE TASKLIB N die
 *
 * For tests/test_client_lifetime.c: a client that dies.  Waits for two
 * workers, makes N results of 2 MiB (make_bytes), waits until the workers
 * hold them, prints "held BYTES" (what the workers report) and exits with
 * no release and no disconnect.
 *
 *   helper_client_job SCHEDFILE TASKLIB N exit MS
 *
 * For tests/test_faults.c: a program that calls exit() in the middle of
 * its job.  Maps vec over 0..N-1, waits MS milliseconds (its progress
 * thread sending the SUBMITs and reading the RESULTs meanwhile) and calls
 * exit(0) with no release and no disconnect.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cluster.h"
#include "locus.h"

#define FAIL(...)                                                              \
    do {                                                                       \
        fprintf(stderr, "helper_client_job: " __VA_ARGS__);                    \
        fprintf(stderr, ": %s\n", locus_last_error());                         \
        return 1;                                                              \
    } while (0)

/* the "die" mode: make the data, see it held, exit without a goodbye */
static int die(locus_client *c, long n)
{
    if (lt_wait_workers(c, 2, 30000) != 0)
        FAIL("two workers did not join");
    locus_future **fs = calloc((size_t)n, sizeof(*fs));
    for (long i = 0; i < n; i++) {
        locus_arg a[2] = {locus_arg_i64(2 * 1024 * 1024), locus_arg_i64(i)};
        int rc = locus_submit(c, "make_bytes", a, 2, NULL, &fs[i]);
        if (rc)
            FAIL("submit make_bytes: %s", locus_errname(rc));
    }
    int rc = locus_wait(fs, (size_t)n, 30000);
    if (rc)
        FAIL("wait: %s", locus_errname(rc));
    uint64_t sum = 0;
    for (int k = 0; k < 100; k++) {
        locus_worker_info w[4];
        size_t have = 0;
        sum = 0;
        if (locus_workers(c, w, 4, &have) == 0)
            for (size_t i = 0; i < have && i < 4; i++)
                sum += w[i].bytes_held;
        if (sum >= (uint64_t)n * 2 * 1024 * 1024)
            break;
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    printf("held %llu\n", (unsigned long long)sum);
    fflush(stdout);
    _exit(0); /* no release, no disconnect */
}

/* the "exit" mode: exit() from main while the job is on the wire */
static int exit_mid_job(locus_client *c, long n, long ms)
{
    locus_arg *in = calloc((size_t)n, sizeof(*in));
    locus_future **fs = calloc((size_t)n, sizeof(*fs));
    for (long i = 0; i < n; i++)
        in[i] = locus_arg_i64(i);
    int rc = locus_map(c, "vec", in, (size_t)n, NULL, fs);
    if (rc)
        FAIL("map: %s", locus_errname(rc));
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
    exit(0);
}

static int job(locus_client *c, long n, int tree)
{
    int rc;
    locus_arg *in = calloc((size_t)n, sizeof(*in));
    locus_future **fs = calloc((size_t)n, sizeof(*fs));
    for (long i = 0; i < n; i++)
        in[i] = locus_arg_i64(i);
    if ((rc = locus_map(c, "vec", in, (size_t)n, NULL, fs)) != 0)
        FAIL("map: %s", locus_errname(rc));
    long level = n;
    while (level > 1 || (!tree && level == n)) {
        long fan = tree ? 8 : level;
        long next = (level + fan - 1) / fan;
        for (long g = 0; g < next; g++) {
            long lo = g * fan, hi = lo + fan < level ? lo + fan : level;
            for (long i = lo; i < hi; i++)
                in[i - lo] = locus_arg_future(fs[i]);
            locus_future *s;
            if ((rc = locus_submit(c, "sum_all", in, (size_t)(hi - lo), NULL,
                                   &s)) != 0)
                FAIL("submit sum_all: %s", locus_errname(rc));
            for (long i = lo; i < hi; i++)
                locus_release(fs[i]); /* early: its consumer holds it */
            fs[g] = s;
        }
        level = next;
        if (!tree)
            break;
    }
    int64_t got;
    if ((rc = locus_result_i64(fs[0], 60000, &got)) != 0)
        FAIL("result: %s (%s)", locus_errname(rc),
             locus_future_error(fs[0]) ? locus_future_error(fs[0]) : "");
    int64_t want = 16 * (int64_t)n * (n - 1) / 2 + 120 * (int64_t)n;
    locus_release(fs[0]);
    free(in);
    free(fs);
    if (got != want) {
        fprintf(stderr, "helper_client_job: sum %lld, expected %lld\n",
                (long long)got, (long long)want);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: helper_client_job SCHEDFILE TASKLIB N "
                        "flat|tree|die|exit [no-shm] [loop] [MS]\n");
        return 1;
    }
    long n = strtol(argv[3], NULL, 10);
    int tree = !strcmp(argv[4], "tree");
    struct locus_connect_opts o = LOCUS_CONNECT_OPTS_INIT;
    o.timeout_ms = 30000;
    int loop = 0;
    for (int i = 5; i < argc; i++) {
        if (!strcmp(argv[i], "no-shm"))
            o.flags |= LOCUS_CONNECT_NO_SHM;
        loop |= !strcmp(argv[i], "loop");
    }
    locus_client *c;
    int rc = locus_connect(argv[1], &o, &c);
    if (rc)
        FAIL("connect: %s", locus_errname(rc));
    if ((rc = locus_require(c, argv[2], 30000)) != 0)
        FAIL("require: %s", locus_errname(rc));
    if (!strcmp(argv[4], "die"))
        return die(c, n);
    if (!strcmp(argv[4], "exit"))
        return exit_mid_job(c, n, argc > 5 ? strtol(argv[5], NULL, 10) : 0);
    do
        if (job(c, n, tree) != 0)
            return 1;
    while (loop);
    if ((rc = locus_disconnect(c)) != 0) {
        fprintf(stderr, "helper_client_job: disconnect: %s: %s\n",
                locus_errname(rc), locus_last_error());
        return 1;
    }
    return 0;
}

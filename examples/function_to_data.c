/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Bring the function to the data (the tutorial's futures[0].result().shape
 * versus client.submit(lambda a: a.shape, futures[0]).result()).
 *
 * A 100x100 array of doubles is made on a worker.  "Slow": fetch the whole
 * array to the client and read its shape here.  "Fast": send a shape task to
 * the worker that holds the array; only the 16-byte answer comes back.
 *
 *   function_to_data SCHEDULER_FILE TASK_LIBRARY [ROWS COLS]
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <locus.h>

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int fail(const char *what, int rc)
{
    fprintf(stderr, "function_to_data: %s: %s (%s)\n", what, locus_last_error(),
            locus_strerror(rc));
    return 1;
}

int main(int argc, char **argv)
{
    if (argc != 3 && argc != 5) {
        fprintf(stderr, "usage: function_to_data SCHEDULER_FILE "
                        "TASK_LIBRARY [ROWS COLS]\n");
        return 2;
    }
    int64_t rows = argc == 5 ? atoll(argv[3]) : 100;
    int64_t cols = argc == 5 ? atoll(argv[4]) : 100;
    locus_client *c;
    int rc = locus_connect(argv[1], NULL, &c);
    if (rc)
        return fail("connect", rc);
    if ((rc = locus_require(c, argv[2], 10000)))
        return fail("require", rc);

    locus_arg shape_args[2] = {locus_arg_i64(rows), locus_arg_i64(cols)};
    locus_future *a;
    if ((rc = locus_submit(c, "make_matrix", shape_args, 2, NULL, &a)) ||
        (rc = locus_result(a, 30000, NULL, NULL)))
        return fail("make_matrix", rc);
    int where;
    size_t n;
    locus_who_has(a, &where, 1, &n);
    printf("array of %lldx%lld doubles made on worker %d\n", (long long)rows,
           (long long)cols, where);

    /* slow: the data comes to the function */
    double t0 = now_us();
    const void *bytes;
    size_t len;
    if ((rc = locus_result(a, 30000, &bytes, &len)))
        return fail("fetch", rc);
    int64_t shp[2];
    memcpy(shp, bytes, sizeof(shp));
    double slow = now_us() - t0;
    printf("slow: fetched the array, shape (%lld, %lld): %8.1f us, %zu bytes "
           "moved to the client\n",
           (long long)shp[0], (long long)shp[1], slow, len);

    /* fast: the function goes to the data */
    t0 = now_us();
    locus_arg arg = locus_arg_future(a);
    locus_future *s;
    if ((rc = locus_submit(c, "matrix_shape", &arg, 1, NULL, &s)) ||
        (rc = locus_result(s, 30000, &bytes, &len)))
        return fail("matrix_shape", rc);
    memcpy(shp, bytes, sizeof(shp));
    double fast = now_us() - t0;
    locus_who_has(s, &where, 1, &n);
    printf("fast: shape task ran on worker %d, shape (%lld, %lld): %8.1f us, "
           "%zu bytes moved to the client\n",
           where, (long long)shp[0], (long long)shp[1], fast, len);

    locus_worker_info wi[64];
    size_t nw = 0;
    struct timespec hb = {0, 600 * 1000 * 1000}; /* counters ride heartbeats */
    nanosleep(&hb, NULL);
    if (locus_workers(c, wi, 64, &nw) == 0) {
        unsigned long long moved = 0;
        for (size_t i = 0; i < nw && i < 64; i++)
            moved += wi[i].bytes_mapped + wi[i].bytes_rma + wi[i].bytes_inline;
        printf("bytes moved between workers: %llu\n", moved);
    }
    locus_release(s);
    locus_release(a);
    return locus_disconnect(c) ? 1 : 0;
}

/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * SPMD: one function mapped over inputs (the tutorial's client.map(_f,
 * (30, 15, 2)) and ipyparallel's load-balanced map_async).
 *
 *   spmd SCHEDULER_FILE TASK_LIBRARY
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <locus.h>

static int fail(const char *what, int rc)
{
    fprintf(stderr, "spmd: %s: %s (%s)\n", what, locus_last_error(),
            locus_strerror(rc));
    return 1;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: spmd SCHEDULER_FILE TASK_LIBRARY\n");
        return 2;
    }
    locus_client *c;
    int rc = locus_connect(argv[1], NULL, &c);
    if (rc)
        return fail("connect", rc);
    rc = locus_require(c, argv[2], 10000);
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
    if (rc)
        return fail("gather", rc);
    printf("[");
    for (int i = 0; i < 3; i++) {
        int64_t pid;
        memcpy(&pid, v[i].data, sizeof(pid));
        printf("%s%lld", i ? ", " : "", (long long)pid);
    }
    printf("]\n");
    for (int i = 0; i < 3; i++)
        locus_release(fs[i]);
    return locus_disconnect(c) ? 1 : 0;
}

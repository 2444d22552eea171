/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * MPMD: different functions submitted one by one, then gathered (the
 * tutorial's client.submit(_f1, 1) ... client.gather(futurelist)).
 *
 *   mpmd SCHEDULER_FILE TASK_LIBRARY
 */
#include <stdio.h>
#include <string.h>

#include <locus.h>

static int fail(const char *what, int rc)
{
    fprintf(stderr, "mpmd: %s: %s (%s)\n", what, locus_last_error(),
            locus_strerror(rc));
    return 1;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: mpmd SCHEDULER_FILE TASK_LIBRARY\n");
        return 2;
    }
    locus_client *c;
    int rc = locus_connect(argv[1], NULL, &c);
    if (rc)
        return fail("connect", rc);
    rc = locus_require(c, argv[2], 10000);
    if (rc)
        return fail("require", rc);

    const char *fns[3] = {"_f1", "_f2", "_f3"};
    locus_future *futurelist[3];
    locus_arg one = locus_arg_i64(1);
    for (int i = 0; i < 3; i++) {
        rc = locus_submit(c, fns[i], &one, 1, NULL, &futurelist[i]);
        if (rc)
            return fail("submit", rc);
    }
    locus_value v[3];
    rc = locus_gather(futurelist, 3, 10000, v);
    if (rc)
        return fail("gather", rc);
    printf("[");
    for (int i = 0; i < 3; i++) {
        int64_t x;
        memcpy(&x, v[i].data, sizeof(x));
        printf("%s%lld", i ? ", " : "", (long long)x);
    }
    printf("]\n");
    for (int i = 0; i < 3; i++)
        locus_release(futurelist[i]);
    return locus_disconnect(c) ? 1 : 0;
}

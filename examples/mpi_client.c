/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A simulation code as a locus client: every MPI rank connects to the same
 * locus cluster, hands its share of the work to the workers as tasks
 * (locus_map of _f1, "add one", over its own inputs), and the ranks combine
 * the results with MPI as they would any other partial sums.
 *
 *   mpirun -np R mpi_client SCHEDULER_FILE TASK_LIBRARY [N_PER_RANK]
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <locus.h>

static int fail(int rank, const char *what, int rc)
{
    fprintf(stderr, "mpi_client rank %d: %s: %s (%s)\n", rank, what,
            locus_last_error(), locus_strerror(rc));
    MPI_Abort(MPI_COMM_WORLD, 1);
    return 1;
}

int main(int argc, char **argv)
{
    int rank, size;
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (argc < 3 || argc > 4) {
        if (rank == 0)
            fprintf(stderr, "usage: mpi_client SCHEDULER_FILE TASK_LIBRARY "
                            "[N_PER_RANK]\n");
        MPI_Finalize();
        return 2;
    }
    char *end;
    long n = argc == 4 ? strtol(argv[3], &end, 10) : 8;
    if ((argc == 4 && *end) || n < 1 || n > 100000) {
        if (rank == 0)
            fprintf(stderr, "mpi_client: N_PER_RANK '%s' must be 1..100000\n",
                    argv[3]);
        MPI_Finalize();
        return 2;
    }

    locus_client *c;
    int rc = locus_connect(argv[1], NULL, &c);
    if (rc)
        return fail(rank, "connect", rc);
    rc = locus_require(c, argv[2], 10000);
    if (rc)
        return fail(rank, "require", rc);

    /* this rank's inputs: rank*n .. rank*n + n-1 */
    locus_arg *in = calloc((size_t)n, sizeof(*in));
    locus_future **fs = calloc((size_t)n, sizeof(*fs));
    locus_value *v = calloc((size_t)n, sizeof(*v));
    if (!in || !fs || !v)
        return fail(rank, "calloc", LOCUS_ENOMEM);
    for (long i = 0; i < n; i++)
        in[i] = locus_arg_i64(rank * n + i);
    rc = locus_map(c, "_f1", in, (size_t)n, NULL, fs);
    if (rc)
        return fail(rank, "map", rc);
    rc = locus_gather(fs, (size_t)n, 30000, v);
    if (rc)
        return fail(rank, "gather", rc);
    long long mine = 0;
    for (long i = 0; i < n; i++) {
        int64_t x;
        memcpy(&x, v[i].data, sizeof(x));
        mine += x;
        locus_release(fs[i]);
    }
    rc = locus_disconnect(c);
    if (rc)
        return fail(rank, "disconnect", rc);

    long long total = 0;
    MPI_Reduce(&mine, &total, 1, MPI_LONG_LONG, MPI_SUM, 0, MPI_COMM_WORLD);
    if (rank == 0) {
        long long all = (long long)size * n;
        long long want = all * (all - 1) / 2 + all; /* sum of k+1, k < all */
        printf("mpi_client: %d ranks, %lld tasks, sum %lld (expected %lld)\n",
               size, all, total, want);
        rc = total == want ? 0 : 1;
    }
    MPI_Bcast(&rc, 1, MPI_INT, 0, MPI_COMM_WORLD);
    free(in);
    free(fs);
    free(v);
    MPI_Finalize();
    return rc;
}

/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * HDF5 load-and-sum benchmark.  The dataset is int64 0..n-1 so that the
 * sum, n(n-1)/2, checks the run exactly.  Bytes between workers come from
 * the client's view of the task graph (array_last_stats: an input on
 * another worker than its task is fetched whole), because the workers do
 * not report byte counters yet.
 */
#include "bench/bench.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "array/array_int.h"
#include "base/base.h"
#include "client/client_order.h"

#define CHUNK_BYTES (64ull << 20)
#define T_MS (10 * 60 * 1000)

static double secs(uint64_t t0)
{
    return (double)(lc_now_ns() - t0) / 1e9;
}

static double gib(uint64_t b)
{
    return (double)b / (double)(1ull << 30);
}

/* Bytes that reached tasks from another worker, summed over the workers
   (their counters ride heartbeats: wait for one first). */
static uint64_t moved_between_workers(locus_client *c)
{
    struct timespec hb = {0, 700 * 1000 * 1000};
    nanosleep(&hb, NULL);
    locus_worker_info wi[256];
    size_t n = 0;
    uint64_t sum = 0;
    if (locus_workers(c, wi, 256, &n) == 0)
        for (size_t i = 0; i < n && i < 256; i++)
            sum += wi[i].bytes_mapped + wi[i].bytes_rma + wi[i].bytes_inline;
    return sum;
}

int bench_h5_sum(const char *sched_file, FILE *out)
{
    uint64_t bytes = 1ull << 30;
    const char *e = getenv("LOCUS_BENCH_H5_BYTES");
    if (e && *e) {
        char *end;
        unsigned long long v = strtoull(e, &end, 0);
        if (*end || v < 8) {
            fprintf(out,
                    "# HDF5 load-and-sum: LOCUS_BENCH_H5_BYTES=%s is "
                    "not a size of at least 8 bytes\n",
                    e);
            return LOCUS_EINVAL;
        }
        bytes = v;
    }
    return bench_h5_sum_n(sched_file, out, bytes);
}

int bench_h5_sum_n(const char *sched_file, FILE *out, uint64_t bytes)
{
    locus_client *c = NULL;
    locus_array *src = NULL, *a = NULL, *s = NULL, *s2 = NULL;
    int *ids = NULL;
    char dir[4096] = "", file[4200] = "";
    void *res = NULL;
    size_t reslen, nw = 0;
    int rc, made_dir = 0;
    if (!out || bytes < 8)
        return lc_seterr(LOCUS_EINVAL, "array",
                         "bench_h5_sum_n: bad "
                         "arguments");
    struct locus_connect_opts co = LOCUS_CONNECT_OPTS_INIT;
    co.timeout_ms = T_MS;
    LC_CHECK_RC(locus_connect(sched_file, &co, &c), done, rc);
    LC_CHECK_RC(client_worker_order(c, &ids, &nw), done, rc);

    const char *base = getenv("LOCUS_BENCH_DIR");
    if (!base || !*base)
        base = getenv("TMPDIR");
    snprintf(dir, sizeof(dir), "%s/locus-bench-h5-XXXXXX",
             base && *base ? base : "/tmp");
    LC_CHECK(mkdtemp(dir), done, rc, LOCUS_ESYS, "array",
             "bench: mkdtemp %s: %s", dir, strerror(errno));
    made_dir = 1;
    snprintf(file, sizeof(file), "%s/sum.h5", dir);

    int64_t n = (int64_t)(bytes / 8);
    /* 64 MiB chunks, and at least two per worker */
    int64_t chunk = (int64_t)(CHUNK_BYTES / 8);
    if ((uint64_t)n / (uint64_t)chunk < 2 * nw)
        chunk = (n + (int64_t)(2 * nw) - 1) / (int64_t)(2 * nw);
    if (chunk < 1)
        chunk = 1;
    int64_t nchunks = (n + chunk - 1) / chunk;
    fprintf(out,
            "\n# HDF5 load-and-sum: int64 dataset of %.2f GiB (%lld "
            "elements), %lld chunks of %.1f MiB, %zu worker%s\n",
            gib((uint64_t)n * 8), (long long)n, (long long)nchunks,
            (double)chunk * 8 / (1 << 20), nw, nw == 1 ? "" : "s");

    /* the workers write it, one chunk after another */
    uint64_t t0 = lc_now_ns();
    LC_CHECK_RC(locus_array_arange(c, n, chunk, &src), done, rc);
    LC_CHECK_RC(
        locus_array_store_hdf5(src, file, "/x", LOCUS_H5_TRUNCATE, T_MS), done,
        rc);
    double tw = secs(t0);
    locus_array_free(src);
    src = NULL;
    fprintf(out,
            "# %s written by the workers in %.3f s (%.2f GiB/s; "
            "generated, then stored chunk by chunk)\n",
            file, tw, gib((uint64_t)n * 8) / tw);

    /* load and sum: one lazy graph, computed once */
    uint64_t moved0 = moved_between_workers(c);
    t0 = lc_now_ns();
    LC_CHECK_RC(locus_array_from_hdf5(c, file, "/x", &chunk, 0, &a), done, rc);
    LC_CHECK_RC(locus_array_reduce(a, LOCUS_SUM, -1, &s), done, rc);
    LC_CHECK_RC(locus_array_compute(s, T_MS, &res, &reslen), done, rc);
    double tls = secs(t0);
    locus_ndview v;
    LC_CHECK_RC(locus_ndbuf_view(res, reslen, &v), done, rc);
    int64_t sum = *(const int64_t *)v.data;
    uint64_t un = (uint64_t)n;
    int64_t want =
        (int64_t)(un % 2 ? un * ((un - 1) / 2) : (un / 2) * (un - 1));
    array_stats st;
    array_last_stats(s, &st);
    uint64_t moved = moved_between_workers(c) - moved0;

    /* the same sum again: the chunks are loaded, only partials run */
    t0 = lc_now_ns();
    double again;
    LC_CHECK_RC(locus_array_reduce(a, LOCUS_SUM, -1, &s2), done, rc);
    LC_CHECK_RC(locus_array_compute_f64(s2, T_MS, &again), done, rc);
    double ts = secs(t0);

    fprintf(out, "%-22s %10s %10s\n", "step", "seconds", "GiB/s");
    fprintf(out, "%-22s %10.3f %10.2f\n", "load+sum (cold graph)", tls,
            gib((uint64_t)n * 8) / tls);
    fprintf(out, "%-22s %10.3f %10.2f\n", "sum of loaded chunks", ts,
            gib((uint64_t)n * 8) / ts);
    fprintf(out, "# result %lld, expected %lld: %s\n", (long long)sum,
            (long long)want, sum == want ? "exact" : "WRONG");
    fprintf(out,
            "# tasks %zu; task inputs already on the task's worker: "
            "%zu; inputs moved between workers: %zu, %llu bytes "
            "(partial sums only: %s); bytes fetched by the client: "
            "%llu\n",
            st.tasks, st.local_inputs, st.remote_inputs,
            (unsigned long long)st.remote_bytes,
            st.remote_bytes <= st.remote_inputs * (LOCUS_NDBUF_HEADER + 8)
                ? "yes"
                : "NO",
            (unsigned long long)st.client_bytes);
    fprintf(out,
            "# workers' own counters: %llu bytes reached tasks from "
            "another worker during load+sum (mapped, RMA or inline).  "
            "The file was just written: it is read from the page "
            "cache.\n",
            (unsigned long long)moved);
    fprintf(out, "# chunks per worker:");
    for (size_t w = 0; w < nw; w++) {
        int cnt = 0;
        for (size_t i = 0; i < locus_array_nchunks(a); i++) {
            locus_future *f;
            int where = -1;
            size_t k;
            if (locus_array_chunk_future(a, i, &f) == 0) {
                locus_who_has(f, &where, 1, &k);
                locus_release(f);
            }
            cnt += where == ids[w];
        }
        fprintf(out, " worker %d: %d%s", ids[w], cnt, w + 1 < nw ? "," : "\n");
    }
    if (sum != want)
        rc = lc_seterr(LOCUS_EIO, "array", "bench: sum %lld, expected %lld",
                       (long long)sum, (long long)want);
done:
    if (rc)
        fprintf(out, "# HDF5 load-and-sum failed: %s (%s)\n",
                locus_last_error(), locus_errname(rc));
    free(res);
    locus_array_free(src);
    locus_array_free(s2);
    locus_array_free(s);
    locus_array_free(a);
    free(ids);
    if (c)
        locus_disconnect(c);
    if (made_dir) {
        unlink(file);
        rmdir(dir);
    }
    return rc;
}

/*
 * The --h5 section: bench_h5_sum (size from $LOCUS_BENCH_H5_BYTES,
 * default 1 GiB) on a local cluster of 2 workers x 1 thread.
 */
int bench_h5(FILE *out)
{
    struct clus k;
    bench_note("cluster: 2 workers x 1 thread, HDF5 load-and-sum");
    /* two workers, so that what moves between workers shows */
    int rc = bench_clus_start(2, 1, 0, &k);
    if (rc) {
        fprintf(
            stderr,
            "locus-bench: cannot start the local cluster for --h5: %s (%s)\n",
            locus_last_error(), locus_errname(rc));
        bench_clus_stop(&k);
        return rc;
    }
    fprintf(out, "\n# HDF5 load-and-sum (bench_h5_sum); cluster %s\n", k.desc);
    fflush(out);
    locus_disconnect(k.c); /* bench_h5_sum connects its own client */
    k.c = NULL;
    rc = bench_h5_sum(locus_cluster_scheduler_file(k.lc), out);
    if (rc)
        fprintf(out, "# HDF5 load-and-sum failed: %s (%s)\n",
                locus_last_error(), locus_errname(rc));
    bench_clus_stop(&k);
    return rc;
}

/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * HDF5 load-and-sum benchmark, beside one python3 process of h5py and
 * numpy reading and summing the same file.  The dataset is int64 0..n-1 so
 * that the sum, n(n-1)/2, checks the run (and h5py's) exactly.  Bytes between
 * workers come from the client's view of the task graph (array_last_stats: an
 * input on another worker than its task is fetched whole), because the workers
 * do not report byte counters yet.
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

int bench_h5_sum(const char *sched_file, FILE *out, json_object *js)
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
    return bench_h5_sum_n(sched_file, out, bytes, js);
}

/* ---- h5py beside it --------------------------------------------------- */

/* One python3 process: open, read the whole dataset, sum it, timed from
   inside python; prints "SUM SECONDS". */
static const char py_sum[] =
    "import sys, time, h5py, numpy\n"
    "t0 = time.perf_counter()\n"
    "with h5py.File(sys.argv[1], 'r') as f:\n"
    "    s = int(f[sys.argv[2]][()].sum(dtype=numpy.int64))\n"
    "t1 = time.perf_counter()\n"
    "print(s, repr(t1 - t0))\n";

/* The python that runs h5py: $LOCUS_BENCH_PYTHON, else python3 on PATH,
   else Debian's /usr/bin/python3 (where python3-h5py installs) when the
   first has no h5py (a pyenv or venv python ahead on PATH); have_h5py
   picks. */
static const char *py_pick;

static char *python(void)
{
    const char *e = getenv("LOCUS_BENCH_PYTHON");
    if (e && *e)
        return (char *)e;
    return (char *)(py_pick ? py_pick : "python3");
}

/* The last line of s that is not empty, at most len - 1 bytes of it. */
static void last_line(const char *s, char *out, size_t len)
{
    const char *end = s + strlen(s);
    while (end > s && (end[-1] == '\n' || end[-1] == ' '))
        end--;
    const char *b = end;
    while (b > s && b[-1] != '\n')
        b--;
    snprintf(out, len, "%.*s", (int)(end - b), b);
}

/* h5py and numpy can be imported: 1 with their versions in ver, else 0
   with why in ver. */
static int have_h5py(char *ver, size_t len)
{
    for (int i = 0;; i++) {
        char buf[4096];
        char *argv[] = {python(), "-c",
                        "import h5py, numpy; "
                        "print('h5py', h5py.__version__, 'numpy', "
                        "numpy.__version__)",
                        NULL};
        int st = bench_capture(argv, 60000, buf, sizeof(buf));
        if (st == 0 || i == 0)
            last_line(buf, ver, len); /* the first one's failure is named */
        if (st == 0)
            return 1;
        const char *e = getenv("LOCUS_BENCH_PYTHON");
        if (i > 0 || (e && *e) || access("/usr/bin/python3", X_OK) != 0) {
            py_pick = NULL;
            return 0;
        }
        py_pick = "/usr/bin/python3";
    }
}

/* Seconds of h5py + numpy reading and summing /x of file, and the sum;
   0 or -1 with why in err. */
static int h5py_sum(const char *file, double *secs, long long *sum, char *err,
                    size_t errlen)
{
    char buf[4096];
    char *argv[] = {python(), "-c", (char *)py_sum, (char *)file, "/x", NULL};
    int st = bench_capture(argv, T_MS, buf, sizeof(buf));
    if (st == 0 && sscanf(buf, "%lld %lf", sum, secs) == 2 && *secs > 0)
        return 0;
    char why[512];
    last_line(buf, why, sizeof(why));
    snprintf(err, errlen, "%s + h5py: exit %d: %s", python(), st, why);
    return -1;
}

/* ---- the benchmark ---------------------------------------------------- */

int bench_h5_sum_n(const char *sched_file, FILE *out, uint64_t bytes,
                   json_object *js)
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
    uint64_t nbytes = (uint64_t)n * 8;
    /* 64 MiB chunks, and at least two per worker */
    int64_t chunk = (int64_t)(CHUNK_BYTES / 8);
    if ((uint64_t)n / (uint64_t)chunk < 2 * nw)
        chunk = (n + (int64_t)(2 * nw) - 1) / (int64_t)(2 * nw);
    if (chunk < 1)
        chunk = 1;
    int64_t nchunks = (n + chunk - 1) / chunk;
    int runs = bench_cfg.runs > 0 ? bench_cfg.runs : 1;
    fprintf(out,
            "\n# HDF5 load-and-sum: int64 dataset of %.2f GiB (%lld "
            "elements), %lld chunks of %.1f MiB, %zu worker%s%s\n",
            gib(nbytes), (long long)n, (long long)nchunks,
            (double)chunk * 8 / (1 << 20), nw, nw == 1 ? "" : "s",
            bench_runs_note());
    bench_jint(js, "dataset_bytes", (int64_t)nbytes);
    bench_jint(js, "elements", n);
    bench_jint(js, "chunks", nchunks);
    bench_jint(js, "chunk_bytes", chunk * 8);
    bench_jint(js, "workers", (int64_t)nw);
    bench_jint(js, "runs", runs);

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
            file, tw, gib(nbytes) / tw);
    bench_jnum(js, "write_s", 1, tw);

    char pyver[256], pyerr[600] = "";
    int py = have_h5py(pyver, sizeof(pyver));
    uint64_t un = (uint64_t)n;
    int64_t want =
        (int64_t)(un % 2 ? un * ((un - 1) / 2) : (un / 2) * (un - 1));
    int64_t sum = 0;
    long long pysum = 0;
    int pysum_ok = 1;
    double tls[BENCH_MAX_RUNS], ts[BENCH_MAX_RUNS], tpy[BENCH_MAX_RUNS];
    json_object *jr = bench_jarr(js, "per_run");
    array_stats st;
    uint64_t moved = 0;
    int done_runs = 0;
    /* run after run: locus, then h5py on the same file (page cache) */
    for (int r = 0; r < runs && !bench_stop; r++) {
        if (r > 0) { /* the previous run's graph: this one starts cold */
            locus_array_free(s2);
            locus_array_free(s);
            locus_array_free(a);
            free(res);
            s2 = s = a = NULL;
            res = NULL;
        }
        if (runs > 1)
            bench_note("  HDF5 load-and-sum, run %d of %d", r + 1, runs);
        /* load and sum: one lazy graph, computed once */
        uint64_t moved0 = moved_between_workers(c);
        t0 = lc_now_ns();
        LC_CHECK_RC(locus_array_from_hdf5(c, file, "/x", &chunk, 0, &a), done,
                    rc);
        LC_CHECK_RC(locus_array_reduce(a, LOCUS_SUM, -1, &s), done, rc);
        LC_CHECK_RC(locus_array_compute(s, T_MS, &res, &reslen), done, rc);
        tls[r] = secs(t0);
        locus_ndview v;
        LC_CHECK_RC(locus_ndbuf_view(res, reslen, &v), done, rc);
        sum = *(const int64_t *)v.data;
        array_last_stats(s, &st);
        moved = moved_between_workers(c) - moved0;

        /* the same sum again: the chunks are loaded, only partials run */
        t0 = lc_now_ns();
        double again;
        LC_CHECK_RC(locus_array_reduce(a, LOCUS_SUM, -1, &s2), done, rc);
        LC_CHECK_RC(locus_array_compute_f64(s2, T_MS, &again), done, rc);
        ts[r] = secs(t0);
        done_runs = r + 1;
        json_object *x = bench_jobj(jr, NULL);
        bench_jnum(x, "load_sum_s", 1, tls[r]);
        bench_jnum(x, "sum_loaded_s", 1, ts[r]);
        if (sum != want)
            break;

        if (py && !pyerr[0]) {
            long long ps;
            if (h5py_sum(file, &tpy[r], &ps, pyerr, sizeof(pyerr)) == 0) {
                pysum_ok &= ps == (long long)sum;
                pysum = ps;
            }
        }
        bench_jnum(x, "h5py_s", py && !pyerr[0], tpy[r]);
    }
    LC_CHECK(done_runs > 0, done, rc, LOCUS_ECANCELED, "array",
             "bench: interrupted");

    double mls = bench_median(tls, done_runs);
    double mts = bench_median(ts, done_runs);
    int have_py_fig = py && !pyerr[0];
    double mpy = have_py_fig ? bench_median(tpy, done_runs) : 0;
    fprintf(out, "%-22s %10s %10s\n", "step", "seconds", "GiB/s");
    fprintf(out, "%-22s %10.3f %10.2f\n", "load+sum (cold graph)", mls,
            gib(nbytes) / mls);
    fprintf(out, "%-22s %10.3f %10.2f\n", "sum of loaded chunks", mts,
            gib(nbytes) / mts);
    if (have_py_fig)
        fprintf(out, "%-22s %10.3f %10.2f\n", "h5py+numpy, 1 process", mpy,
                gib(nbytes) / mpy);
    fprintf(out, "# result %lld, expected %lld: %s\n", (long long)sum,
            (long long)want, sum == want ? "exact" : "WRONG");
    if (have_py_fig)
        fprintf(out,
                "# h5py: one %s process (%s), "
                "h5py.File + dataset[()] + numpy sum, timed inside python "
                "with time.perf_counter; sum %lld: %s; locus load+sum takes "
                "%.2f x h5py's time\n",
                python(), pyver, pysum,
                pysum_ok ? "the same as locus's" : "DIFFERENT", mls / mpy);
    else if (!py)
        fprintf(out,
                "# h5py is not installed (%s -c 'import h5py, numpy': "
                "%s): the comparison with h5py was not made; apt-get install "
                "python3-h5py (or set LOCUS_BENCH_PYTHON to a python that "
                "has h5py and numpy)\n",
                python(), pyver[0] ? pyver : "no output");
    else
        fprintf(out, "# the comparison with h5py was not made: %s\n", pyerr);
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
    bench_jnum(js, "load_sum_s", 1, mls);
    bench_jnum(js, "load_sum_gib_per_s", 1, gib(nbytes) / mls);
    bench_jnum(js, "sum_loaded_s", 1, mts);
    bench_jnum(js, "sum_loaded_gib_per_s", 1, gib(nbytes) / mts);
    bench_jint(js, "result", sum);
    bench_jint(js, "expected", want);
    bench_jbool(js, "exact", sum == want);
    bench_jint(js, "tasks", (int64_t)st.tasks);
    bench_jint(js, "local_inputs", (int64_t)st.local_inputs);
    bench_jint(js, "remote_inputs", (int64_t)st.remote_inputs);
    bench_jint(js, "remote_input_bytes", (int64_t)st.remote_bytes);
    bench_jint(js, "client_bytes", (int64_t)st.client_bytes);
    bench_jint(js, "moved_between_workers_bytes", (int64_t)moved);
    json_object *jp = bench_jobj(js, "h5py");
    bench_jbool(jp, "available", py);
    bench_jbool(jp, "compared", have_py_fig);
    bench_jstr(jp, py ? "versions" : "not_available_because", pyver);
    bench_jstr(jp, "python", python());
    bench_jstr(jp, "error", pyerr[0] ? pyerr : NULL);
    bench_jstr(jp, "hint", py ? NULL : "apt-get install python3-h5py");
    bench_jnum(jp, "seconds", have_py_fig, mpy);
    bench_jnum(jp, "gib_per_s", have_py_fig, gib(nbytes) / mpy);
    if (have_py_fig)
        bench_jint(jp, "sum", pysum);
    bench_jbool(jp, "sum_matches", have_py_fig && pysum_ok);
    bench_jnum(jp, "ratio_locus_load_sum_to_h5py", have_py_fig, mls / mpy);
    fprintf(out, "# chunks per worker:");
    json_object *jc = bench_jobj(js, "chunks_per_worker");
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
        char key[32];
        snprintf(key, sizeof(key), "%d", ids[w]);
        bench_jint(jc, key, cnt);
    }
    if (sum != want)
        rc = lc_seterr(LOCUS_EIO, "array", "bench: sum %lld, expected %lld",
                       (long long)sum, (long long)want);
    else if (have_py_fig && !pysum_ok)
        rc = lc_seterr(LOCUS_EIO, "array",
                       "bench: h5py's sum %lld differs from locus's %lld",
                       pysum, (long long)sum);
    else if (pyerr[0])
        rc = lc_seterr(LOCUS_EIO, "array", "bench: %s", pyerr);
done:
    if (rc)
        fprintf(out, "# HDF5 load-and-sum failed: %s (%s)\n",
                locus_last_error(), locus_errname(rc));
    bench_jbool(js, "ok", rc == 0);
    bench_jstr(js, "error", rc ? locus_last_error() : NULL);
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
    json_object *js = bench_section("h5");
    bench_jstr(js, "cluster", k.desc);
    rc = bench_h5_sum(locus_cluster_scheduler_file(k.lc), out, js);
    bench_clus_stop(&k);
    return rc;
}

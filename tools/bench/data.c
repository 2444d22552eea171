/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * locus-bench: data figures.  Worker B consumes an object made on worker A:
 * on one host (mapped from A's arena) and across two hosts made of network
 * namespaces (fi_read from A's registered arena), beside fi_pingpong's
 * bandwidth on the same link.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/base.h"
#include "bench/bench.h"
#include "bench/netns.h"
#include "client/cluster_int.h"

/* ======================================================================
 * Data benchmarks.  Each prints one table to out in the format of the
 * others ("# title" line, header, rows) and returns 0 or 1.  Clusters are
 * started with bench_clus_start() (recorded for clean-up on ^C or error) and
 * stopped with bench_clus_stop().
 * ====================================================================== */

/* ---- data hand-off and transfer -------------------------------------------
 */

/* Median round trip (us) of fn(args) restricted to worker w, reps times;
   the futures of the consumer are released each time. */
static int timed_on(locus_client *c, int w, const char *fn,
                    const locus_arg *args, size_t nargs, int reps, double *med)
{
    uint64_t t[32];
    if (reps > 32)
        reps = 32;
    struct locus_submit_opts o = LOCUS_SUBMIT_OPTS_INIT;
    o.workers = &w;
    o.nworkers = 1;
    for (int i = 0; i < reps; i++) {
        locus_future *f = NULL;
        uint64_t t0 = lc_now_ns();
        int rc = locus_submit(c, fn, args, nargs, &o, &f);
        if (!rc)
            rc = locus_result(f, TASK_TIMEOUT_MS, NULL, NULL);
        t[i] = lc_now_ns() - t0;
        locus_release(f);
        if (rc)
            return rc;
    }
    double p99;
    bench_percentiles(t, reps, med, &p99); /* in us */
    return 0;
}

/* Counters of worker id (they ride heartbeats: wait for one first). */
static int counters_of(locus_client *c, int id, locus_worker_info *out)
{
    struct timespec hb = {0, 700 * 1000 * 1000};
    nanosleep(&hb, NULL);
    locus_worker_info wi[16];
    size_t n = 0;
    int rc = locus_workers(c, wi, 16, &n);
    for (size_t i = 0; !rc && i < n && i < 16; i++)
        if (wi[i].id == id) {
            *out = wi[i];
            return 0;
        }
    return rc ? rc : LOCUS_ENOENT;
}

/* One hand-off of size bytes from worker a to worker b: the median round
   trip (us) of reps consumers, and the bytes per hand-off by path. */
struct handoff {
    double t;
    int reps;
    unsigned long long mapped, rma, copied;
};

static int handoff_once(locus_client *c, int a, int b, uint64_t size,
                        struct handoff *h)
{
    struct locus_submit_opts o = LOCUS_SUBMIT_OPTS_INIT;
    o.workers = &a;
    o.nworkers = 1;
    locus_arg mk[2] = {locus_arg_i64(0), locus_arg_i64((int64_t)(size / 8))};
    locus_future *obj = NULL;
    int rc = locus_submit(c, "locus.array.arange", mk, 2, &o, &obj);
    if (!rc)
        rc = locus_result(obj, TASK_TIMEOUT_MS, NULL, NULL);
    locus_worker_info before, after;
    if (!rc)
        rc = counters_of(c, b, &before);
    locus_arg in = locus_arg_future(obj);
    h->reps = size > (256u << 20) ? 3 : 7;
    /* first use moves the data; later ones find it mapped or fetch
       again (no cache of copies): time every one, take the median */
    if (!rc)
        rc = timed_on(c, b, "locus.nbytes", &in, 1, h->reps, &h->t);
    if (!rc)
        rc = counters_of(c, b, &after);
    locus_release(obj);
    if (rc)
        return rc;
    unsigned r = (unsigned)h->reps;
    h->mapped = (after.bytes_mapped - before.bytes_mapped) / r;
    h->rma = (after.bytes_rma - before.bytes_rma) / r;
    h->copied = (after.bytes_inline - before.bytes_inline) / r;
    return 0;
}

/* The raw reference of one run, GB/s (0: no figure). */
typedef double (*raw_gbs_fn)(void *ctx);

#define MAX_SIZES 8

/*
 * For each size: an object made on worker A (locus.array.arange, restricted
 * to A), then a task on worker B that takes it as input and touches nothing
 * (locus.nbytes): its round trip minus a locus.noop round trip on B is the
 * hand-off time; B's counters say how the bytes came.  bench_cfg.runs
 * runs, each the raw reference (raw, when not NULL) and then every size;
 * the table gives the medians over runs; *ref_out the raw one (0: none).
 */
static int bench_handoff_sizes(FILE *out, json_object *js, locus_client *c,
                               int a, int b, const uint64_t *sizes, int nsizes,
                               const char *what, raw_gbs_fn raw, void *raw_ctx,
                               const char *ref_what, double *ref_out)
{
    static double t[MAX_SIZES][BENCH_MAX_RUNS];
    double noops[BENCH_MAX_RUNS], raws[BENCH_MAX_RUNS];
    struct handoff h[MAX_SIZES];
    int runs = bench_cfg.runs, done = 0, nraw = 0, rc = 0;
    if (nsizes > MAX_SIZES)
        nsizes = MAX_SIZES;
    for (int r = 0; r < runs && !bench_stop && !rc; r++) {
        if (runs > 1)
            bench_note("  run %d of %d", r + 1, runs);
        if (raw) {
            double g = raw(raw_ctx);
            if (g > 0)
                raws[nraw++] = g;
        }
        rc = timed_on(c, b, "locus.noop", NULL, 0, 21, &noops[r]);
        for (int i = 0; i < nsizes && !bench_stop && !rc; i++) {
            rc = handoff_once(c, a, b, sizes[i], &h[i]);
            t[i][r] = h[i].t;
        }
        done = rc || bench_stop ? done : r + 1;
    }
    if (rc)
        return rc;
    if (!done)
        return lc_seterr(LOCUS_ECANCELED, "bench", "interrupted");
    double noop = bench_median(noops, done);
    double ref_gbs = nraw ? bench_median(raws, nraw) : 0;
    bench_jnum(js, "noop_round_trip_us", 1, noop);
    bench_jstr(js, "path", what);
    bench_jint(js, "runs", done);
    bench_jstr(js, "raw", raw ? ref_what : NULL);
    json_object *jraw = raw ? bench_jarr(js, "raw_gb_per_s_runs") : NULL;
    for (int r = 0; r < nraw; r++)
        bench_jpush_num(jraw, 1, raws[r]);
    json_object *jsz = bench_jarr(js, "sizes");
    fprintf(out, "%-10s %12s %10s %12s %12s %12s %10s\n", "size", "hand-off us",
            "GB/s", "mapped B", "RMA read B", "copied B",
            ref_gbs > 0 ? "of raw" : "");
    for (int i = 0; i < nsizes; i++) {
        json_object *j = bench_jobj(jsz, NULL);
        json_object *jr = bench_jarr(j, "runs_round_trip_median_us");
        for (int r = 0; r < done; r++)
            bench_jpush_num(jr, 1, t[i][r]);
        double tm = bench_median(t[i], done);
        double us = tm - noop, gbs = 0;
        char ratio[32] = "", tus[32], tgbs[32];
        if (us < 1.0) {
            /* within the noise of a no-op round trip: nothing to time */
            snprintf(tus, sizeof(tus), "< noise");
            snprintf(tgbs, sizeof(tgbs), "-");
        } else {
            gbs = (double)sizes[i] / (us * 1e3);
            snprintf(tus, sizeof(tus), "%.1f", us);
            snprintf(tgbs, sizeof(tgbs), "%.2f", gbs);
            if (ref_gbs > 0)
                snprintf(ratio, sizeof(ratio), "%9.0f%%",
                         100.0 * gbs / ref_gbs);
        }
        /* bytes: the last run's (every run moves the same) */
        fprintf(out, "%7.0f MiB %12s %10s %12llu %12llu %12llu %10s\n",
                (double)sizes[i] / (1 << 20), tus, tgbs, h[i].mapped, h[i].rma,
                h[i].copied, ratio);
        bench_jint(j, "bytes", (int64_t)sizes[i]);
        bench_jint(j, "repetitions", h[i].reps);
        bench_jnum(j, "round_trip_median_us", 1, tm);
        /* null: within the noise of a no-op round trip */
        bench_jnum(j, "handoff_us", us >= 1.0, us);
        bench_jnum(j, "gb_per_s", us >= 1.0, gbs);
        bench_jint(j, "mapped_bytes", (int64_t)h[i].mapped);
        bench_jint(j, "rma_read_bytes", (int64_t)h[i].rma);
        bench_jint(j, "copied_bytes", (int64_t)h[i].copied);
        bench_jnum(j, "percent_of_raw", us >= 1.0 && ref_gbs > 0,
                   100.0 * gbs / (ref_gbs > 0 ? ref_gbs : 1));
    }
    fprintf(out,
            "# %s; hand-off = median round trip of "
            "locus.nbytes(object) on B minus that of locus.noop on B "
            "(%.1f us); bytes per hand-off from B's counters%s%s\n",
            what, noop, ref_gbs > 0 ? "; raw: " : "",
            ref_gbs > 0 ? ref_what : "");
    if (raw && nraw < done)
        fprintf(out, "# raw: %d of %d runs gave no figure (see stderr)\n",
                done - nraw, done);
    *ref_out = ref_gbs;
    return 0;
}

int bench_handoff(FILE *out)
{
    struct clus k;
    int rc = bench_clus_start(2, 1, 0, &k);
    if (rc) {
        fprintf(out, "# same-host hand-off: cluster failed: %s\n",
                locus_last_error());
        json_object *js = bench_section("handoff");
        bench_jbool(js, "ok", 0);
        bench_jstr(js, "error", locus_last_error());
        bench_clus_stop(&k);
        return 1;
    }
    locus_worker_info wi[4];
    size_t n = 0;
    rc = locus_workers(k.c, wi, 4, &n);
    if (!rc && n < 2)
        rc = LOCUS_ENOWORKERS;
    static const uint64_t sizes[] = {1u << 20, 64u << 20, 256u << 20, 1u << 30};
    /* reference: copying the same bytes once in this process */
    size_t big = (size_t)1 << 28;
    char *src = malloc(big), *dst = malloc(big);
    double copy_gbs = 0;
    if (src && dst) {
        memset(src, 1, big);
        memset(dst, 2, big);
        uint64_t t0 = lc_now_ns();
        memcpy(dst, src, big);
        __asm__ __volatile__("" : : "r"(dst) : "memory"); /* keep the copy */
        copy_gbs = (double)big / (double)(lc_now_ns() - t0);
        if (dst[big / 2] != 1)
            copy_gbs = 0;
    }
    free(src);
    free(dst);
    fprintf(out,
            "\n# same-host hand-off: worker B consumes an object made on "
            "worker A (2 workers x 1 thread, one host)%s\n",
            bench_runs_note());
    json_object *js = bench_section("handoff");
    bench_jstr(js, "cluster", k.desc);
    bench_jnum(js, "memcpy_256mib_gb_per_s", copy_gbs > 0, copy_gbs);
    if (!rc)
        rc = bench_handoff_sizes(out, js, k.c, wi[0].id, wi[1].id, sizes, 4,
                                 "mapped read-only from A's arena: zero copies",
                                 NULL, NULL, NULL, &(double){0});
    if (copy_gbs > 0)
        fprintf(out,
                "# for scale: copying 256 MiB once in this process "
                "(memcpy) takes %.0f us (%.2f GB/s); a hand-off copies "
                "nothing\n",
                (double)big / copy_gbs / 1e3, copy_gbs);
    if (rc)
        fprintf(out, "# same-host hand-off failed: %s\n", locus_last_error());
    bench_jbool(js, "ok", rc == 0);
    bench_jstr(js, "error", rc ? locus_last_error() : NULL);
    bench_clus_stop(&k);
    return rc != 0;
}
/* ---- cross-host: two network namespaces joined by a veth pair -------- */

/* The figure of a line of fi_pingpong's table (bytes #sent #ack total
   time MB/sec usec/xfer ...), MB/s; 0 when it is not one. */
static double fi_pingpong_row(const char *line)
{
    char a[64], b[64], c[64], d[64], e[64];
    double mbs;
    if (sscanf(line, "%63s %63s %63s %63s %63s %lf", a, b, c, d, e, &mbs) != 6)
        return 0;
    return mbs > 0 ? mbs : 0;
}

/* The MB/s of fi_pingpong's client client in ns 0 (its last row), or 0
   when it printed none within timeout_ms, with why in why. */
static double fi_pingpong_client(const bench_netns *ns, char *const client[],
                                 int timeout_ms, char *why, size_t whylen)
{
    char *full[64], out[8192];
    double mbs = 0;
    snprintf(why, whylen, "no output");
    if (bench_netns_argv(ns, 0, NULL, client, full, 64) < 0)
        return 0;
    int st = bench_capture(full, timeout_ms, out, sizeof(out));
    char *save = NULL;
    for (char *l = strtok_r(out, "\n", &save); l;
         l = strtok_r(NULL, "\n", &save)) {
        double row = fi_pingpong_row(l);
        if (row > 0)
            mbs = row;
        else
            snprintf(why, whylen, "%.*s", (int)whylen - 1, l);
    }
    if (mbs == 0 && st > 0)
        snprintf(why + strlen(why), whylen - strlen(why), " (exit %d)", st);
    return mbs;
}

/* fi_pingpong's bandwidth for size bytes from ns 0 to ns 1, MB/s; 0 when
   it gave none (not installed, or no figure in FIP_TRIES tries). */
#define FIP_TRIES 3
#define FIP_CLIENT_MS 25000
static double fi_pingpong_mbs(const bench_netns *ns, const char *size)
{
    char *server[] = {"fi_pingpong", "-p",         "tcp", "-e", "rdm",
                      "-S",          (char *)size, "-I",  "20", NULL};
    char *client[] = {
        "fi_pingpong", "-p",         "tcp", "-e", "rdm",
        "-S",          (char *)size, "-I",  "20", (char *)ns->addr[1],
        NULL};
    double mbs = 0;
    /* on a loaded 2-core host a client sometimes prints nothing and does
       not end (3 quick runs in 8, the cause not found): then both are
       stopped and started again, a few times */
    for (int t = 1; t <= FIP_TRIES && mbs == 0 && !bench_stop; t++) {
        pid_t sp = bench_netns_spawn(ns, 1, NULL, server, NULL);
        if (sp < 0)
            return 0;
        struct timespec ts = {0, 500 * 1000 * 1000}; /* the server listens */
        nanosleep(&ts, NULL);
        char why[256];
        mbs = fi_pingpong_client(ns, client, FIP_CLIENT_MS, why, sizeof(why));
        bench_netns_stop(sp, 1000);
        if (mbs == 0)
            bench_note("fi_pingpong, try %d of %d: no figure: %s", t, FIP_TRIES,
                       why);
    }
    return mbs;
}

/* The raw reference of a transfer run: fi_pingpong's 64 MiB figure on the
   link between the namespaces ctx, GB/s. */
static double fi_pingpong_gbs(void *ctx)
{
    return fi_pingpong_mbs(ctx, "67108864") / 1000.0;
}

/* rm -r of the run's directory: files, no subdirectories */
static void remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (d) {
        for (struct dirent *de; (de = readdir(d));) {
            char p[PATH_MAX];
            if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") &&
                snprintf(p, sizeof(p), "%s/%s", dir, de->d_name) <
                    (int)sizeof(p))
                unlink(p);
        }
        closedir(d);
    }
    rmdir(dir);
}

int bench_transfer(FILE *out)
{
    char why[256];
    json_object *js = bench_section("transfer");
    if (!bench_netns_available(why, sizeof(why))) {
        fprintf(out,
                "\n# cross-host transfer: skipped (%s to make two hosts out "
                "of network namespaces)\n",
                why);
        bench_jbool(js, "skipped", 1);
        bench_jstr(js, "skipped_because", why);
        return 0;
    }
    bench_jbool(js, "skipped", 0);
    bench_netns ns;
    int rc = 0;
    char dir[] = "/tmp/locus-bench-xh-XXXXXX";
    pid_t pids[3] = {0, 0, 0};
    locus_client *c = NULL;
    int self_ns = -1;
    bench_jbool(js, "ok", 0); /* replaced at the end */
    if (!mkdtemp(dir)) {
        fprintf(out, "\n# cross-host transfer: mkdtemp %s: %s\n", dir,
                strerror(errno));
        bench_jstr(js, "error", "mkdtemp failed");
        return 1;
    }
    if (bench_netns_create(&ns, "10.252.9") != 0) {
        fprintf(out, "\n# cross-host transfer: cannot create namespaces\n");
        bench_jstr(js, "error", "cannot create namespaces");
        remove_dir(dir);
        return 1;
    }
    /* host 0: scheduler and worker A; host 1 ("lcbhost1"): worker B */
    char file[128], log[160], sched[1024], worker[1024];
    snprintf(file, sizeof(file), "%s/scheduler.json", dir);
    if (cluster_find_program("locus-scheduler", sched, sizeof(sched)) ||
        cluster_find_program("locus-worker", worker, sizeof(worker))) {
        fprintf(out, "\n# cross-host transfer: %s\n", locus_last_error());
        bench_jstr(js, "error", locus_last_error());
        bench_netns_destroy(&ns);
        remove_dir(dir);
        return 1;
    }
    char *sargv[] = {sched,    "--scheduler-file", file,
                     "--bind", (char *)ns.addr[0], NULL};
    char *aargv[] = {worker,
                     "--scheduler-file",
                     file,
                     "--bind",
                     (char *)ns.addr[0],
                     "--nthreads",
                     "1",
                     NULL};
    char *bargv[] = {worker,
                     "--scheduler-file",
                     file,
                     "--bind",
                     (char *)ns.addr[1],
                     "--nthreads",
                     "1",
                     NULL};
    char **argvs[3] = {sargv, aargv, bargv};
    for (int i = 0; i < 3; i++) {
        snprintf(log, sizeof(log), "%s/p%d.log", dir, i);
        pids[i] = bench_netns_spawn(&ns, i == 2, i == 2 ? "lcbhost1" : NULL,
                                    argvs[i], log);
        for (int w = 0; i == 0 && w < 200 && access(file, F_OK) != 0; w++) {
            struct timespec ts = {0, 20 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
    }
    /* this thread (and the client's progress thread it starts) on host 0 */
    if (bench_netns_enter(&ns, 0, &self_ns) != 0)
        rc = lc_seterr(LOCUS_ESYS, "bench", "setns into %s: %s", ns.name[0],
                       strerror(errno));
    struct locus_connect_opts co = LOCUS_CONNECT_OPTS_INIT;
    co.bind = ns.addr[0];
    co.timeout_ms = CLUSTER_TIMEOUT_MS;
    if (!rc)
        rc = locus_connect(file, &co, &c);
    locus_worker_info wi[4];
    size_t n = 0;
    for (int tries = 0; !rc && tries < 300; tries++) {
        rc = locus_workers(c, wi, 4, &n);
        if (rc || n >= 2)
            break;
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    if (!rc && n < 2)
        rc = lc_seterr(LOCUS_ENOWORKERS, "bench",
                       "only %zu workers joined "
                       "(logs in %s)",
                       n, dir);
    fprintf(out,
            "\n# cross-host transfer over tcp;ofi_rxm: worker B (host "
            "lcbhost1) consumes an object made on worker A (host %s), "
            "two network namespaces joined by a veth pair%s\n",
            lc_hostname(), bench_runs_note());
    if (!rc) {
        int a = strcmp(wi[0].host, "lcbhost1") ? wi[0].id : wi[1].id;
        int b = a == wi[0].id ? wi[1].id : wi[0].id;
        static const uint64_t sizes[] = {1u << 20, 64u << 20, 256u << 20};
        char what[160];
        snprintf(what, sizeof(what), "fi_read from A's registered arena");
        bench_jstr(js, "provider", "tcp;ofi_rxm");
        double raw = 0;
        rc = bench_handoff_sizes(out, js, c, a, b, sizes, 3, what,
                                 fi_pingpong_gbs, &ns,
                                 "fi_pingpong -p tcp -e rdm -S 64m bandwidth "
                                 "on the same link, same run",
                                 &raw);
        if (!rc && raw > 0)
            fprintf(out, "# fi_pingpong 64 MiB on this link: %.2f GB/s%s\n",
                    raw, bench_runs_note());
        else if (!rc)
            fprintf(out, "# fi_pingpong 64 MiB on this link: no figure (it "
                         "did not run or printed none; see stderr)\n");
        /* null: fi_pingpong did not run or printed no figure */
        bench_jnum(js, "fi_pingpong_64mib_gb_per_s", raw > 0, raw);
    }
    if (rc)
        fprintf(out, "# cross-host transfer failed: %s\n", locus_last_error());
    bench_jbool(js, "ok", rc == 0);
    bench_jstr(js, "error", rc ? locus_last_error() : NULL);
    if (c)
        locus_disconnect(c);
    for (int i = 2; i >= 0; i--)
        bench_netns_stop(pids[i], 5000);
    if (self_ns >= 0 && bench_netns_leave(self_ns) != 0)
        fprintf(stderr, "locus-bench: cannot return to the host "
                        "namespace\n");
    bench_netns_destroy(&ns);
    remove_dir(dir);
    return rc != 0;
}

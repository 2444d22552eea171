/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * locus-bench: task figures.
 *
 *   task round trip   locus_submit + locus_result of locus.noop, one at a
 *                     time, on a local cluster of 1 worker x 1 thread, over
 *                     shm and over the net provider; beside it the round
 *                     trip of a small tagged message between two processes.
 *   task throughput   locus_map of N locus.noop tasks, then locus_wait,
 *                     on a fresh cluster and then again on the same one;
 *                     beside it the raw rate of small tagged messages
 *                     (windows of XPORT_WINDOW, one ack per window).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "bench/bench.h"

/* ---- locus: measurements ------------------------------------------------ */

void bench_task_latency(locus_client *c, long iters, struct lat *out)
{
    memset(out, 0, sizeof(*out));
    uint64_t *t = malloc(sizeof(*t) * (size_t)iters);
    if (!t) {
        snprintf(out->err, sizeof(out->err), "no memory");
        return;
    }
    for (long i = -bench_warmup_of(iters); i < iters; i++) {
        locus_future *f = NULL;
        const void *d;
        size_t len;
        if (bench_stop) {
            snprintf(out->err, sizeof(out->err), "interrupted");
            goto out;
        }
        uint64_t t0 = lc_now_ns();
        int rc = locus_submit(c, "locus.noop", NULL, 0, NULL, &f);
        if (!rc)
            rc = locus_result(f, TASK_TIMEOUT_MS, &d, &len);
        uint64_t t1 = lc_now_ns();
        if (rc) {
            snprintf(out->err, sizeof(out->err), "round trip %ld: %s", i,
                     locus_last_error());
            locus_release(f);
            goto out;
        }
        locus_release(f);
        if (i >= 0)
            t[i] = t1 - t0;
    }
    bench_percentiles(t, iters, &out->med, &out->p99);
    out->ok = 1;
out:
    free(t);
}

static long count_finished(locus_future **fs, long n)
{
    long done = 0;
    for (long i = 0; i < n; i++)
        done += locus_future_status(fs[i]) != LOCUS_EAGAIN;
    return done;
}

/* Wait for fs[0..n-1] in slices of a second at most (so ^C is seen), all
 * within deadline; give up early when no task at all finished for
 * STALL_MS.  Returns 0 or LOCUS_ETIMEDOUT / LOCUS_ECANCELED. */
#define STALL_MS 30000
static int wait_all(locus_future **fs, long n, uint64_t deadline)
{
    const long slice = 4096;
    uint64_t start = lc_now_ns(), last_note = start, last_move = start;
    long seen = 0;
    for (long i = 0; i < n;) {
        if (bench_stop)
            return lc_seterr(LOCUS_ECANCELED, "bench", "interrupted");
        int left = lc_remaining_ms(deadline);
        if (left <= 0)
            return lc_seterr(LOCUS_ETIMEDOUT, "bench", "deadline passed");
        int rc = locus_wait(fs + i, (size_t)(n - i < slice ? n - i : slice),
                            left < 1000 ? left : 1000);
        if (rc == 0) {
            i += slice;
            last_move = lc_now_ns();
            if (bench_tty && last_move - last_note > 500000000ull) {
                /* progress on a terminal only: piped output stays clean */
                fprintf(stderr, "\r    %ld of %ld tasks done", i < n ? i : n,
                        n);
                last_note = last_move;
            }
            continue;
        }
        if (rc != LOCUS_ETIMEDOUT)
            return rc;
        uint64_t now = lc_now_ns();
        long done = count_finished(fs, n);
        if (done != seen) {
            seen = done;
            last_move = now;
        }
        if (now - last_note > 5000000000ull) { /* slow: show that it moves */
            bench_note("    %ld of %ld done after %.0f s", done, n,
                       (double)(now - start) / 1e9);
            last_note = now;
        }
        if (now - last_move > (uint64_t)STALL_MS * 1000000)
            return lc_seterr(
                LOCUS_ETIMEDOUT, "bench",
                "stalled: no task finished in %d s (first unfinished: %s)",
                STALL_MS / 1000, locus_future_key(fs[i]));
    }
    if (bench_tty)
        fprintf(stderr, "\r\033[K");
    return 0;
}

static void note_workers(locus_client *c)
{
    locus_worker_info wi[8];
    size_t nw = 0;
    if (locus_workers(c, wi, 8, &nw) != 0) {
        bench_note("    locus_workers: %s", locus_last_error());
        return;
    }
    for (size_t i = 0; i < nw && i < 8; i++)
        bench_note("    worker %d: %llu tasks done, %d running, %d queued",
                   wi[i].id, (unsigned long long)wi[i].tasks_done,
                   wi[i].running, wi[i].queued);
}

#define MAP_CHUNK 65535L
static int map_chunked; /* locus_map had to be called in slices */

/* locus_map of n locus.noop, then wait for all; nothing else is timed. */
static int map_and_wait(locus_client *c, locus_arg *in, locus_future **fs,
                        long n, struct tput *out)
{
    for (long i = 0; i < n; i++)
        in[i] = locus_arg_i64(i);
    /* generous but finite: 30 s plus 0.5 ms per task */
    uint64_t dl = lc_deadline_ms(30000 + n / 2);
    uint64_t t0 = lc_now_ns();
    int rc = locus_map(c, "locus.noop", in, (size_t)n, NULL, fs);
    if (rc == LOCUS_EINVAL && n > MAP_CHUNK) {
        /* client.c check_args() takes the n inputs of a map for the
         * arguments of one task (at most 65535): map in slices, until
         * that is fixed, and say so under the table */
        map_chunked = 1;
        long made = 0;
        rc = 0;
        while (made < n && !rc) {
            long k = n - made < MAP_CHUNK ? n - made : MAP_CHUNK;
            rc = locus_map(c, "locus.noop", in + made, (size_t)k, NULL,
                           fs + made);
            made += rc ? 0 : k;
        }
        for (long i = 0; rc && i < made; i++) /* the earlier slices' */
            locus_release(fs[i]);
    }
    uint64_t t1 = lc_now_ns();
    if (rc) {
        snprintf(out->err, sizeof(out->err), "locus_map: %s",
                 locus_last_error());
        return rc;
    }
    rc = wait_all(fs, n, dl);
    uint64_t t2 = lc_now_ns();
    if (rc == LOCUS_ETIMEDOUT) /* where are the missing tasks? */
        note_workers(c);
    long done = 0, failed = 0, first_failed = -1;
    for (long i = 0; i < n; i++) {
        int st = locus_future_status(fs[i]);
        done += st != LOCUS_EAGAIN;
        if (st != LOCUS_EAGAIN && st != 0 && failed++ == 0)
            first_failed = i;
    }
    out->n = n;
    out->done = done;
    out->map_s = (double)(t1 - t0) / 1e9;
    out->total_s = (double)(t2 - t0) / 1e9;
    out->rate = (double)done / out->total_s;
    if (rc)
        snprintf(out->err, sizeof(out->err),
                 "%ld of %ld tasks finished in %.1f s (%.0f/s): %s", done, n,
                 out->total_s, out->rate, locus_last_error());
    else if (failed)
        snprintf(out->err, sizeof(out->err),
                 "%ld of %ld tasks failed, first %s: %s (%s)", failed, n,
                 locus_future_key(fs[first_failed]),
                 locus_errname(locus_future_status(fs[first_failed])),
                 locus_future_error(fs[first_failed]));
    uint64_t t3 = lc_now_ns();
    for (long i = 0; i < n; i++)
        locus_release(fs[i]);
    out->release_s = (double)(lc_now_ns() - t3) / 1e9;
    return rc ? rc : failed ? LOCUS_ETASK : 0;
}

void bench_task_throughput(locus_client *c, long n, struct tput *out)
{
    memset(out, 0, sizeof(*out));
    long warm = n / 100 < 1000 ? (n < 1000 ? n : 1000) : n / 100;
    locus_arg *in = malloc(sizeof(*in) * (size_t)n);
    locus_future **fs = malloc(sizeof(*fs) * (size_t)n);
    if (!in || !fs) {
        snprintf(out->err, sizeof(out->err), "no memory for %ld tasks", n);
        goto out;
    }
    struct tput w;
    memset(&w, 0, sizeof(w));
    if (map_and_wait(c, in, fs, warm, &w)) {
        snprintf(out->err, sizeof(out->err), "warm-up: %.490s", w.err);
        goto out;
    }
    if (map_and_wait(c, in, fs, n, out) != 0)
        goto out;
    /* again: the first map of a fresh cluster also pays for its first
       touch of memory (page faults and zeroing, in every process) */
    struct tput again;
    memset(&again, 0, sizeof(again));
    if (map_and_wait(c, in, fs, n, &again)) {
        snprintf(out->err, sizeof(out->err), "again: %.500s", again.err);
        goto out;
    }
    out->again_total_s = again.total_s;
    out->again_rate = again.rate;
    out->ok = 1;
out:
    free(in);
    free(fs);
}
static void fail_cluster(const struct path *p, int rc)
{
    fprintf(stderr,
            "locus-bench: cannot start the local cluster (%d worker%s x 1 "
            "thread, %s, net provider %s): %s (%s)\n",
            p->nworkers, p->nworkers == 1 ? "" : "s",
            p->no_shm ? "no shm" : "shm between local peers",
            bench_cfg.provider, locus_last_error(), locus_errname(rc));
    if (rc == LOCUS_ENOENT)
        fprintf(stderr, "locus-bench: build them (cmake --build BUILD "
                        "--target locus-scheduler locus-worker) or set "
                        "LOCUS_BINDIR\n");
    else
        fprintf(stderr, "locus-bench: LOCUS_KEEP_LOGS=1 keeps the cluster's "
                        "logs\n");
    char why[600];
    snprintf(why, sizeof(why), "cannot start the local cluster: %.500s",
             locus_last_error());
    bench_cleanup();
    exit(bench_finish(1, why));
}

int bench_path_alloc(struct path *p)
{
    size_t n = (size_t)bench_cfg.runs;
    p->raws = calloc(n, sizeof(*p->raws));
    p->lats = calloc(n, sizeof(*p->lats));
    p->tputs = calloc(n, sizeof(*p->tputs));
    return p->raws && p->lats && p->tputs ? 0 : -1;
}

void bench_path_free(struct path *p)
{
    free(p->raws);
    free(p->lats);
    free(p->tputs);
    p->raws = NULL;
    p->lats = NULL;
    p->tputs = NULL;
}

/* " (run R of N)" when there are several runs, else "" */
static const char *run_of(int run)
{
    static char buf[48];
    if (bench_cfg.runs <= 1)
        return "";
    snprintf(buf, sizeof(buf), " (run %d of %d)", run + 1, bench_cfg.runs);
    return buf;
}

/* Run what is selected on one cluster configuration. */
void bench_run_path(struct path *p, int run, int do_lat, int do_tput)
{
    struct clus k;
    bench_note("cluster: %d worker%s x 1 thread, %s%s", p->nworkers,
               p->nworkers == 1 ? "" : "s", p->no_shm ? "no shm" : "shm",
               run_of(run));
    int rc = bench_clus_start(p->nworkers, 1, p->no_shm, &k);
    if (rc)
        fail_cluster(p, rc);
    snprintf(p->desc, sizeof(p->desc), "%s", k.desc);
    if (do_lat && !bench_stop) {
        bench_note("  task round trip, %ld iterations", bench_cfg.iters);
        bench_task_latency(k.c, bench_cfg.iters, &p->lats[run]);
        p->ran_lat = 1;
        p->nlat = run + 1;
    }
    if (do_tput && !bench_stop) {
        bench_note("  task throughput, %ld tasks", bench_cfg.tasks);
        bench_task_throughput(k.c, bench_cfg.tasks, &p->tputs[run]);
        p->ran_tput = 1;
        p->ntput = run + 1;
    }
    bench_clus_stop(&k);
}

void bench_run_raw(struct path *p, int run, long msgs)
{
    bench_note("raw xport on %s: %ld round trips, %ld messages%s", p->raw_prov,
               bench_cfg.iters, msgs, run_of(run));
    bench_raw_run(&bench_peer, p->raw_prov, bench_cfg.iters, msgs,
                  &p->raws[run]);
    p->nraw = run + 1;
}

/* err: why run i of n failed, naming the run when there are several */
static void run_failed(char *err, size_t len, int i, int n, const char *why)
{
    if (n > 1)
        snprintf(err, len, "run %d of %d: %.480s", i + 1, n, why);
    else
        snprintf(err, len, "%s", why);
}

void bench_path_medians(struct path *p)
{
    double a[BENCH_MAX_RUNS], b[BENCH_MAX_RUNS], c[BENCH_MAX_RUNS],
        d[BENCH_MAX_RUNS], e[BENCH_MAX_RUNS], f[BENCH_MAX_RUNS];
    memset(&p->raw, 0, sizeof(p->raw));
    memset(&p->lat, 0, sizeof(p->lat));
    memset(&p->tput, 0, sizeof(p->tput));
    p->raw.ok = p->nraw > 0;
    for (int i = 0; i < p->nraw && p->raw.ok; i++) {
        const struct raw *r = &p->raws[i];
        if (!r->ok) {
            p->raw.ok = 0;
            run_failed(p->raw.err, sizeof(p->raw.err), i, p->nraw, r->err);
        }
        a[i] = r->med, b[i] = r->p99, c[i] = r->rate;
    }
    if (p->raw.ok) {
        p->raw.med = bench_median(a, p->nraw);
        p->raw.p99 = bench_median(b, p->nraw);
        p->raw.rate = bench_median(c, p->nraw);
        p->raw.iters = p->raws[0].iters;
        snprintf(p->raw.fabric, sizeof(p->raw.fabric), "%s", p->raws[0].fabric);
        snprintf(p->raw.domain, sizeof(p->raw.domain), "%s", p->raws[0].domain);
    }
    p->lat.ok = p->nlat > 0;
    for (int i = 0; i < p->nlat && p->lat.ok; i++) {
        const struct lat *l = &p->lats[i];
        if (!l->ok) {
            p->lat.ok = 0;
            run_failed(p->lat.err, sizeof(p->lat.err), i, p->nlat, l->err);
        }
        a[i] = l->med, b[i] = l->p99;
    }
    if (p->lat.ok) {
        p->lat.med = bench_median(a, p->nlat);
        p->lat.p99 = bench_median(b, p->nlat);
    }
    p->tput.ok = p->ntput > 0;
    for (int i = 0; i < p->ntput && p->tput.ok; i++) {
        const struct tput *t = &p->tputs[i];
        if (!t->ok) {
            p->tput.ok = 0;
            run_failed(p->tput.err, sizeof(p->tput.err), i, p->ntput, t->err);
        }
        a[i] = t->rate, b[i] = t->map_s, c[i] = t->total_s, d[i] = t->release_s;
        e[i] = t->again_rate, f[i] = t->again_total_s;
    }
    if (p->tput.ok) {
        p->tput.rate = bench_median(a, p->ntput);
        p->tput.map_s = bench_median(b, p->ntput);
        p->tput.total_s = bench_median(c, p->ntput);
        p->tput.release_s = bench_median(d, p->ntput);
        p->tput.again_rate = bench_median(e, p->ntput);
        p->tput.again_total_s = bench_median(f, p->ntput);
        p->tput.n = p->tputs[0].n;
        p->tput.done = p->tputs[0].done;
    }
}

static void fmt_f(char *buf, size_t len, int ok, double v, const char *fmt)
{
    if (ok)
        snprintf(buf, len, fmt, v);
    else
        snprintf(buf, len, "n/a");
}

/* A path's common fields in the --json document; its per-run array. */
static json_object *json_path(json_object *paths, const struct path *p,
                              const char *err1, const char *err2)
{
    json_object *j = bench_jobj(paths, NULL);
    bench_jstr(j, "path", p->no_shm ? "net" : "shm");
    bench_jstr(j, "provider", p->label);
    bench_jint(j, "workers", p->nworkers);
    bench_jint(j, "threads_per_worker", 1);
    bench_jstr(j, "cluster", p->desc);
    bench_jbool(j, "ok", !err1 && !err2);
    json_object *e = bench_jarr(j, "errors");
    if (err1)
        bench_jstr(e, NULL, err1);
    if (err2)
        bench_jstr(e, NULL, err2);
    return j;
}

int bench_print_latency(FILE *o, struct path *ps, int np)
{
    int bad = 0;
    fprintf(o,
            "\n# task round trip (locus.noop, 1 worker x 1 thread), %ld "
            "iterations after %ld of warm-up%s\n",
            bench_cfg.iters, bench_warmup_of(bench_cfg.iters),
            bench_runs_note());
    fprintf(o,
            "# locus: locus_submit + locus_result, one at a time; raw xport: "
            "%d B tagged send/recv ping-pong between two processes, "
            "spin-polling; full round trips in us; ratio = locus/raw medians\n",
            RAW_MSG_BYTES);
    fprintf(o, "%-14s %12s %9s %17s %9s %8s\n", "path", "locus median", "p99",
            "raw xport median", "p99", "ratio");
    json_object *js = bench_section("latency");
    bench_jint(js, "iterations", bench_cfg.iters);
    bench_jint(js, "warmup_iterations", bench_warmup_of(bench_cfg.iters));
    bench_jint(js, "runs", bench_cfg.runs);
    bench_jint(js, "raw_msg_bytes", RAW_MSG_BYTES);
    bench_jstr(js, "figure", "full round trip; figures are medians over runs");
    json_object *jps = bench_jarr(js, "paths");
    for (int i = 0; i < np; i++) {
        struct path *p = &ps[i];
        if (!p->ran_lat)
            continue;
        char a[32], b[32], c[32], d[32], r[32];
        int rok = p->lat.ok && p->raw.ok && p->raw.med > 0;
        double ratio = p->lat.med / (p->raw.med > 0 ? p->raw.med : 1);
        fmt_f(a, sizeof(a), p->lat.ok, p->lat.med, "%.1f");
        fmt_f(b, sizeof(b), p->lat.ok, p->lat.p99, "%.1f");
        fmt_f(c, sizeof(c), p->raw.ok, p->raw.med, "%.2f");
        fmt_f(d, sizeof(d), p->raw.ok, p->raw.p99, "%.2f");
        fmt_f(r, sizeof(r), rok, ratio, "%.1f");
        fprintf(o, "%-14s %12s %9s %17s %9s %8s\n", p->label, a, b, c, d, r);

        json_object *j = json_path(jps, p, p->lat.ok ? NULL : p->lat.err,
                                   p->raw.ok ? NULL : p->raw.err);
        bench_jnum(j, "locus_median_us", p->lat.ok, p->lat.med);
        bench_jnum(j, "locus_p99_us", p->lat.ok, p->lat.p99);
        bench_jnum(j, "raw_median_us", p->raw.ok, p->raw.med);
        bench_jnum(j, "raw_p99_us", p->raw.ok, p->raw.p99);
        bench_jnum(j, "ratio_locus_to_raw", rok, ratio);
        bench_jstr(j, "raw_fabric", p->raw.ok ? p->raw.fabric : NULL);
        bench_jstr(j, "raw_domain", p->raw.ok ? p->raw.domain : NULL);
        json_object *jr = bench_jarr(j, "runs");
        for (int k = 0; k < p->nlat; k++) {
            const struct lat *l = &p->lats[k];
            const struct raw *w = &p->raws[k];
            json_object *x = bench_jobj(jr, NULL);
            bench_jnum(x, "locus_median_us", l->ok, l->med);
            bench_jnum(x, "locus_p99_us", l->ok, l->p99);
            bench_jnum(x, "raw_median_us", k < p->nraw && w->ok, w->med);
            bench_jnum(x, "raw_p99_us", k < p->nraw && w->ok, w->p99);
            bench_jnum(x, "ratio_locus_to_raw",
                       l->ok && k < p->nraw && w->ok && w->med > 0,
                       l->med / (w->med > 0 ? w->med : 1));
        }
    }
    for (int i = 0; i < np; i++) {
        struct path *p = &ps[i];
        if (p->ran_lat && !p->lat.ok)
            fprintf(o, "# %s: locus: %s\n", p->label, p->lat.err), bad = 1;
        if (p->ran_lat && !p->raw.ok)
            fprintf(o, "# %s: raw xport: %s\n", p->label, p->raw.err), bad = 1;
        if (p->ran_lat && p->raw.ok)
            fprintf(o, "# %s: raw fabric %s, domain %s; cluster %s\n", p->label,
                    p->raw.fabric, p->raw.domain, p->desc);
    }
    return bad;
}

int bench_print_throughput(FILE *o, struct path *ps, int np)
{
    int bad = 0;
    fprintf(o,
            "\n# task throughput (locus_map of %ld x locus.noop, then "
            "locus_wait; 1 thread per worker)%s\n",
            bench_cfg.tasks, bench_runs_note());
    fprintf(
        o,
        "# tasks/s: the first map of a fresh cluster (after a warm-up of 1%%); "
        "map s: time in locus_map; total s: map to last result; release s: "
        "locus_release of all (not in total); again/s: the same map right "
        "after on the same cluster, its memory warm; raw xport: %d B tagged "
        "messages, %d in flight per ack; ratio = locus tasks/s (first map) / "
        "raw msgs/s\n",
        RAW_MSG_BYTES, XPORT_WINDOW);
    fprintf(o, "%-14s %7s %10s %7s %8s %9s %10s %14s %7s\n", "path", "workers",
            "tasks/s", "map s", "total s", "release s", "again/s",
            "raw xport msg/s", "ratio");
    json_object *js = bench_section("throughput");
    bench_jint(js, "tasks", bench_cfg.tasks);
    bench_jint(js, "runs", bench_cfg.runs);
    bench_jint(js, "raw_msg_bytes", RAW_MSG_BYTES);
    bench_jint(js, "raw_msgs_in_flight", XPORT_WINDOW);
    bench_jstr(js, "figure", "medians over runs; release_s is not in total_s");
    json_object *jps = bench_jarr(js, "paths");
    for (int i = 0; i < np; i++) {
        struct path *p = &ps[i];
        if (!p->ran_tput)
            continue;
        const struct path *rp = p;
        /* 2-worker paths reuse the raw figure of their 1-worker path */
        for (int j = 0; j < np && !rp->raw.ok; j++)
            if (!strcmp(ps[j].raw_prov, p->raw_prov) && ps[j].raw.ok)
                rp = &ps[j];
        const struct raw *raw = &rp->raw;
        char a[32], b[32], c[32], d[32], e[32], r[32], g[32];
        int ok = p->tput.ok;
        int rok = ok && raw->ok && raw->rate > 0;
        double ratio = p->tput.rate / (raw->rate > 0 ? raw->rate : 1);
        fmt_f(a, sizeof(a), ok, p->tput.rate, "%.0f");
        fmt_f(b, sizeof(b), ok, p->tput.map_s, "%.2f");
        fmt_f(c, sizeof(c), ok, p->tput.total_s, "%.2f");
        fmt_f(d, sizeof(d), ok, p->tput.release_s, "%.2f");
        fmt_f(e, sizeof(e), raw->ok, raw->rate, "%.0f");
        fmt_f(r, sizeof(r), rok, ratio, "%.3f");
        fmt_f(g, sizeof(g), ok, p->tput.again_rate, "%.0f");
        fprintf(o, "%-14s %7d %10s %7s %8s %9s %10s %14s %7s\n", p->label,
                p->nworkers, a, b, c, d, g, e, r);

        json_object *j = json_path(jps, p, ok ? NULL : p->tput.err,
                                   raw->ok ? NULL : raw->err);
        bench_jnum(j, "tasks_per_s", ok, p->tput.rate);
        bench_jnum(j, "map_s", ok, p->tput.map_s);
        bench_jnum(j, "total_s", ok, p->tput.total_s);
        bench_jnum(j, "release_s", ok, p->tput.release_s);
        bench_jnum(j, "again_tasks_per_s", ok, p->tput.again_rate);
        bench_jnum(j, "again_total_s", ok, p->tput.again_total_s);
        bench_jnum(j, "raw_msgs_per_s", raw->ok, raw->rate);
        bench_jnum(j, "ratio_locus_to_raw", rok, ratio);
        bench_jint(j, "raw_from_workers", rp->nworkers);
        json_object *jr = bench_jarr(j, "runs");
        for (int k = 0; k < p->ntput; k++) {
            const struct tput *t = &p->tputs[k];
            const struct raw *w = &rp->raws[k];
            int wok = k < rp->nraw && w->ok;
            json_object *x = bench_jobj(jr, NULL);
            bench_jnum(x, "tasks_per_s", t->ok, t->rate);
            bench_jnum(x, "map_s", t->ok, t->map_s);
            bench_jnum(x, "total_s", t->ok, t->total_s);
            bench_jnum(x, "release_s", t->ok, t->release_s);
            bench_jnum(x, "again_tasks_per_s", t->ok, t->again_rate);
            bench_jnum(x, "again_total_s", t->ok, t->again_total_s);
            bench_jint(x, "tasks_done", t->done);
            bench_jnum(x, "raw_msgs_per_s", wok, w->rate);
            bench_jnum(x, "ratio_locus_to_raw", t->ok && wok && w->rate > 0,
                       t->rate / (w->rate > 0 ? w->rate : 1));
        }
    }
    bench_jbool(js, "map_called_in_slices", map_chunked);
    if (map_chunked)
        fprintf(
            o,
            "# bench_note: locus_map refused more than 65535 inputs (client.c "
            "check_args counts map inputs as arguments of one task); it "
            "was called in slices of %ld, all timed\n",
            MAP_CHUNK);
    for (int i = 0; i < np; i++) {
        struct path *p = &ps[i];
        if (p->ran_tput && !p->tput.ok)
            fprintf(o, "# %s, %d worker%s: %s\n", p->label, p->nworkers,
                    p->nworkers == 1 ? "" : "s", p->tput.err),
                bad = 1;
    }
    return bad;
}

/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * locus-bench: task figures.
 *
 *   task round trip   locus_submit + locus_result of locus.noop, one at a
 *                     time, on a local cluster of 1 worker x 1 thread, over
 *                     shm and over the net provider; beside it the round
 *                     trip of a small tagged message between two processes.
 *   task throughput   locus_map of N locus.noop tasks, then locus_wait;
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
    if (map_and_wait(c, in, fs, n, out) == 0)
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
    bench_cleanup();
    exit(1);
}

/* Run what is selected on one cluster configuration. */
void bench_run_path(struct path *p, int do_lat, int do_tput)
{
    struct clus k;
    bench_note("cluster: %d worker%s x 1 thread, %s", p->nworkers,
               p->nworkers == 1 ? "" : "s", p->no_shm ? "no shm" : "shm");
    int rc = bench_clus_start(p->nworkers, 1, p->no_shm, &k);
    if (rc)
        fail_cluster(p, rc);
    snprintf(p->desc, sizeof(p->desc), "%s", k.desc);
    if (do_lat && !bench_stop) {
        bench_note("  task round trip, %ld iterations", bench_cfg.iters);
        bench_task_latency(k.c, bench_cfg.iters, &p->lat);
        p->ran_lat = 1;
    }
    if (do_tput && !bench_stop) {
        bench_note("  task throughput, %ld tasks", bench_cfg.tasks);
        bench_task_throughput(k.c, bench_cfg.tasks, &p->tput);
        p->ran_tput = 1;
    }
    bench_clus_stop(&k);
}

void bench_run_raw(struct path *p, long msgs)
{
    bench_note("raw xport on %s: %ld round trips, %ld messages", p->raw_prov,
               bench_cfg.iters, msgs);
    bench_raw_run(&bench_peer, p->raw_prov, bench_cfg.iters, msgs, &p->raw);
}

static void fmt_f(char *buf, size_t len, int ok, double v, const char *fmt)
{
    if (ok)
        snprintf(buf, len, fmt, v);
    else
        snprintf(buf, len, "n/a");
}

int bench_print_latency(FILE *o, struct path *ps, int np)
{
    int bad = 0;
    fprintf(o,
            "\n# task round trip (locus.noop, 1 worker x 1 thread), %ld "
            "iterations after %ld of warm-up\n",
            bench_cfg.iters, bench_warmup_of(bench_cfg.iters));
    fprintf(o,
            "# locus: locus_submit + locus_result, one at a time; raw xport: "
            "%d B tagged send/recv ping-pong between two processes, "
            "spin-polling; full round trips in us; ratio = locus/raw medians\n",
            RAW_MSG_BYTES);
    fprintf(o, "%-14s %12s %9s %17s %9s %8s\n", "path", "locus median", "p99",
            "raw xport median", "p99", "ratio");
    for (int i = 0; i < np; i++) {
        struct path *p = &ps[i];
        if (!p->ran_lat)
            continue;
        char a[32], b[32], c[32], d[32], r[32];
        fmt_f(a, sizeof(a), p->lat.ok, p->lat.med, "%.1f");
        fmt_f(b, sizeof(b), p->lat.ok, p->lat.p99, "%.1f");
        fmt_f(c, sizeof(c), p->raw.ok, p->raw.med, "%.2f");
        fmt_f(d, sizeof(d), p->raw.ok, p->raw.p99, "%.2f");
        fmt_f(r, sizeof(r), p->lat.ok && p->raw.ok && p->raw.med > 0,
              p->lat.med / (p->raw.med > 0 ? p->raw.med : 1), "%.1f");
        fprintf(o, "%-14s %12s %9s %17s %9s %8s\n", p->label, a, b, c, d, r);
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
            "locus_wait; 1 thread per worker)\n",
            bench_cfg.tasks);
    fprintf(
        o,
        "# map s: time in locus_map; total s: map to last result; release s: "
        "locus_release of all (not in total); raw xport: %d B tagged messages, "
        "%d in flight per ack; ratio = locus tasks/s / raw msgs/s\n",
        RAW_MSG_BYTES, XPORT_WINDOW);
    fprintf(o, "%-14s %7s %10s %7s %8s %9s %14s %7s\n", "path", "workers",
            "tasks/s", "map s", "total s", "release s", "raw xport msg/s",
            "ratio");
    for (int i = 0; i < np; i++) {
        struct path *p = &ps[i];
        if (!p->ran_tput)
            continue;
        const struct raw *raw = &p->raw;
        /* 2-worker paths reuse the raw figure of their 1-worker path */
        for (int j = 0; j < np && !raw->ok; j++)
            if (!strcmp(ps[j].raw_prov, p->raw_prov) && ps[j].raw.ok)
                raw = &ps[j].raw;
        char a[32], b[32], c[32], d[32], e[32], r[32];
        int ok = p->tput.ok;
        fmt_f(a, sizeof(a), ok, p->tput.rate, "%.0f");
        fmt_f(b, sizeof(b), ok, p->tput.map_s, "%.2f");
        fmt_f(c, sizeof(c), ok, p->tput.total_s, "%.2f");
        fmt_f(d, sizeof(d), ok, p->tput.release_s, "%.2f");
        fmt_f(e, sizeof(e), raw->ok, raw->rate, "%.0f");
        fmt_f(r, sizeof(r), ok && raw->ok && raw->rate > 0,
              p->tput.rate / (raw->rate > 0 ? raw->rate : 1), "%.3f");
        fprintf(o, "%-14s %7d %10s %7s %8s %9s %14s %7s\n", p->label,
                p->nworkers, a, b, c, d, e, r);
    }
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

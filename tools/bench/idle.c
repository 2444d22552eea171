/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * locus-bench: the CPU an idle cluster uses.  A local cluster as the
 * latency section starts them (scheduler, 2 workers x 1 thread, shm
 * between local peers) and this process connected as its client do
 * nothing for --idle-seconds; the CPU time (user + system) of each process
 * over that time, from /proc/PID/stat (getrusage for this one), is given
 * as a share of one core.  Heartbeats and progress threads are all that
 * should run: the target is under 1% per process.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/base.h"
#include "bench/bench.h"
#include "client/cluster_int.h"

#define IDLE_TARGET_PCT 1.0
#define IDLE_SETTLE_MS 1000 /* after start-up, before the idle time */
#define MAX_PROCS 16

struct proc {
    char role[64];
    int pid; /* 0: this process */
    double cpu0, cpu1;
};

static double cpu_of(const struct proc *p)
{
    return p->pid ? bench_cpu_of_pid(p->pid) : bench_cpu_of_self();
}

/* The processes of the cluster k and this one; their number. */
static int list_procs(struct clus *k, struct proc *ps)
{
    int sched, workers[8], n = 0;
    int nw = cluster_pids(k->lc, &sched, workers, 8);
    snprintf(ps[n].role, sizeof(ps[n].role), "scheduler");
    ps[n++].pid = sched;
    for (int i = 0; i < nw && i < 8; i++) {
        int kids[4];
        int nk = bench_children_of(workers[i], kids, 4);
        /* locus-worker is the nanny; the worker is the process it forks */
        snprintf(ps[n].role, sizeof(ps[n].role), "%s %d",
                 nk ? "nanny of worker" : "worker", i + 1);
        ps[n++].pid = workers[i];
        for (int j = 0; j < nk && n < MAX_PROCS - 1; j++) {
            snprintf(ps[n].role, sizeof(ps[n].role), "worker %d%s", i + 1,
                     nk > 1 ? " (one of several)" : "");
            ps[n++].pid = kids[j];
        }
    }
    snprintf(ps[n].role, sizeof(ps[n].role), "client (locus-bench)");
    ps[n++].pid = 0;
    return n;
}

int bench_idle(FILE *out)
{
    struct clus k;
    struct proc ps[MAX_PROCS];
    json_object *js = bench_section("idle");
    bench_jint(js, "idle_seconds", bench_cfg.idle_s);
    bench_jnum(js, "target_percent_of_core", 1, IDLE_TARGET_PCT);
    bench_note("cluster: 2 workers x 1 thread, shm; idle for %ld s",
               bench_cfg.idle_s);
    int rc = bench_clus_start(2, 1, 0, &k);
    if (rc) {
        fprintf(out, "\n# idle cluster: cannot start the local cluster: %s\n",
                locus_last_error());
        bench_jbool(js, "ok", 0);
        bench_jstr(js, "error", locus_last_error());
        bench_clus_stop(&k);
        return 1;
    }
    struct timespec settle = {IDLE_SETTLE_MS / 1000,
                              (IDLE_SETTLE_MS % 1000) * 1000000L};
    nanosleep(&settle, NULL);
    int n = list_procs(&k, ps);
    for (int i = 0; i < n; i++)
        ps[i].cpu0 = cpu_of(&ps[i]);
    uint64_t t0 = lc_now_ns(), end = lc_deadline_ms(bench_cfg.idle_s * 1000);
    while (!lc_expired(end) && !bench_stop) {
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    for (int i = 0; i < n; i++)
        ps[i].cpu1 = cpu_of(&ps[i]);
    double secs = (double)(lc_now_ns() - t0) / 1e9;

    fprintf(out,
            "\n# idle cluster: CPU used in %.1f s of nothing, %% of one core "
            "(user + system time; /proc/PID/stat, getrusage for the "
            "client); target < %.0f%% per process\n",
            secs, IDLE_TARGET_PCT);
    fprintf(out, "%-24s %8s %10s %9s %10s\n", "process", "pid", "cpu s",
            "% core", "< 1%");
    bench_jnum(js, "measured_seconds", 1, secs);
    bench_jstr(js, "cluster", k.desc);
    json_object *jp = bench_jarr(js, "processes");
    int bad = 0, missed = 0;
    for (int i = 0; i < n; i++) {
        struct proc *p = &ps[i];
        int ok = p->cpu0 >= 0 && p->cpu1 >= p->cpu0;
        double cpu = p->cpu1 - p->cpu0, pct = 100.0 * cpu / secs;
        int met = ok && pct < IDLE_TARGET_PCT;
        char a[32], b[32];
        snprintf(a, sizeof(a), ok ? "%.3f" : "n/a", cpu);
        snprintf(b, sizeof(b), ok ? "%.2f" : "n/a", pct);
        fprintf(out, "%-24s %8d %10s %9s %10s\n", p->role,
                p->pid ? p->pid : (int)getpid(), a, b,
                !ok   ? "n/a"
                : met ? "met"
                      : "MISSED");
        json_object *j = bench_jobj(jp, NULL);
        bench_jstr(j, "process", p->role);
        bench_jint(j, "pid", p->pid ? p->pid : (int)getpid());
        bench_jnum(j, "cpu_s", ok, cpu);
        bench_jnum(j, "cpu_percent_of_core", ok, pct);
        bench_jbool(j, "target_met", met);
        if (!ok) {
            fprintf(out,
                    "# %s (pid %d): its CPU time could not be read "
                    "(gone?)\n",
                    p->role, p->pid);
            bad = 1;
        }
        missed += ok && !met;
    }
    long tick = sysconf(_SC_CLK_TCK);
    fprintf(out,
            "# resolution: one clock tick (%.0f ms) is %.3f%% of a core over "
            "this time; %s\n",
            1000.0 / (double)tick, 100.0 / (double)tick / secs,
            bad      ? "some processes could not be read"
            : missed ? "the target was MISSED by some processes"
                     : "every process met the target");
    if (bench_stop)
        fprintf(out, "# interrupted before the end of the idle time\n");
    bench_jbool(js, "all_met", !bad && !missed);
    bench_jbool(js, "ok", !bad && !bench_stop);
    bench_clus_stop(&k);
    return bad;
}

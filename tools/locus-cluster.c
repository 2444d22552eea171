/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * locus-cluster: start, stop and inspect a scheduler plus workers on this
 * host, like ipyparallel's "ipcluster start -n 4".
 *
 *   locus-cluster start [-n N] ...   (prints the scheduler file's path)
 *   locus-cluster status [--scheduler-file F] [--watch]
 *   locus-cluster wait --scheduler-file F [-n N]   (for batch scripts)
 *   locus-cluster stop
 *
 * State lives in a directory (--dir, $LOCUS_CLUSTER_DIR, or
 * ~/.locus/cluster): scheduler.json, cluster.pids, and the logs.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/base.h"
#include "client/cluster_int.h"
#include "locus.h"
#include "opts.h"
#include "proto/schedfile.h"

#define PROG "locus-cluster"
#define MAX_WORKERS 1024

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
}

static void usage(FILE *f)
{
    fprintf(
        f, "usage: locus-cluster start [-n N] [options]\n"
           "       locus-cluster status [--dir DIR | --scheduler-file F] "
           "[--watch]\n"
           "       locus-cluster wait --scheduler-file F [-n N] "
           "[--timeout-ms T]\n"
           "       locus-cluster stop [--dir DIR | --scheduler-file F]\n"
           "\n"
           "start: a scheduler and N workers on this host (default: one\n"
           "worker per NUMA node, bound to it).  status: the scheduler and\n"
           "its workers, of this host's cluster or of any scheduler file\n"
           "(--watch: refresh every second until Ctrl-C).  wait: until the\n"
           "scheduler file exists and N workers have joined (batch jobs).\n"
           "stop: the cluster that start started, or the scheduler of a file\n"
           "(its workers stop with it).\n"
           "\n"
           "  -n, --workers N     number of workers\n"
           "  -t, --nthreads N    task threads per worker (default: cores of\n"
           "                      its NUMA node)\n"
           "  -d, --dir DIR       state directory (default $LOCUS_CLUSTER_DIR\n"
           "                      or ~/.locus/cluster)\n"
           "  --provider NAME     net provider (default tcp;ofi_rxm)\n"
           "  --topology T        hwloc synthetic topology or XML (tests)\n"
           "  --no-shm            no shm between local peers\n"
           "  --interface NAME    daemons listen on NAME's IPv4 address\n"
           "                      (default $LOCUS_INTERFACE, else loopback)\n"
           "  --timeout-ms N      start-up (wait: waiting) deadline (30000)\n"
           "  -f, --scheduler-file F  status, wait, stop: that scheduler\n"
           "  -w, --watch         status: refresh every second\n"
           "  -h, --help\n"
           "\n"
           "Clients connect with the scheduler file it prints:\n"
           "  export LOCUS_SCHEDULER_FILE=$(locus-cluster start -n 4)\n");
}

static int default_dir(char *buf, size_t len)
{
    const char *d = getenv("LOCUS_CLUSTER_DIR");
    if (d && *d) {
        snprintf(buf, len, "%s", d);
        return 0;
    }
    const char *home = getenv("HOME");
    if (!home || !*home)
        home = "/tmp";
    snprintf(buf, len, "%s/.locus", home);
    mkdir(buf, 0700);
    snprintf(buf, len, "%s/.locus/cluster", home);
    return 0;
}

static int read_pids(const char *dir, int *sched, int *workers, int *n)
{
    char path[1200];
    snprintf(path, sizeof(path), "%s/cluster.pids", dir);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    *n = 0;
    if (fscanf(f, "scheduler %d\n", sched) != 1) {
        fclose(f);
        return -1;
    }
    int pid;
    while (*n < MAX_WORKERS && fscanf(f, "worker %d\n", &pid) == 1)
        workers[(*n)++] = pid;
    fclose(f);
    return 0;
}

static int alive(int pid)
{
    return pid > 0 && kill(pid, 0) == 0;
}

static int cmd_start(int argc, char **argv)
{
    struct locus_cluster_opts o = LOCUS_CLUSTER_OPTS_INIT;
    char dir[1024] = "";
    static const struct option longopts[] = {
        {"workers", required_argument, 0, 'n'},
        {"nthreads", required_argument, 0, 't'},
        {"dir", required_argument, 0, 'd'},
        {"provider", required_argument, 0, 'P'},
        {"topology", required_argument, 0, 'T'},
        {"no-shm", no_argument, 0, 'S'},
        {"timeout-ms", required_argument, 0, 'o'},
        {"interface", required_argument, 0, 'I'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "n:t:d:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'n':
            if (opt_int(PROG, "-n", optarg, 0, MAX_WORKERS, &o.nworkers))
                return 2;
            break;
        case 't':
            if (opt_int(PROG, "--nthreads", optarg, 0, 4096, &o.nthreads))
                return 2;
            break;
        case 'I':
            /* the daemons read it (locus_cluster_opts has no address) */
            if (setenv("LOCUS_INTERFACE", optarg, 1) != 0) {
                perror(PROG ": setenv");
                return 1;
            }
            break;
        case 'd':
            snprintf(dir, sizeof(dir), "%s", optarg);
            break;
        case 'P':
            o.provider = optarg;
            break;
        case 'T':
            o.topology = optarg;
            break;
        case 'S':
            o.flags |= LOCUS_CLUSTER_NO_SHM;
            break;
        case 'o':
            if (opt_int(PROG, "--timeout-ms", optarg, 1, 86400000,
                        &o.timeout_ms))
                return 2;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc) {
        fprintf(stderr, PROG ": unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    if (!dir[0])
        default_dir(dir, sizeof(dir));
    int sp, wp[MAX_WORKERS], nw;
    if (read_pids(dir, &sp, wp, &nw) == 0 && alive(sp)) {
        fprintf(stderr,
                "locus-cluster: a cluster is already running from "
                "%s (scheduler pid %d); stop it first\n",
                dir, sp);
        return 1;
    }
    o.dir = dir;
    locus_cluster *lc;
    int rc = cluster_start(&o, &lc);
    if (rc) {
        fprintf(stderr, "locus-cluster: %s\n", locus_last_error());
        return 1;
    }
    char path[1200];
    snprintf(path, sizeof(path), "%s/cluster.pids", dir);
    FILE *f = fopen(path, "w");
    int sched, workers[MAX_WORKERS];
    int n = cluster_pids(lc, &sched, workers, MAX_WORKERS);
    if (f) {
        fprintf(f, "scheduler %d\n", sched);
        for (int i = 0; i < n; i++)
            fprintf(f, "worker %d\n", workers[i]);
        fclose(f);
    }
    fprintf(stderr,
            "locus-cluster: scheduler (pid %d) and %d workers "
            "started; logs in %s\n",
            sched, n, dir);
    schedfile sf;
    if (schedfile_read(locus_cluster_scheduler_file(lc), &sf) == 0 &&
        sf.dashboard[0])
        fprintf(stderr, "locus-cluster: dashboard %s\n", sf.dashboard);
    printf("%s\n", locus_cluster_scheduler_file(lc));
    cluster_forget(lc);
    return 0;
}

struct where {
    char dir[1024];
    char file[1200];
    int watch;
    int nworkers;
    int timeout_ms;
};

/* Options of status, wait and stop; returns 1 for --help, 2 on error. */
enum { W_STATUS, W_WAIT, W_STOP };
static int where_args(int argc, char **argv, struct where *w, int cmd)
{
    static const struct option longopts[] = {
        {"dir", required_argument, 0, 'd'},
        {"scheduler-file", required_argument, 0, 'f'},
        {"watch", no_argument, 0, 'w'},
        {"workers", required_argument, 0, 'n'},
        {"timeout-ms", required_argument, 0, 'o'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    int c;
    memset(w, 0, sizeof(*w));
    w->timeout_ms = 30000;
    while ((c = getopt_long(argc, argv,
                            cmd == W_WAIT     ? "d:f:n:h"
                            : cmd == W_STATUS ? "d:f:wh"
                                              : "d:f:h",
                            longopts, NULL)) != -1) {
        switch (c) {
        case 'd':
            snprintf(w->dir, sizeof(w->dir), "%s", optarg);
            break;
        case 'f':
            snprintf(w->file, sizeof(w->file), "%s", optarg);
            break;
        case 'w':
            w->watch = 1;
            break;
        case 'n':
            if (opt_int(PROG, "-n", optarg, 0, MAX_WORKERS, &w->nworkers))
                return 2;
            break;
        case 'o':
            if (opt_int(PROG, "--timeout-ms", optarg, 1, 86400000,
                        &w->timeout_ms))
                return 2;
            break;
        case 'h':
            usage(stdout);
            return 1;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc) {
        fprintf(stderr, PROG ": unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    if (w->dir[0] && w->file[0]) {
        fprintf(stderr, PROG ": --dir and --scheduler-file both given; give "
                             "one\n");
        return 2;
    }
    if (cmd != W_STOP && !w->file[0] && !w->dir[0] &&
        getenv("LOCUS_SCHEDULER_FILE") && *getenv("LOCUS_SCHEDULER_FILE") &&
        !getenv("LOCUS_CLUSTER_DIR"))
        snprintf(w->file, sizeof(w->file), "%s",
                 getenv("LOCUS_SCHEDULER_FILE"));
    if (!w->file[0]) {
        if (!w->dir[0])
            default_dir(w->dir, sizeof(w->dir));
        snprintf(w->file, sizeof(w->file), "%s/scheduler.json", w->dir);
    }
    return 0;
}

/* Read and check the scheduler file (job, staleness), then connect. */
static int open_cluster(const struct where *w, schedfile *sf, locus_client **c)
{
    char job[sizeof(sf->job)];
    schedfile_job_from_env(job, sizeof(job));
    if (schedfile_read(w->file, sf) != 0 ||
        schedfile_check(sf, w->file, job) != 0) {
        fprintf(stderr, PROG ": %s\n", locus_last_error());
        return 1;
    }
    struct locus_connect_opts co = LOCUS_CONNECT_OPTS_INIT;
    co.timeout_ms = 5000;
    if (locus_connect(w->file, &co, c) != 0) {
        fprintf(stderr,
                PROG ": scheduler of %s (%s, pid %d on %s) does not "
                     "answer: %s\n",
                w->file, sf->net_hostport[0] ? sf->net_hostport : sf->net_addr,
                sf->pid, sf->host, locus_last_error());
        return 1;
    }
    return 0;
}

static void human(uint64_t b, char *out, size_t len)
{
    const char *u[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)b;
    int i = 0;
    while (v >= 1024 && i < 4) {
        v /= 1024;
        i++;
    }
    snprintf(out, len, i ? "%.1f %s" : "%.0f %s", v, u[i]);
}

static void print_status(const struct where *w, const schedfile *sf,
                         const locus_worker_info *wi, size_t n, int tty)
{
    int running = 0, queued = 0, threads = 0;
    uint64_t done = 0, held = 0;
    char hb[32];
    if (tty)
        printf("\033[H\033[J"); /* home, clear */
    printf("scheduler %s (job %s, pid %d on %s)\nscheduler file %s\n"
           "%zu workers\n",
           sf->net_hostport[0] ? sf->net_hostport : sf->net_addr,
           sf->job[0] ? sf->job : sf->job_id, sf->pid, sf->host, w->file, n);
    printf("%4s %8s %-16s %4s %-10s %7s %7s %6s %10s %12s\n", "id", "pid",
           "host", "numa", "cpuset", "threads", "running", "queued", "done",
           "bytes held");
    for (size_t i = 0; i < n && i < MAX_WORKERS; i++) {
        printf("%4d %8d %-16s %4d %-10s %7d %7d %6d %10llu %12llu\n", wi[i].id,
               wi[i].pid, wi[i].host, wi[i].numa_node, wi[i].cpuset,
               wi[i].nthreads, wi[i].running, wi[i].queued,
               (unsigned long long)wi[i].tasks_done,
               (unsigned long long)wi[i].bytes_held);
        running += wi[i].running;
        queued += wi[i].queued;
        threads += wi[i].nthreads;
        done += wi[i].tasks_done;
        held += wi[i].bytes_held;
    }
    if (w->watch) {
        human(held, hb, sizeof(hb));
        printf("%stasks: %d running on %d threads, %d queued, %llu done; "
               "%s held%s\n",
               tty ? "\033[1m" : "", running, threads, queued,
               (unsigned long long)done, hb,
               tty ? "\033[0m   (Ctrl-C quits)" : "");
    }
    fflush(stdout);
}

static int cmd_status(int argc, char **argv)
{
    struct where w;
    schedfile sf;
    locus_client *c;
    int r = where_args(argc, argv, &w, W_STATUS);
    if (r)
        return r == 1 ? 0 : r;
    if (open_cluster(&w, &sf, &c))
        return 1;
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    int tty = w.watch && isatty(STDOUT_FILENO);
    static locus_worker_info wi[MAX_WORKERS];
    int rc = 0;
    do {
        size_t n = 0;
        if (locus_workers(c, wi, MAX_WORKERS, &n) != 0) {
            if (!interrupted) {
                fprintf(stderr, PROG ": %s\n", locus_last_error());
                rc = 1;
            }
            break;
        }
        print_status(&w, &sf, wi, n, tty);
        for (int i = 0; w.watch && i < 100 && !interrupted; i++) {
            struct timespec ts = {0, 10 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
    } while (w.watch && !interrupted);
    locus_disconnect(c);
    return rc;
}

static int cmd_wait(int argc, char **argv)
{
    struct where w;
    schedfile sf;
    locus_client *c;
    int r = where_args(argc, argv, &w, W_WAIT);
    if (r)
        return r == 1 ? 0 : r;
    uint64_t dl = lc_deadline_ms(w.timeout_ms);
    struct timespec ts = {0, 50 * 1000 * 1000};
    while (!schedfile_is_pmix(w.file) && access(w.file, F_OK) != 0) {
        if (lc_expired(dl)) {
            fprintf(stderr,
                    PROG ": no scheduler file %s after %d ms: did "
                         "the scheduler start (see its log)? wait longer with "
                         "--timeout-ms\n",
                    w.file, w.timeout_ms);
            return 1;
        }
        nanosleep(&ts, NULL);
    }
    if (open_cluster(&w, &sf, &c))
        return 1;
    size_t n = 0;
    int rc = 0;
    for (;;) {
        if (locus_workers(c, NULL, 0, &n) != 0) {
            fprintf(stderr, PROG ": %s\n", locus_last_error());
            rc = 1;
            break;
        }
        if (n >= (size_t)w.nworkers)
            break;
        if (lc_expired(dl)) {
            fprintf(stderr,
                    PROG
                    ": %zu of %d workers joined the scheduler "
                    "at %s in %d ms; see the workers' output, or wait longer "
                    "with --timeout-ms\n",
                    n, w.nworkers, sf.net_hostport, w.timeout_ms);
            rc = 1;
            break;
        }
        nanosleep(&ts, NULL);
    }
    if (!rc)
        fprintf(stderr, PROG ": scheduler %s (job %s) has %zu workers\n",
                sf.net_hostport[0] ? sf.net_hostport : sf.net_addr, sf.job, n);
    locus_disconnect(c);
    return rc;
}

static void stop_pid(int pid)
{
    if (!alive(pid))
        return;
    kill(pid, SIGTERM);
    for (int i = 0; i < 500 && alive(pid); i++) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    if (alive(pid))
        kill(pid, SIGKILL);
    for (int i = 0; i < 100 && alive(pid); i++) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    if (!alive(pid))
        cluster_reap_shm(pid);
}

/* A scheduler started by hand or by a launcher: SIGTERM it (it tells its
 * workers to stop, and they exit), then wait until it has gone. */
static int stop_by_file(const char *file)
{
    schedfile sf;
    if (schedfile_read(file, &sf) != 0) {
        fprintf(stderr, PROG ": %s\n", locus_last_error());
        return 1;
    }
    if (strcmp(sf.host, lc_hostname()) != 0) {
        fprintf(stderr,
                PROG
                ": the scheduler of %s runs on %s (pid %d), "
                "not on this host (%s): run this command there, or end its "
                "job step\n",
                file, sf.host, sf.pid, lc_hostname());
        return 1;
    }
    if (!alive(sf.pid)) {
        fprintf(stderr,
                PROG ": scheduler file %s is stale: its scheduler "
                     "(pid %d) is gone; removed it\n",
                file, sf.pid);
        schedfile_remove(file);
        cluster_reap_shm(sf.pid);
        return 0;
    }
    stop_pid(sf.pid);
    if (alive(sf.pid)) {
        fprintf(stderr,
                PROG ": scheduler pid %d does not stop (see its log)"
                     "\n",
                sf.pid);
        return 1;
    }
    schedfile_remove(file); /* gone already unless it was killed */
    fprintf(stderr,
            PROG ": stopped scheduler %s (pid %d, job %s); its "
                 "workers stop with it\n",
            sf.net_hostport, sf.pid, sf.job);
    return 0;
}

static int cmd_stop(int argc, char **argv)
{
    char path[1200];
    struct where w;
    int r = where_args(argc, argv, &w, W_STOP);
    if (r)
        return r == 1 ? 0 : r;
    if (!w.dir[0])
        return stop_by_file(w.file);
    const char *dir = w.dir;
    int sched, workers[MAX_WORKERS], n;
    if (read_pids(dir, &sched, workers, &n) != 0) {
        fprintf(stderr,
                PROG ": no cluster started by 'locus-cluster start' "
                     "in %s (for a scheduler started otherwise: stop "
                     "--scheduler-file FILE)\n",
                dir);
        return 1;
    }
    stop_pid(sched);
    for (int i = 0; i < n; i++)
        stop_pid(workers[i]);
    snprintf(path, sizeof(path), "%s/cluster.pids", dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/scheduler.json", dir);
    unlink(path);
    fprintf(stderr, PROG ": stopped scheduler %d and %d workers\n", sched, n);
    return 0;
}

int main(int argc, char **argv)
{
    lc_log_set_prog("locus-cluster");
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(cmd, "start"))
        return cmd_start(argc - 1, argv + 1);
    if (!strcmp(cmd, "status"))
        return cmd_status(argc - 1, argv + 1);
    if (!strcmp(cmd, "wait"))
        return cmd_wait(argc - 1, argv + 1);
    if (!strcmp(cmd, "stop"))
        return cmd_stop(argc - 1, argv + 1);
    fprintf(stderr, "locus-cluster: unknown command '%s'\n", cmd);
    usage(stderr);
    return 2;
}

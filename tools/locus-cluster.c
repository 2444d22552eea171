/*
 * locus-cluster: start, stop and inspect a scheduler plus workers on this
 * host, like ipyparallel's "ipcluster start -n 4".
 *
 *   locus-cluster start [-n N] ...   (prints the scheduler file's path)
 *   locus-cluster status
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
#include "proto/schedfile.h"

#define MAX_WORKERS 1024

static void usage(FILE *f)
{
    fprintf(f,
            "usage: locus-cluster start [-n N] [options]\n"
            "       locus-cluster status [--dir DIR]\n"
            "       locus-cluster stop [--dir DIR]\n"
            "\n"
            "Starts a scheduler and N workers on this host (default: one\n"
            "worker per NUMA node, bound to it), lists them, or stops them.\n"
            "\n"
            "  -n, --workers N     number of workers\n"
            "  -t, --nthreads N    task threads per worker (default: cores of\n"
            "                      its NUMA node)\n"
            "  -d, --dir DIR       state directory (default $LOCUS_CLUSTER_DIR\n"
            "                      or ~/.locus/cluster)\n"
            "  --provider NAME     net provider (default tcp;ofi_rxm)\n"
            "  --topology T        hwloc synthetic topology or XML (tests)\n"
            "  --no-shm            no shm between local peers\n"
            "  --timeout-ms N      start-up deadline (30000)\n"
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
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "n:t:d:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'n': o.nworkers = atoi(optarg); break;
        case 't': o.nthreads = atoi(optarg); break;
        case 'd': snprintf(dir, sizeof(dir), "%s", optarg); break;
        case 'P': o.provider = optarg; break;
        case 'T': o.topology = optarg; break;
        case 'S': o.flags |= LOCUS_CLUSTER_NO_SHM; break;
        case 'o': o.timeout_ms = atoi(optarg); break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (o.nworkers < 0 || o.nworkers > MAX_WORKERS || o.nthreads < 0) {
        fprintf(stderr, "locus-cluster: -n must be 0..%d\n", MAX_WORKERS);
        return 2;
    }
    if (!dir[0])
        default_dir(dir, sizeof(dir));
    int sp, wp[MAX_WORKERS], nw;
    if (read_pids(dir, &sp, wp, &nw) == 0 && alive(sp)) {
        fprintf(stderr, "locus-cluster: a cluster is already running from "
                "%s (scheduler pid %d); stop it first\n", dir, sp);
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
    fprintf(stderr, "locus-cluster: scheduler (pid %d) and %d workers "
            "started; logs in %s\n", sched, n, dir);
    schedfile sf;
    if (schedfile_read(locus_cluster_scheduler_file(lc), &sf) == 0 &&
        sf.dashboard[0])
        fprintf(stderr, "locus-cluster: dashboard %s\n", sf.dashboard);
    printf("%s\n", locus_cluster_scheduler_file(lc));
    cluster_forget(lc);
    return 0;
}

static int dir_arg(int argc, char **argv, char *dir, size_t len)
{
    static const struct option longopts[] = {
        {"dir", required_argument, 0, 'd'}, {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    int c;
    dir[0] = '\0';
    while ((c = getopt_long(argc, argv, "d:h", longopts, NULL)) != -1) {
        if (c == 'd')
            snprintf(dir, len, "%s", optarg);
        else if (c == 'h') {
            usage(stdout);
            return 1;
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (!dir[0])
        default_dir(dir, len);
    return 0;
}

static int cmd_status(int argc, char **argv)
{
    char dir[1024], file[1200];
    int r = dir_arg(argc, argv, dir, sizeof(dir));
    if (r)
        return r == 1 ? 0 : r;
    snprintf(file, sizeof(file), "%s/scheduler.json", dir);
    locus_client *c;
    struct locus_connect_opts co = LOCUS_CONNECT_OPTS_INIT;
    co.timeout_ms = 5000;
    int rc = locus_connect(file, &co, &c);
    if (rc) {
        fprintf(stderr, "locus-cluster: no cluster running from %s: %s\n",
                dir, locus_last_error());
        return 1;
    }
    locus_worker_info wi[MAX_WORKERS];
    size_t n = 0;
    rc = locus_workers(c, wi, MAX_WORKERS, &n);
    if (rc) {
        fprintf(stderr, "locus-cluster: %s\n", locus_last_error());
        locus_disconnect(c);
        return 1;
    }
    printf("scheduler file %s\n%zu workers\n", file, n);
    printf("%4s %8s %-16s %4s %-10s %7s %7s %6s %10s %12s\n", "id", "pid",
           "host", "numa", "cpuset", "threads", "running", "queued", "done",
           "bytes held");
    for (size_t i = 0; i < n && i < MAX_WORKERS; i++)
        printf("%4d %8d %-16s %4d %-10s %7d %7d %6d %10llu %12llu\n", wi[i].id,
               wi[i].pid, wi[i].host, wi[i].numa_node, wi[i].cpuset,
               wi[i].nthreads, wi[i].running, wi[i].queued,
               (unsigned long long)wi[i].tasks_done,
               (unsigned long long)wi[i].bytes_held);
    locus_disconnect(c);
    return 0;
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

static int cmd_stop(int argc, char **argv)
{
    char dir[1024], path[1200];
    int r = dir_arg(argc, argv, dir, sizeof(dir));
    if (r)
        return r == 1 ? 0 : r;
    int sched, workers[MAX_WORKERS], n;
    if (read_pids(dir, &sched, workers, &n) != 0) {
        fprintf(stderr, "locus-cluster: no cluster in %s\n", dir);
        return 1;
    }
    stop_pid(sched);
    for (int i = 0; i < n; i++)
        stop_pid(workers[i]);
    snprintf(path, sizeof(path), "%s/cluster.pids", dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/scheduler.json", dir);
    unlink(path);
    fprintf(stderr, "locus-cluster: stopped scheduler %d and %d workers\n",
            sched, n);
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
    if (!strcmp(cmd, "stop"))
        return cmd_stop(argc - 1, argv + 1);
    fprintf(stderr, "locus-cluster: unknown command '%s'\n", cmd);
    usage(stderr);
    return 2;
}
